import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogging } from '../../src/logging/logger';
import { sql } from 'kysely';
import type { StoreConfig } from '../../src/config/app-config';
import { openStore } from '../../src/store/database';
import { retryDelay, RETRY_CEILING_MS, UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';
import { startCommitCutter } from '../support/pg-commit-cutter';
import { asNumbers, runningSums, storedSumsSql } from '../support/store-sums';
import { postgresBinary, startPostgres, type PostgresServer } from '../support/postgres-server';
import { checkHistory, seedHistory } from '../support/usage-history-check';
import { makeRecord } from '../support/factories';
import { parseExposition, sumOf } from '../support/prom-text';

const initdb = postgresBinary();
let pg: PostgresServer | undefined;

const json = async (url: string): Promise<any> => (await fetch(url)).json();
const totals = async (gw: RunningApp): Promise<number> => (await json(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).summary.total_requests;

async function send(gw: RunningApp, n: number): Promise<void> {
  const client = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
  for (let i = 0; i < n; i++) await client.messages.create({ model: 'sonnet', max_tokens: 10, messages: [{ role: 'user', content: `m${i}` }] });
}

const env = (instance: string): Record<string, string> => ({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: pg?.url ?? '', VDM_INSTANCE_ID: instance, VDM_STORE_FLUSH_MS: '20' });

describe.skipIf(initdb === undefined)('the PostgreSQL usage store', () => {
  let a: RunningApp;
  let b: RunningApp;
  beforeAll(async () => {
    if (initdb !== undefined) pg = await startPostgres(initdb);
    a = await startApp(env('gw-a'));
    b = await startApp(env('gw-b'));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    pg?.close();
  });

  it('three instances write to one database; group_by=instance shows each, and each restores only its own totals', async () => {
    const z = await startApp(env('gw-z'));
    try {
      await send(a, 3);
      await send(b, 5);
      await send(z, 2);
      for (const gw of [a, b, z]) await gw.app.get(UsageStore).flush();
      const byInstance = (await json(`${z.url}/metrics/usage?group_by=instance`)).rows;
      expect(byInstance).toEqual([
        expect.objectContaining({ instance: 'gw-a', requests: 3 }),
        expect.objectContaining({ instance: 'gw-b', requests: 5 }),
        expect.objectContaining({ instance: 'gw-z', requests: 2 }),
      ]);
    } finally {
      await z.close();
    }

    await a.close();
    a = await startApp(env('gw-a'));
    expect(await totals(a)).toBe(3);
    expect((await json(`${a.url}/metrics/usage`)).totals.requests).toBe(10);
  });

  it('keeps rows queued while the server is down and writes each exactly once when it is back', async () => {
    const store = b.app.get(UsageStore);
    pg?.stop();
    await send(b, 4);
    expect(await totals(b)).toBe(9);
    await expect.poll(async () => (await json(`${b.url}/health`)).store.status).toBe('degraded');
    expect((await json(`${b.url}/health`)).store.queued_rows).toBe(4);
    pg?.start();
    await expect.poll(async () => (await json(`${b.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
    await store.flush();
    const rows = (await json(`${b.url}/metrics/requests?limit=1000`)).requests as { request_id: string; instance: string }[];
    const mine = rows.filter((r) => r.instance === 'gw-b');
    expect(mine).toHaveLength(9);
    expect(new Set(mine.map((r) => r.request_id)).size).toBe(9);
    expect((await json(`${b.url}/metrics/usage?group_by=instance`)).rows).toEqual([
      expect.objectContaining({ instance: 'gw-a', requests: 3 }),
      expect.objectContaining({ instance: 'gw-b', requests: 9 }),
      expect.objectContaining({ instance: 'gw-z', requests: 2 }),
    ]);
  });

  it('stores a batch once when its COMMIT reached the server but the reply was lost, rows and rollups alike', async () => {
    const cutter = await startCommitCutter(pg!.url);
    const c = await startApp({ ...env('gw-c'), VDM_STORE: cutter.url });
    const db = new Client({ connectionString: pg!.url });
    await db.connect();
    try {
      // Two lost replies: the first batch's, and that of its first retry.
      cutter.cutNextCommits(2);
      await send(c, 30);
      await expect.poll(() => cutter.cuts, { timeout: 10_000 }).toBe(2);
      await expect.poll(async () => (await json(`${c.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });

      const copies = await db.query<{ n: string }>("select count(*) as n from usage_requests where instance = 'gw-c' group by request_id");
      expect(copies.rows).toHaveLength(30);
      expect(copies.rows.every((r) => Number(r.n) === 1)).toBe(true);
      const rows = asNumbers((await db.query(storedSumsSql('usage_requests', 'gw-c'))).rows[0]);
      for (const table of ['usage_hourly', 'usage_daily', 'usage_session_hourly'] as const) {
        expect(asNumbers((await db.query(storedSumsSql(table, 'gw-c'))).rows[0]), table).toEqual(rows);
      }
      expect(rows.requests).toBe(30);
      expect(await runningSums(c.url)).toEqual(rows);
      expect(rows.cost_nano).toBeGreaterThan(0);
    } finally {
      await db.end();
      await c.close();
      await cutter.close();
    }
  });

  it('stores the other rows of a batch that the database refuses for the data of one row, and that row with its text cleaned', async () => {
    const c = await startApp(env('gw-poison'));
    const db = new Client({ connectionString: pg!.url });
    await db.connect();
    try {
      const store = c.app.get(UsageStore);
      const poison = (requestId: string, model: string) =>
        makeRecord({ requestId, startTime: Date.now() / 1000, durationMs: 5, provider: 'demo', resolvedModel: model, client: 'anonymous', inputTokens: 7, costNano: 1000 });
      // A NUL PostgreSQL text cannot hold, and a name too large for a rollup key's index (random, so it does not compress).
      await send(c, 2);
      store.enqueue(poison('poison-nul', 'bad\u0000model'));
      store.enqueue(poison('poison-long', randomBytes(7000).toString('base64url')));
      await send(c, 5);
      await expect.poll(async () => (await json(`${c.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });

      const stored = await db.query<{ request_id: string; model: string }>("select request_id, model from usage_requests where instance = 'gw-poison'");
      expect(stored.rows).toHaveLength(9);
      expect(new Set(stored.rows.map((r) => r.request_id)).size).toBe(9);
      const byId = new Map(stored.rows.map((r) => [r.request_id, r.model]));
      expect(byId.get('poison-nul')).toBe('badmodel');
      expect(byId.get('poison-long')).toHaveLength(256);
      const rows = asNumbers((await db.query(storedSumsSql('usage_requests', 'gw-poison'))).rows[0]);
      for (const table of ['usage_hourly', 'usage_daily', 'usage_session_hourly'] as const) {
        expect(asNumbers((await db.query(storedSumsSql(table, 'gw-poison'))).rows[0]), table).toEqual(rows);
      }
      const prom = parseExposition(await (await fetch(`${c.url}/metrics`)).text());
      expect(sumOf(prom, 'vdm_store_cleaned_rows_total')).toBe(2);
      expect(sumOf(prom, 'vdm_store_quarantined_rows_total')).toBe(0);
    } finally {
      await db.end();
      await c.close();
    }
  });

  it('backs off while the server refuses its logins: tried again after 20, 40, 80 ... ms instead of every flush, and said once', async () => {
    // Each connection through this proxy is one login attempt; the database named does not exist.
    let attempts = 0;
    const target = new URL(pg!.url);
    const proxy = createServer((client) => {
      attempts++;
      const server = connect(Number(target.port), target.hostname);
      client.pipe(server).pipe(client);
      const end = (): void => {
        client.destroy();
        server.destroy();
      };
      client.on('error', end).on('close', end);
      server.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const log = new (class extends Writable {
      lines: string[] = [];
      override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
        this.lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
        done();
      }
    })();
    const url = `postgres://postgres@127.0.0.1:${(proxy.address() as AddressInfo).port}/no_such_database`;
    const c = await startApp({ ...env('gw-backoff'), VDM_STORE: url }, { pino: createLogging({ logLevel: 'info', logPretty: false }, log).pino });
    // Each wait this store sets before its next attempt (its timer's delay), beside the logins tried by then.
    const waits: { logins: number; ms: number }[] = [];
    const store = c.app.get<UsageStore, { schedule(): void }>(UsageStore);
    const schedule = store.schedule.bind(store);
    let scheduling = false;
    store.schedule = () => {
      scheduling = true;
      try {
        schedule();
      } finally {
        scheduling = false;
      }
    };
    const setTimer = globalThis.setTimeout;
    const timers = vi.spyOn(globalThis, 'setTimeout').mockImplementation((callback: () => void, ms?: number) => {
      if (scheduling) waits.push({ logins: attempts, ms: ms ?? 0 });
      return setTimer(callback, ms);
    });
    try {
      await send(c, 2);
      await expect.poll(() => attempts, { timeout: 20_000 }).toBeGreaterThanOrEqual(7);
      // One login per wait, and each wait twice the one before (the flush interval, 20 ms, after the first):
      // a retry every flush would show 20 ms after every login.
      const failing = waits.filter((w) => w.logins > 0);
      expect(failing.length).toBeGreaterThanOrEqual(5);
      expect(failing).toEqual(failing.map((_, i) => ({ logins: failing[0].logins + i, ms: 20 * 2 ** (failing[0].logins + i - 1) })));
      expect((await json(`${c.url}/health`)).store).toMatchObject({ status: 'degraded', queued_rows: 2, error: expect.stringContaining('no_such_database') });
      const said = log.lines.filter((l) => l.includes('Usage store') && l.includes('failed'));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain('twice as long each time, up to 30 s');
    } finally {
      timers.mockRestore();
      await c.close().catch(() => undefined);
      await new Promise((r) => proxy.close(r));
    }
  });

  it('waits the flush interval doubled after each failure in a row, at most 30 s', () => {
    expect([1, 2, 3, 4, 8, 9, 10, 100].map((n) => retryDelay(n, 200))).toEqual([200, 400, 800, 1600, 25_600, RETRY_CEILING_MS, RETRY_CEILING_MS, RETRY_CEILING_MS]);
  });

  it('cuts a history statement at its time limit on the server (statement_timeout), on a pool apart from the writes', async () => {
    const store = await openStore({ kind: 'postgres', location: pg!.url } as StoreConfig, () => undefined, 100);
    try {
      await expect(sql`select pg_sleep(5)`.execute(store.reads)).rejects.toMatchObject({ code: '57014' });
      expect((await sql<{ n: number }>`select 1 as n`.execute(store.reads)).rows).toEqual([{ n: 1 }]);
      // The writes' pool has no such limit.
      await sql`select pg_sleep(0.3)`.execute(store.db);
    } finally {
      await store.reads.destroy();
      await store.db.destroy();
    }
  });

  it('over several whole days with partial hours at both ends, answers what summing the rows gives, whichever rollups it reads', async () => {
    // Ten days back: no other test's range reaches these rows.
    const history = await seedHistory(a.app.get(UsageStore), 'gw-days', 1500, 11);
    await checkHistory(a.url, history, 'gw-days');
  });
});
