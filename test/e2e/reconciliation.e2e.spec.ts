import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { parse as parseCsv } from 'csv-parse/sync';
import { load as parseYaml } from 'js-yaml';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Reconciler } from '../../src/reconciliation/reconciler.service';
import { UsageStore } from '../../src/store/usage-store.service';
import { FakeAdminApi, type BilledDay } from '../fakes/fake-admin-api';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { postgresBinary, startPostgres, type PostgresServer } from '../support/postgres-server';
import { parseExposition } from '../support/prom-text';

/**
 * Reconciliation with the providers' billing (contract section 16), through real sockets: known traffic through the
 * gateway with the official SDKs to a fake upstream, a fake admin API speaking each provider's documented report shapes,
 * and each status from what the fake provider bills.
 */
const DAY_S = 86_400;
const OPENAI_ADMIN = 'sk-admin-openai-0123456789abcdef';
const ANTHROPIC_ADMIN = 'sk-ant-admin01-fedcba9876543210';
const GATEWAY_KEY = 'gw-admin-key-1234567890';
const CLIENT_KEY = 'sk-vdm-client-team-1234567';
const OPENAI_MODEL = 'gpt-4o';
const ANTHROPIC_MODEL = 'claude-sonnet-4-5';
/** USD per million tokens, from the prices file: the gateway's list prices. */
const OPENAI_USAGE = { input: 100, cacheRead: 50, output: 20 };
const ANTHROPIC_USAGE = { input: 200, cacheRead: 40, cacheCreation: 60, output: 30 };
const OPENAI_ROUNDS = 3;
const ANTHROPIC_ROUNDS = 2;
// $2.5 input, $1.25 cache read, $10 output per million: 250 + 62.5 + 200 = 512.5 micro-dollars a request.
const OPENAI_NANO = 512_500;
// $3 input, $0.3 cache read, $3.75 cache write, $15 output per million: 600 + 12 + 225 + 450 = 1287 micro-dollars a request.
const ANTHROPIC_NANO = 1_287_000;

let fake: FakeUpstream;
let admin: FakeAdminApi;
let gw: RunningApp;
let dir: string;
let reconciler: Reconciler;
let today: number;
const logs: string[] = [];

const auth = { authorization: `Bearer ${GATEWAY_KEY}` };
async function get(path: string): Promise<{ status: number; body: any; text: string; type: string | null }> {
  const res = await fetch(`${gw.url}${path}`, { headers: auth });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, type: res.headers.get('content-type') };
}

/** What the fake upstream reported for the traffic, as the providers bill it; `scale` changes the tokens and cost. */
function billExactly(change: { openai?: Partial<BilledDay>; anthropic?: Partial<BilledDay> } = {}): void {
  admin.billed.openai = [
    {
      day: today,
      model: `${OPENAI_MODEL}-2024-08-06`,
      requests: OPENAI_ROUNDS,
      input: OPENAI_USAGE.input * OPENAI_ROUNDS,
      cacheRead: OPENAI_USAGE.cacheRead * OPENAI_ROUNDS,
      output: OPENAI_USAGE.output * OPENAI_ROUNDS,
      costNano: OPENAI_NANO * OPENAI_ROUNDS,
      ...change.openai,
    },
  ];
  admin.billed.anthropic = [
    {
      day: today,
      model: ANTHROPIC_MODEL,
      input: ANTHROPIC_USAGE.input * ANTHROPIC_ROUNDS,
      cacheRead: ANTHROPIC_USAGE.cacheRead * ANTHROPIC_ROUNDS,
      cacheWrite5m: ANTHROPIC_USAGE.cacheCreation * ANTHROPIC_ROUNDS,
      output: ANTHROPIC_USAGE.output * ANTHROPIC_ROUNDS,
      costNano: ANTHROPIC_NANO * ANTHROPIC_ROUNDS,
      ...change.anthropic,
    },
  ];
}

const rowOf = (body: any, provider: string): any => body.rows.find((r: any) => r.provider === provider);

const initdb = postgresBinary();

describe.each([
  { engine: 'sqlite', skip: false },
  { engine: 'postgres', skip: initdb === undefined },
])('on $engine', ({ engine, skip }) => {
  let pg: PostgresServer | undefined;
  let env: Record<string, string>;
  if (skip) return;
  beforeAll(async () => {
    fake = await FakeUpstream.start();
    admin = await FakeAdminApi.start({ openai: OPENAI_ADMIN, anthropic: ANTHROPIC_ADMIN });
    dir = mkdtempSync(join(tmpdir(), 'vdm-reconcile-'));
    if (engine === 'postgres') pg = await startPostgres(initdb!);
    const prices = join(dir, 'prices.yaml');
    writeFileSync(
      prices,
      'prices:\n' +
        '  - {provider: openai, model: "*", input: 2.5, output: 10, cache_read: 1.25, cache_write: 2.5}\n' +
        '  - {provider: anthropic, model: "*", input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n',
    );
    const clients = join(dir, 'clients.yaml');
    writeFileSync(clients, `clients:\n  - name: team\n    key: ${CLIENT_KEY}\n`);
    env = {
      VDM_CLIENT_KEYS_FILE: clients,
      LOG_LEVEL: 'info',
      PROXY_API_KEY: GATEWAY_KEY,
      VDM_STORE: pg?.url ?? `sqlite:${join(dir, 'usage.db')}`,
      VDM_STORE_FLUSH_MS: '20',
      VDM_PRICES_FILE: prices,
      // A hanging admin API fails the pull after this long.
      REQUEST_TIMEOUT_SECONDS: '1.5',
      OPENAI_API_KEY: 'sk-openai-upstream-key-5678',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      OPENAI_ADMIN_KEY: OPENAI_ADMIN,
      OPENAI_BILLING_URL: `${admin.url}/v1`,
      OPENAI_API_KEY_ID: 'key_gateway',
      ANTHROPIC_API_KEY: 'sk-ant-upstream-key-9012',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_ADMIN_KEY: ANTHROPIC_ADMIN,
      ANTHROPIC_BILLING_URL: admin.url,
    };
    gw = await startApp(env, { logDestination: { write: (line: string) => void logs.push(line) } });
    reconciler = gw.app.get(Reconciler);
    // The pull at start-up found nothing billed yet.
    await reconciler.settled();
    today = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S;

    const openai = new OpenAI({ apiKey: GATEWAY_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: GATEWAY_KEY, baseURL: gw.url, maxRetries: 0 });
    fake.script((req) => ({ usage: req.protocol === 'openai' ? OPENAI_USAGE : ANTHROPIC_USAGE }));
    for (let i = 0; i < OPENAI_ROUNDS; i++) {
      await openai.chat.completions.create({
        model: `openai:${OPENAI_MODEL}`,
        stream: i === 0,
        stream_options: i === 0 ? { include_usage: true } : undefined,
        messages: [{ role: 'user', content: 'hi' }],
      } as never);
    }
    for (let i = 0; i < ANTHROPIC_ROUNDS; i++) {
      await anthropic.messages.create({
        model: `anthropic:${ANTHROPIC_MODEL}`,
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      });
    }
    await gw.app.get(UsageStore).flush();
  });

  afterAll(async () => {
    await gw?.close();
    await admin?.close();
    await fake?.close();
    pg?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    admin.faults.length = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('the pull', () => {
    it('pages through both reports of each provider with the documented parameters and headers', async () => {
      billExactly();
      admin.requests.length = 0;
      await reconciler.pullNow();
      const paths = admin.requests.map((r) => r.path);
      // Seven days, two buckets a page: four pages of each report.
      for (const path of [
        '/v1/organization/usage/completions',
        '/v1/organization/costs',
        '/v1/organizations/usage_report/messages',
        '/v1/organizations/cost_report',
      ]) {
        expect(
          paths.filter((p) => p === path),
          path,
        ).toHaveLength(4);
      }
      const openaiUsage = admin.requests.filter((r) => r.path === '/v1/organization/usage/completions');
      expect(openaiUsage[0].query.get('bucket_width')).toBe('1d');
      expect(openaiUsage[0].query.getAll('group_by')).toEqual(['model']);
      expect(openaiUsage[0].query.getAll('api_key_ids')).toEqual(['key_gateway']);
      expect(openaiUsage[0].query.get('page')).toBeNull();
      expect(openaiUsage.slice(1).every((r) => r.query.get('page')?.startsWith('page_'))).toBe(true);
      expect(openaiUsage[0].headers.authorization).toBe(`Bearer ${OPENAI_ADMIN}`);
      const messages = admin.requests.filter((r) => r.path === '/v1/organizations/usage_report/messages');
      expect(messages[0].query.getAll('group_by[]')).toEqual(['model']);
      expect(messages[0].query.get('bucket_width')).toBe('1d');
      expect(messages[0].headers['x-api-key']).toBe(ANTHROPIC_ADMIN);
      expect(messages[0].headers['anthropic-version']).toBe('2023-06-01');
      expect(messages[0].headers.authorization).toBeUndefined();
      const costs = admin.requests.filter((r) => r.path === '/v1/organizations/cost_report');
      expect(costs[0].query.getAll('group_by[]')).toEqual(['description']);
      // Each admin key goes to its own API only: never to the other provider's, never upstream.
      expect(
        admin.requests
          .filter((r) => r.path.startsWith('/v1/organizations/'))
          .some((r) => JSON.stringify(r.headers).includes(OPENAI_ADMIN)),
      ).toBe(false);
      expect(
        admin.requests
          .filter((r) => r.path.startsWith('/v1/organization/'))
          .some((r) => JSON.stringify(r.headers).includes(ANTHROPIC_ADMIN)),
      ).toBe(false);
      expect(
        fake.requests.some(
          (r) =>
            JSON.stringify(r.headers).includes(OPENAI_ADMIN) ||
            JSON.stringify(r.headers).includes(ANTHROPIC_ADMIN),
        ),
      ).toBe(false);
      expect((await get('/health')).body.reconciliation).toMatchObject({ status: 'ok' });
    });
  });

  describe('GET /metrics/reconciliation', () => {
    it('equal reports give match, with the token kinds mapped and effective_rate 1', async () => {
      billExactly();
      await reconciler.pullNow();
      const { status, body } = await get('/metrics/reconciliation');
      expect(status).toBe(200);
      expect(body.tolerance).toBe(0.01);
      const openai = rowOf(body, 'openai');
      // OpenAI names the dated snapshot; it is paired with the model the gateway resolved.
      expect(openai).toMatchObject({
        day: new Date(today * 1000).toISOString().slice(0, 10),
        model: OPENAI_MODEL,
        provider_model: `${OPENAI_MODEL}-2024-08-06`,
        status: 'match',
        effective_rate: 1,
      });
      // OpenAI's input_tokens count the cached ones; the contract's input excludes them.
      expect(openai.provider_report).toEqual({
        requests: 3,
        input_tokens: 300,
        cache_read_tokens: 150,
        cache_write_tokens: 0,
        output_tokens: 60,
        cost_usd: 0.0015375,
      });
      expect(openai.gateway).toEqual({
        requests: 3,
        input_tokens: 300,
        cache_read_tokens: 150,
        cache_write_tokens: 0,
        output_tokens: 60,
        cost_usd: 0.0015375,
        estimated_requests: 0,
        unpriced_requests: 0,
      });
      expect(openai.delta.input_tokens).toEqual({ absolute: 0, ratio: 0 });
      const anthropic = rowOf(body, 'anthropic');
      expect(anthropic).toMatchObject({ model: ANTHROPIC_MODEL, status: 'match', effective_rate: 1 });
      // Anthropic counts no requests; its cache writes of both lifetimes are the contract's cache writes.
      expect(anthropic.provider_report).toEqual({
        requests: null,
        input_tokens: 400,
        cache_read_tokens: 80,
        cache_write_tokens: 120,
        output_tokens: 60,
        cost_usd: 0.002574,
      });
      expect(anthropic.delta.requests).toEqual({ absolute: null, ratio: null });
      expect(body.rows).toHaveLength(2);
    });

    it('+20% provider input gives unrouted_traffic', async () => {
      billExactly({ openai: { input: 360 }, anthropic: { input: 480 } });
      await reconciler.pullNow();
      const { body } = await get('/metrics/reconciliation');
      expect(rowOf(body, 'openai')).toMatchObject({
        status: 'unrouted_traffic',
        delta: { input_tokens: { absolute: 60, ratio: 0.2 } },
      });
      expect(rowOf(body, 'anthropic')).toMatchObject({
        status: 'unrouted_traffic',
        delta: { input_tokens: { absolute: 80, ratio: 0.2 } },
      });
    });

    it('fewer tokens give provider_lag while the day may still grow, then gateway_over, with one warning line', async () => {
      billExactly({ openai: { output: 40 }, anthropic: { output: 40, costNano: ANTHROPIC_NANO * 2 } });
      await reconciler.pullNow();
      expect(rowOf((await get('/metrics/reconciliation')).body, 'openai').status).toBe('provider_lag');

      // The next day, past the reporting lag: a pull then settles the day.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime((today + DAY_S + 4 * 3600) * 1000);
      logs.length = 0;
      await reconciler.pullNow();
      await reconciler.pullNow();
      const { body } = await get(`/metrics/reconciliation?from=${new Date(today * 1000).toISOString()}`);
      expect(rowOf(body, 'openai')).toMatchObject({
        status: 'gateway_over',
        delta: { output_tokens: { absolute: -20, ratio: -0.333333 } },
      });
      expect(rowOf(body, 'anthropic').status).toBe('gateway_over');
      const warnings = logs.filter((l) => l.includes('Reconciliation: openai'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('gateway_over');
    });

    it('the same tokens 30% cheaper give price_drift and effective_rate 0.7', async () => {
      billExactly({
        openai: { costNano: OPENAI_NANO * OPENAI_ROUNDS * 0.7 },
        anthropic: { costNano: ANTHROPIC_NANO * ANTHROPIC_ROUNDS * 0.7 },
      });
      await reconciler.pullNow();
      const { body } = await get('/metrics/reconciliation');
      expect(rowOf(body, 'openai')).toMatchObject({ status: 'price_drift', effective_rate: 0.7 });
      expect(rowOf(body, 'anthropic')).toMatchObject({ status: 'price_drift', effective_rate: 0.7 });
      const prom = parseExposition((await get('/metrics')).text);
      const delta = prom.find(
        (s) => s.name === 'vdm_reconciliation_delta_usd' && s.labels.provider === 'anthropic',
      );
      expect(delta?.value).toBeCloseTo(-0.3 * 0.002574, 12);
      const ratio = prom.find(
        (s) =>
          s.name === 'vdm_reconciliation_delta_tokens_ratio' &&
          s.labels.provider === 'openai' &&
          s.labels.token_type === 'input',
      );
      expect(ratio?.value).toBe(0);
    });

    it('filters by provider and model globs, answers CSV and YAML, and refuses bad queries', async () => {
      billExactly();
      await reconciler.pullNow();
      expect(
        (await get('/metrics/reconciliation?provider=anth*')).body.rows.map((r: any) => r.provider),
      ).toEqual(['anthropic']);
      expect(
        (await get('/metrics/reconciliation?model=GPT-4O-2024*')).body.rows.map((r: any) => r.model),
      ).toEqual([OPENAI_MODEL]);
      const csv = await get('/metrics/reconciliation?format=csv');
      expect(csv.type).toContain('text/csv');
      const records = parseCsv<Record<string, string>>(csv.text, { columns: true });
      expect(
        records.map((r) => [r.provider, r.status, r.provider_report_input_tokens, r.gateway_input_tokens]),
      ).toEqual([
        ['anthropic', 'match', '400', '400'],
        ['openai', 'match', '300', '300'],
      ]);
      const yaml = await get('/metrics/reconciliation?format=yaml');
      expect(yaml.type).toContain('application/yaml');
      expect((parseYaml(yaml.text) as any).rows).toEqual((await get('/metrics/reconciliation')).body.rows);
      expect((await get('/metrics/reconciliation?group_by=day')).status).toBe(400);
      expect((await get('/metrics/reconciliation?from=yesterday')).status).toBe(400);
      expect((await get('/metrics/reconciliation?format=xml')).status).toBe(400);
      expect((await get('/metrics/reconciliation?from=-400d')).status).toBe(400);
      const open = await fetch(`${gw.url}/metrics/reconciliation`);
      expect(open.status).toBe(401);
      // ROLES: a client key gets 403 once roles are served.
    });
  });

  describe('faults', () => {
    it.each([
      {
        name: '429 with retry-after',
        fault: { kind: 'status', status: 429, retryAfter: '120' } as const,
        error: /HTTP 429/,
      },
      { name: '500', fault: { kind: 'status', status: 500 } as const, error: /HTTP 500/ },
      { name: 'a hang', fault: { kind: 'hang' } as const, error: /no answer within 1.5 s/ },
      {
        name: 'a page without its cursor',
        fault: { kind: 'malformed' } as const,
        error: /has_more without a next_page/,
      },
      { name: 'a page that is not JSON', fault: { kind: 'not-json' } as const, error: /not JSON/ },
    ])('$name: degraded in /health, requests unaffected, then recovers', async ({ fault, error }) => {
      billExactly();
      await reconciler.pullNow();
      admin.faults.push(fault);
      const before = Date.now();
      await reconciler.pullNow();
      const health = (await get('/health')).body;
      expect(health.status).toBe('ok');
      expect(health.reconciliation.status).toBe('degraded');
      expect(health.reconciliation.error).toMatch(/^anthropic: /);
      const anthropic = health.reconciliation.providers.find((p: any) => p.provider === 'anthropic');
      expect(anthropic.error).toMatch(error);
      // Retried later, with backoff: after the retry-after the provider asked for, and never sooner than 30 s.
      expect(Date.parse(anthropic.next_pull)).toBeGreaterThanOrEqual(
        before + (fault.kind === 'status' && fault.retryAfter ? 120_000 : 30_000),
      );
      expect(health.reconciliation.providers.find((p: any) => p.provider === 'openai').status).toBe('ok');
      // The stored report is the last good one.
      expect(rowOf((await get('/metrics/reconciliation')).body, 'anthropic').status).toBe('match');
      // Requests flow as before.
      const res = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'anthropic:claude-x',
          max_tokens: 5,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      });
      expect(res.status).toBe(200);
      await reconciler.pullNow();
      expect((await get('/health')).body.reconciliation.status).toBe('ok');
    });
  });

  // Declared on PostgreSQL only, so the SQLite run has no skipped test.
  if (engine === 'postgres')
    describe('a fleet on one PostgreSQL store', () => {
      it('replicas pulling the same reports at once all succeed, and agree', async () => {
        const other = await startApp({ ...env, VDM_INSTANCE_ID: 'gw-other', LOG_LEVEL: 'silent' });
        try {
          const peer = other.app.get(Reconciler);
          await peer.settled();
          billExactly();
          for (let round = 0; round < 5; round++) await Promise.all([reconciler.pullNow(), peer.pullNow()]);
          for (const r of [reconciler, peer]) expect(r.health).toMatchObject({ status: 'ok' });
          const mine = (await get('/metrics/reconciliation')).body.rows;
          expect([
            rowOf({ rows: mine }, 'openai').status,
            mine.find((r: any) => r.model === ANTHROPIC_MODEL).status,
          ]).toEqual(['match', 'match']);
          const theirs = (await (
            await fetch(`${other.url}/metrics/reconciliation`, { headers: auth })
          ).json()) as { rows: unknown[] };
          expect(theirs.rows).toEqual(mine);
        } finally {
          await other.close();
        }
      });
    });

  describe('the admin keys', () => {
    it('are absent from every output: answers, errors, /health, /metrics and the logs', async () => {
      billExactly();
      // An admin API that echoes the key it was sent in its error.
      admin.faults.push({ kind: 'status', status: 401, echoKey: true });
      const echo = admin.requests.length;
      await reconciler.pullNow();
      expect(admin.requests.length).toBeGreaterThan(echo);
      expect((await get('/health')).body.reconciliation.error).toContain('[REDACTED]');
      const outputs = [
        (await get('/health')).text,
        (await get('/metrics')).text,
        (await get('/metrics/reconciliation')).text,
        (await get('/metrics/reconciliation?format=csv')).text,
        (await get('/metrics/reconciliation?format=yaml')).text,
        (await get('/metrics/running-totals?format=json')).text,
        (await get('/metrics/logs')).text,
        logs.join('\n'),
      ];
      for (const text of outputs) {
        expect(text).not.toContain(OPENAI_ADMIN);
        expect(text).not.toContain(ANTHROPIC_ADMIN);
      }
    });
  });
});
