import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { eventually, SseClient } from '../support/sse-client';

/** Roles (contract section 13): two clients' traffic, read through every endpoint with each role's key. */

const KEY_A = `sk-vdm-team-a-${randomBytes(12).toString('hex')}`;
const KEY_B = `sk-vdm-team-b-${randomBytes(12).toString('hex')}`;
const KEY_OPS = `sk-vdm-ops-${randomBytes(12).toString('hex')}`;
const KEY_SCRAPE = `sk-vdm-scrape-${randomBytes(12).toString('hex')}`;
const PROXY_KEY = `sk-vdm-proxy-${randomBytes(12).toString('hex')}`;

const dir = mkdtempSync(join(tmpdir(), 'vdm-roles-'));
const KEYS_FILE = join(dir, 'clients.yaml');
writeFileSync(
  KEYS_FILE,
  `clients:\n  - name: team-a\n    key: ${KEY_A}\n  - name: team-b\n    key: ${KEY_B}\n  - name: ops\n    key: ${KEY_OPS}\n    role: admin\n`,
);

/** Everything only client B's traffic carries: none of it may reach client A. */
const B_MARKERS = ['team-b', 'user-bravo', 'session-bravo', 'req-bravo', 'gpt-4o'];

let fake: FakeUpstream;
let gw: RunningApp;
let release: () => void = () => {};
let inFlight: Promise<unknown>[] = [];

const anthropic = (apiKey: string, headers: Record<string, string> = {}): Anthropic =>
  new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0, defaultHeaders: headers });
const openai = (apiKey: string, headers: Record<string, string> = {}): OpenAI =>
  new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: headers });

const ask = { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] };
const chat = { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }] };

const get = (key: string, path: string): Promise<Response> => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
const text = async (key: string, path: string): Promise<string> => {
  const res = await get(key, path);
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return res.text();
};
const storedRows = async (): Promise<number> => ((await (await get(PROXY_KEY, '/metrics/requests?limit=1000')).json()) as { requests: unknown[] }).requests.length;

beforeAll(async () => {
  fake = await FakeUpstream.start();
  gw = await startApp({
    ANTHROPIC_API_KEY: 'sk-ant-provider-000111',
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-openai-provider-000222',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_DEFAULT_PROVIDER: 'anthropic',
    VDM_CLIENT_KEYS_FILE: KEYS_FILE,
    PROXY_API_KEY: PROXY_KEY,
    VDM_SCRAPE_KEY: KEY_SCRAPE,
    VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
    VDM_STORE_FLUSH_MS: '10',
  });
  fake.script({ usage: { input: 11, output: 5 } });
  // Finished traffic of both clients; both name a user `shared-user`, which is two users, one per client.
  await anthropic(KEY_A, { 'x-vdm-user': 'user-alpha', 'x-vdm-session': 'session-alpha', 'x-request-id': 'req-alpha-1' }).messages.create(ask);
  await anthropic(KEY_A, { 'x-vdm-user': 'shared-user', 'x-request-id': 'req-alpha-2' }).messages.create(ask);
  await openai(KEY_B, { 'x-vdm-user': 'user-bravo', 'x-vdm-session': 'session-bravo', 'x-request-id': 'req-bravo-1' }).chat.completions.create(chat);
  await openai(KEY_B, { 'x-vdm-user': 'shared-user', 'x-request-id': 'req-bravo-2' }).chat.completions.create(chat);
  // An error of B's: in the errors buffer and the stored rows.
  fake.enqueue({ status: 500, errorMessage: 'upstream broke for bravo' });
  await expect(openai(KEY_B, { 'x-vdm-user': 'user-bravo', 'x-request-id': 'req-bravo-3' }).chat.completions.create(chat)).rejects.toMatchObject({ status: 500 });
  await eventually(async () => (await storedRows()) === 5);
  // One request of each client in flight.
  const held = new Promise<void>((resolve) => (release = resolve));
  fake.script({ usage: { input: 11, output: 5 }, holdUntil: held });
  inFlight = [
    anthropic(KEY_A, { 'x-vdm-user': 'user-alpha', 'x-request-id': 'req-alpha-held' }).messages.create(ask),
    openai(KEY_B, { 'x-vdm-user': 'user-bravo', 'x-vdm-session': 'session-bravo', 'x-request-id': 'req-bravo-held' }).chat.completions.create(chat),
  ];
  await eventually(() => gw.tracker.activeSnapshot().length === 2);
}, 30_000);

afterAll(async () => {
  release();
  await Promise.allSettled(inFlight);
  await gw?.close();
  await fake?.close();
});

describe('a client key reads its own client only', () => {
  it('finds nothing of another client on any endpoint, and its own data on each', async () => {
    const stream = await SseClient.connect(`${gw.url}/metrics/active-requests/stream`, { authorization: `Bearer ${KEY_A}` });
    const firstUpdate = (await stream.next('update')).data;
    stream.close();
    const outputs: Record<string, string> = {
      'running-totals': await text(KEY_A, '/metrics/running-totals'),
      'running-totals json': await text(KEY_A, '/metrics/running-totals?format=json'),
      logs: await text(KEY_A, '/metrics/logs'),
      'active-requests': await text(KEY_A, '/metrics/active-requests'),
      'active-requests stream': firstUpdate,
      usage: await text(KEY_A, '/metrics/usage?group_by=client,user,session,model'),
      'usage csv by user': await text(KEY_A, '/metrics/usage?group_by=user&format=csv'),
      requests: await text(KEY_A, '/metrics/requests'),
    };
    const leaks = Object.entries(outputs).flatMap(([endpoint, body]) => B_MARKERS.filter((m) => body.includes(m)).map((m) => `${endpoint}: ${m}`));
    expect(leaks).toEqual([]);
    // Not empty: each shows client A's own traffic.
    expect(outputs['running-totals json']).toContain('"team-a"');
    expect(outputs.logs).toContain('req-alpha-1');
    expect(outputs['active-requests']).toContain('req-alpha-held');
    expect(outputs['active-requests stream']).toContain('req-alpha-held');
    expect(outputs.usage).toContain('user-alpha');
    expect(outputs.requests).toContain('req-alpha-2');
  });

  it('counts only its own requests in the running totals, in flight ones included', async () => {
    const totals = JSON.parse(await text(KEY_A, '/metrics/running-totals?format=json')) as {
      summary: { total_requests: number; active_requests: number; total_errors: number };
      clients: Record<string, unknown>;
    };
    expect(Object.keys(totals.clients)).toEqual(['team-a']);
    expect(totals.summary).toMatchObject({ total_requests: 3, active_requests: 1, total_errors: 0 });
  });

  it('answers 403 in the metrics API\'s error format when a filter names another client', async () => {
    for (const path of ['/metrics/running-totals?client=team-b', '/metrics/usage?client=team-b', '/metrics/requests?client=team-*b', '/metrics/usage?client=ops']) {
      const res = await get(KEY_A, path);
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ statusCode: 403, error: 'Forbidden', message: expect.stringContaining('another client') });
    }
    // Its own name, or a glob that matches it, is its own view.
    const own = (await (await get(KEY_A, '/metrics/usage?client=team-*&group_by=client')).json()) as { rows: { client: string }[] };
    expect(own.rows.map((r) => r.client)).toEqual(['team-a']);
  });

  it('gets 404 on a path no route matches, as an admin key does', async () => {
    for (const key of [KEY_A, KEY_SCRAPE, PROXY_KEY]) expect((await get(key, '/v1/no-such-route')).status).toBe(404);
  });

  it('reads the prices, and gets 403 from the Prometheus scrape', async () => {
    expect((await get(KEY_A, '/metrics/prices')).status).toBe(200);
    const res = await get(KEY_A, '/metrics');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
  });
});

describe('the active-requests stream of a client key', () => {
  it('carries its own in-flight requests as they change, and none of another client\'s', async () => {
    const stream = await SseClient.connect(`${gw.url}/metrics/active-requests/stream`, { authorization: `Bearer ${KEY_A}` });
    await stream.next('update');
    // B's request starts and ends, then A's starts: A's stream sees A's.
    fake.enqueue({ usage: { input: 1, output: 1 } });
    await openai(KEY_B, { 'x-vdm-user': 'user-bravo', 'x-request-id': 'req-bravo-sse' }).chat.completions.create(chat);
    let releaseOwn: () => void = () => {};
    fake.enqueue({ usage: { input: 1, output: 1 }, holdUntil: new Promise<void>((resolve) => (releaseOwn = resolve)) });
    const own = anthropic(KEY_A, { 'x-request-id': 'req-alpha-sse' }).messages.create(ask);
    await stream.next('update', (e) => e.data.includes('req-alpha-sse'));
    releaseOwn();
    await own;
    await stream.next('update', (e) => !e.data.includes('req-alpha-sse'));
    stream.close();
    expect(stream.updates.length).toBeGreaterThanOrEqual(3);
    expect(stream.updates.flatMap((u) => B_MARKERS.filter((m) => u.includes(m)))).toEqual([]);
  });
});

describe('users and sessions belong to their client', () => {
  it('groups by client whenever it groups by user or session, for an admin too', async () => {
    const doc = (await (await get(PROXY_KEY, '/metrics/usage?group_by=user')).json()) as { group_by: string[]; rows: { client: string; user: string | null; requests: number }[] };
    expect(doc.group_by).toEqual(['client', 'user']);
    const shared = doc.rows.filter((r) => r.user === 'shared-user').map((r) => [r.client, r.requests]).sort();
    expect(shared).toEqual([['team-a', 1], ['team-b', 1]]);
    const sessions = (await (await get(PROXY_KEY, '/metrics/usage?group_by=session')).json()) as { group_by: string[] };
    expect(sessions.group_by).toEqual(['client', 'session']);
  });

  it('a client filtering by another client\'s user or session finds nothing', async () => {
    for (const path of ['/metrics/usage?user=user-bravo', '/metrics/usage?session=session-bravo', '/metrics/requests?user=user-bravo', '/metrics/requests?session=session-bravo']) {
      const body = await text(KEY_A, path);
      expect(B_MARKERS.filter((m) => body.includes(m)), path).toEqual([]);
    }
    const shared = (await (await get(KEY_A, '/metrics/requests?user=shared-user')).json()) as { requests: { client: string }[] };
    expect(shared.requests.map((r) => r.client)).toEqual(['team-a']);
  });
});

describe('an admin key reads everything', () => {
  it.each([['PROXY_API_KEY', PROXY_KEY], ['a keys-file entry with role: admin', KEY_OPS]])('%s sees both clients', async (_, key) => {
    const totals = JSON.parse(await text(key, '/metrics/running-totals?format=json')) as { clients: Record<string, unknown>; summary: { active_requests: number } };
    expect(Object.keys(totals.clients).sort()).toEqual(['team-a', 'team-b']);
    expect(totals.summary.active_requests).toBe(2);
    expect(await text(key, '/metrics/logs')).toContain('req-bravo-3');
    expect(await text(key, '/metrics/requests')).toContain('req-bravo-1');
    expect(await text(key, '/metrics/active-requests')).toContain('req-bravo-held');
    expect(await text(key, '/metrics')).toMatch(/^vdm_requests_total\{[^}]*client="team-b"/m);
    expect(await text(key, '/metrics/running-totals?client=team-b')).toContain('team-b');
  });
});

describe('a scrape key', () => {
  it('reads /metrics and the json_exporter feed, and nothing else', async () => {
    expect(await text(KEY_SCRAPE, '/metrics')).toMatch(/^vdm_requests_total\{/m);
    expect(await text(KEY_SCRAPE, '/metrics/running-totals?format=json')).toContain('"team-b"');
    for (const path of ['/metrics/running-totals', '/metrics/logs', '/metrics/active-requests', '/metrics/usage', '/metrics/requests', '/metrics/prices', '/v1/models']) {
      expect((await get(KEY_SCRAPE, path)).status, path).toBe(403);
    }
  });

  it('cannot call /v1: 403 in each API\'s format, before the upstream is called, counted as refused', async () => {
    const before = fake.requests.length;
    await expect(anthropic(KEY_SCRAPE).messages.create(ask)).rejects.toMatchObject({ status: 403, error: { type: 'error', error: { type: 'permission_error' } } });
    await expect(openai(KEY_SCRAPE).chat.completions.create(chat)).rejects.toMatchObject({ status: 403, type: 'permission_error' });
    expect(fake.requests.length).toBe(before);
    expect(await text(PROXY_KEY, '/metrics')).toMatch(/^vdm_rejected_requests_total\{reason="forbidden"\} [1-9]/m);
  });
});

describe('open mode (no gateway key)', () => {
  it('lets anyone read everything, as before', async () => {
    const open = await startApp({ ANTHROPIC_API_KEY: 'sk-ant-provider-000111', ANTHROPIC_BASE_URL: fake.url, VDM_DEFAULT_PROVIDER: 'anthropic' });
    try {
      fake.enqueue({ usage: { input: 1, output: 1 } }, { usage: { input: 1, output: 1 } });
      for (const key of ['open-key-one', 'open-key-two']) {
        await new Anthropic({ apiKey: key, baseURL: open.url, maxRetries: 0 }).messages.create(ask);
      }
      const read = (path: string): Promise<Response> => fetch(`${open.url}${path}`, { headers: { 'x-api-key': 'open-key-one' } });
      const totals = (await (await read('/metrics/running-totals?format=json')).json()) as { clients: Record<string, unknown> };
      expect(Object.keys(totals.clients)).toHaveLength(2);
      expect((await read('/metrics')).status).toBe(200);
      expect(((await (await read('/metrics/logs')).json()) as { traces: unknown[] }).traces).toHaveLength(2);
      expect((await fetch(`${open.url}/metrics/active-requests`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
