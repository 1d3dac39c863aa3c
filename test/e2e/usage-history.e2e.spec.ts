import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { parse as parseCsv } from 'csv-parse/sync';
import { load as parseYaml } from 'js-yaml';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';
import { checkHistory, seedHistory } from '../support/usage-history-check';
import { makeRecord } from '../support/factories';
import { rowOf } from '../../src/store/rows';

let dir: string;
let gw: RunningApp;
let store: UsageStore;
const TRAFFIC_ROUNDS = 3;

const get = async (path: string): Promise<{ status: number; body: any; text: string; type: string | null }> => {
  const res = await fetch(`${gw.url}${path}`);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, type: res.headers.get('content-type') };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-history-'));
  gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20', VDM_INSTANCE_ID: 'gw-h' });
  store = gw.app.get(UsageStore);
  const anthropic = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
  const openai = new OpenAI({ apiKey: 'x', baseURL: `${gw.url}/v1`, maxRetries: 0 });
  for (let i = 0; i < TRAFFIC_ROUNDS; i++) {
    await anthropic.messages.create({ model: 'sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    await anthropic.messages.stream({ model: 'opus', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    await openai.chat.completions.create({ model: 'demo:gpt-demo', messages: [{ role: 'user', content: 'x' }] });
    await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
  }
  await store.flush();
});
afterAll(async () => {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

const SUMS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'tool_uses', 'tool_calls', 'total_duration_ms', 'unpriced_requests'] as const;

describe('GET /metrics/usage', () => {
  it('totals equal the running totals, and rows sum to the totals for every group_by', async () => {
    const live = (await get('/metrics/running-totals?format=json&include_active=false')).body.summary;
    const groupings = ['', 'hour', 'day', 'provider', 'model', 'client', 'user', 'session', 'api', 'instance', 'day,model', 'provider,model,hour'];
    for (const groupBy of groupings) {
      const { status, body } = await get(`/metrics/usage?group_by=${groupBy}`);
      expect(status, groupBy).toBe(200);
      // A user or a session is grouped with its client.
      const grouped = groupBy === '' ? [] : groupBy.split(',');
      expect(body.group_by).toEqual(grouped.length === 1 && (grouped[0] === 'user' || grouped[0] === 'session') ? ['client', grouped[0]] : grouped);
      expect(body.totals.requests, groupBy).toBe(live.total_requests);
      expect(body.totals.errors).toBe(live.total_errors);
      expect(body.totals.input_tokens).toBe(live.total_input_tokens);
      expect(body.totals.output_tokens).toBe(live.total_output_tokens);
      expect(body.totals.total_duration_ms).toBe(live.total_duration_ms);
      for (const key of SUMS) {
        expect(body.rows.reduce((n: number, r: any) => n + r[key], 0), `${groupBy} ${key}`).toBe(body.totals[key]);
      }
    }
    const byModel = (await get('/metrics/usage?group_by=provider,model')).body.rows;
    expect(byModel.find((r: any) => r.model === 'gpt-demo')).toMatchObject({ provider: 'demo', requests: TRAFFIC_ROUNDS });
    expect((await get('/metrics/usage?group_by=instance')).body.rows).toEqual([expect.objectContaining({ instance: 'gw-h', requests: 4 * TRAFFIC_ROUNDS })]);
  });

  it('filters by glob, case-insensitively', async () => {
    const { body } = await get('/metrics/usage?model=GPT-*&group_by=model');
    expect(body.rows).toEqual([expect.objectContaining({ model: 'gpt-demo', requests: TRAFFIC_ROUNDS })]);
  });

  it('answers CSV that parses into the JSON rows, and YAML', async () => {
    const json = (await get('/metrics/usage?group_by=provider,model')).body;
    const csv = await get('/metrics/usage?group_by=provider,model&format=csv');
    expect(csv.type).toMatch(/^text\/csv/);
    const records = parseCsv<Record<string, string>>(csv.text, { columns: true });
    expect(records).toHaveLength(json.rows.length);
    records.forEach((r, i) => {
      expect(r.model).toBe(json.rows[i].model ?? '');
      expect(Number(r.requests)).toBe(json.rows[i].requests);
      expect(Number(r.output_tokens)).toBe(json.rows[i].output_tokens);
    });
    const yaml = await get('/metrics/usage?group_by=model&format=yaml');
    expect((parseYaml(yaml.text) as any).totals).toEqual((await get('/metrics/usage?group_by=model')).body.totals);
  });

  it.each([
    ['group_by=nope', /group_by/, 'VDM_QUERY_GROUP_BY'],
    ['group_by=model,model', /twice/, 'VDM_QUERY_GROUP_BY_REPEATED'],
    ['from=yesterday', /from/, 'VDM_QUERY_TIME'],
    ['to=2026-13-45T00:00:00Z', /to/, 'VDM_QUERY_TIME'],
    ['from=-1h&to=-2h', /before/, 'VDM_QUERY_RANGE'],
    ['format=xml', /format/, 'VDM_QUERY_FORMAT'],
    ['colour=red', /unknown query parameter/, 'VDM_QUERY_UNKNOWN_KEY'],
    ['model=a&model=b', /once/, 'VDM_QUERY_REPEATED_KEY'],
    ['order=random', /order/, 'VDM_QUERY_ORDER'],
    ['limit=0', /limit/, 'VDM_QUERY_WHOLE_NUMBER'],
  ])('answers %s with a 400 in the metrics error format, naming its code', async (query, message, code) => {
    const { status, body } = await get(`/metrics/usage?${query}`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code });
    expect(body.message).toMatch(message);
  });
});

describe('GET /metrics/requests', () => {
  it('pages through every stored row exactly once, newest first', async () => {
    const seen: string[] = [];
    const costs: (number | null)[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body }: { status: number; body: any } = await get(`/metrics/requests?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      expect(body.requests.length).toBeLessThanOrEqual(5);
      for (const r of body.requests) {
        seen.push(r.request_id);
        costs.push(r.cost_usd);
      }
      cursor = body.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(Math.ceil((4 * TRAFFIC_ROUNDS) / 5));
    expect(seen).toHaveLength(4 * TRAFFIC_ROUNDS);
    expect(new Set(seen).size).toBe(seen.length);
    const traces = (await get('/metrics/logs')).body.traces;
    expect(seen).toEqual(traces.map((t: any) => t.request_id));
    // Each stored row shows its cost as the record does: US dollars, null when unpriced.
    expect(costs).toEqual(traces.map((t: any) => t.cost_usd));
    expect(costs.some((c) => c !== null && c > 0)).toBe(true);
  });

  it('shows durations in milliseconds to three decimals, as the traces do', async () => {
    const rows = (await get('/metrics/requests?limit=100')).body.requests;
    const traces = new Map((await get('/metrics/logs')).body.traces.map((t: any) => [t.request_id, t]));
    const threeDecimals = (ms: number | null): boolean => ms === null || Number(ms.toFixed(3)) === ms;
    for (const r of rows) {
      expect([r.duration_ms, r.ttft_ms, r.upstream_ms].every(threeDecimals), JSON.stringify(r)).toBe(true);
      expect(r.duration_ms).toBe((traces.get(r.request_id) as any).duration_ms);
      expect(r.ttft_ms).toBe((traces.get(r.request_id) as any).ttft_ms);
    }
    expect(rows.filter((r: any) => r.ttft_ms !== null && r.upstream_ms !== null).length).toBeGreaterThan(0);
  });

  it('filters by status', async () => {
    const { body } = await get('/metrics/requests?status=error');
    expect(body.requests).toHaveLength(TRAFFIC_ROUNDS);
    expect(body.requests[0]).toMatchObject({ status: 'error', error_type: 'bad_request', instance: 'gw-h' });
  });

  it.each([
    ['limit=0', 'VDM_QUERY_WHOLE_NUMBER'],
    ['limit=1001', 'VDM_QUERY_WHOLE_NUMBER'],
    ['limit=x', 'VDM_QUERY_WHOLE_NUMBER'],
    ['cursor=bm9wZQ', 'VDM_QUERY_CURSOR'],
    ['status=maybe', 'VDM_QUERY_STATUS'],
    ['model=a%00b', 'VDM_QUERY_FILTER_NUL'],
  ])('answers %s with a 400 naming %s', async (query, code) => {
    const { status, body } = await get(`/metrics/requests?${query}`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code });
  });
});

describe('retention', () => {
  it('deletes old rows in batches and keeps the rollups', async () => {
    const hour = 3600_000;
    const from = new Date(Math.floor(Date.now() / hour - 2) * hour).toISOString();
    const to = new Date(Math.ceil(Date.now() / hour + 1) * hour).toISOString();
    const before = (await get(`/metrics/usage?from=${from}&to=${to}&group_by=model`)).body;
    expect(before.source).toBe('hourly');
    expect(before.totals.requests).toBe(4 * TRAFFIC_ROUNDS);
    // 91 days from now every row is past the default 90 days.
    expect(await store.applyRetention(Date.now() / 1000 + 91 * 86_400)).toBe(4 * TRAFFIC_ROUNDS);
    expect((await get('/metrics/requests')).body.requests).toEqual([]);
    expect((await get(`/metrics/usage?from=${from}&to=${to}&group_by=model`)).body).toEqual(before);
  });
});

describe('over several whole days with partial hours at both ends', () => {
  it('answers what summing the rows gives, for every grouping the rollups hold and some they do not', async () => {
    const own = mkdtempSync(join(tmpdir(), 'vdm-history-days-'));
    const days = await startApp({ VDM_STORE: `sqlite:${join(own, 'usage.db')}`, VDM_INSTANCE_ID: 'gw-d' });
    try {
      const history = await seedHistory(days.app.get(UsageStore), 'gw-d', 1500, 7);
      await checkHistory(days.url, history, 'gw-d');
    } finally {
      await days.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('with VDM_STORE=none', () => {
  it('answers both endpoints 200 disabled', async () => {
    const off = await startApp({ VDM_STORE: 'none' });
    try {
      for (const path of ['/metrics/usage', '/metrics/requests']) {
        const res = await fetch(`${off.url}${path}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ disabled: true, message: expect.any(String), suggestion: expect.any(String) });
      }
    } finally {
      await off.close();
    }
  });
});

describe('GET /metrics/usage, paged', () => {
  let paged: RunningApp;
  let pagedStore: UsageStore;
  const getPaged = async (path: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${paged.url}${path}`);
    return { status: res.status, body: await res.json() };
  };
  afterAll(async () => {
    await paged.close();
  });
  beforeAll(async () => {
    paged = await startApp({ VDM_STORE: `sqlite:${join(dir, 'paged.db')}`, VDM_STORE_FLUSH_MS: '20', VDM_INSTANCE_ID: 'gw-p' });
    pagedStore = paged.app.get(UsageStore);
    // 25 sessions, each with its own cost, an hour ago.
    const now = Date.now() / 1000 - 3600;
    for (let i = 0; i < 25; i++) pagedStore.enqueue(makeRecord({ requestId: `page-${i}`, startTime: now + i, durationMs: 5, provider: 'demo', resolvedModel: 'm', client: 'anonymous', session: `page-s-${String(i).padStart(2, '0')}`, costNano: ((i * 7) % 25) * 1000 + 1000 }));
    await pagedStore.flush();
  });

  it('answers at most `limit` rows from `offset`, says what was cut, and pages through every row once with the same totals', async () => {
    const all = (await getPaged('/metrics/usage?from=-1d&group_by=session&limit=10000')).body;
    expect(all).toMatchObject({ total_rows: all.rows.length, offset: 0, limit: 10000, order: 'keys', truncated: false, next_offset: null });
    const seen: unknown[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const { status, body } = await getPaged(`/metrics/usage?from=-1d&group_by=session&limit=7&offset=${offset}`);
      expect(status).toBe(200);
      expect(body.rows.length).toBeLessThanOrEqual(7);
      expect(body.total_rows).toBe(all.total_rows);
      expect(body.totals).toEqual(all.totals);
      expect(body.truncated).toBe(body.rows.length < all.total_rows);
      seen.push(...body.rows);
      offset = body.next_offset;
    }
    expect(seen).toEqual(all.rows);
  });

  it('orders by cost or requests on the server, so the top N is one short answer', async () => {
    const { body } = await getPaged('/metrics/usage?from=-1d&group_by=session&session=page-*&order=cost&limit=5');
    // Session i cost ((7 i) mod 25 + 1) thousand nanodollars: 25 for i = 7, then 14, 21, 3, 10.
    expect(body.rows.map((r: { session: string }) => r.session)).toEqual(['page-s-07', 'page-s-14', 'page-s-21', 'page-s-03', 'page-s-10']);
    expect(body.rows.map((r: { cost_usd: number }) => r.cost_usd)).toEqual([25, 24, 23, 22, 21].map((k) => (k * 1000) / 1e9));
    expect(body).toMatchObject({ total_rows: 25, truncated: true, next_offset: 5, order: 'cost' });
    expect((await getPaged('/metrics/usage?from=-1d&group_by=session&order=requests&limit=1')).body.rows).toHaveLength(1);
  });

  it('refuses a limit, offset or order out of bounds with a 400', async () => {
    for (const q of ['limit=0', 'limit=10001', 'limit=x', 'offset=-1', 'order=cost_usd']) {
      const { status, body } = await getPaged(`/metrics/usage?${q}`);
      expect(status, q).toBe(400);
      expect(JSON.stringify(body), q).toMatch(/limit|offset|order/);
    }
  });

  it('reads on a connection of its own: a history query answers while a write transaction is open', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const row = rowOf(makeRecord({ requestId: 'held-write', startTime: Date.now() / 1000 }), 'gw-p', 'held-write-key');
    const writing = pagedStore.db!.transaction().execute(async (trx) => {
      await trx.insertInto('usage_requests').values(row).execute();
      opened();
      await gate;
    });
    await open;
    try {
      const { status, body } = await getPaged('/metrics/usage?from=-1d');
      expect(status).toBe(200);
      expect(body.totals.requests).toBeGreaterThan(0);
    } finally {
      release();
      await writing;
    }
  });
});

describe('users and sessions belong to their client', () => {
  it('keeps client b\'s user alice and session s1 apart from client a\'s in every grouping by user or session', async () => {
    const own = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(dir, 'scoped.db')}`, VDM_STORE_FLUSH_MS: '20', VDM_INSTANCE_ID: 'gw-s' });
    try {
      const send = async (key: string, n: number): Promise<void> => {
        const client = new Anthropic({ apiKey: key, baseURL: own.url, maxRetries: 0, defaultHeaders: { 'x-vdm-user': 'alice', 'x-vdm-session': 's1' } });
        for (let i = 0; i < n; i++) await client.messages.create({ model: 'sonnet', max_tokens: 10, messages: [{ role: 'user', content: `m${i}` }] });
      };
      await send('key-of-client-a', 2);
      await send('key-of-client-b', 3);
      await own.app.get(UsageStore).flush();
      const rowsBy = async (groupBy: string): Promise<{ group_by: string[]; rows: Record<string, unknown>[] }> => (await fetch(`${own.url}/metrics/usage?from=-1h&group_by=${groupBy}`)).json() as Promise<{ group_by: string[]; rows: Record<string, unknown>[] }>;
      for (const key of ['user', 'session'] as const) {
        const doc = await rowsBy(key);
        expect(doc.group_by).toEqual(['client', key]);
        expect(doc.rows.map((r) => [r[key], r.requests]).sort((x, y) => Number(x[1]) - Number(y[1]))).toEqual([
          [key === 'user' ? 'alice' : 's1', 2],
          [key === 'user' ? 'alice' : 's1', 3],
        ]);
        expect(new Set(doc.rows.map((r) => r.client)).size).toBe(2);
      }
      expect((await rowsBy('user,session')).rows).toHaveLength(2);
      // Asked with the client, each client's user is its own.
      const clients = (await rowsBy('client')).rows.map((r) => r.client as string);
      for (const client of clients) {
        const doc = (await (await fetch(`${own.url}/metrics/usage?from=-1h&group_by=session&client=${encodeURIComponent(client)}`)).json()) as { rows: unknown[] };
        expect(doc.rows).toHaveLength(1);
      }
    } finally {
      await own.close();
    }
  });
});
