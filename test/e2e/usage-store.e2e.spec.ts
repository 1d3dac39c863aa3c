import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreInUseError, UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';
import { compileGateway, spawnGatewayProcess } from '../support/gateway-process';
import { parseExposition, sumOf } from '../support/prom-text';
import { makeRecord } from '../support/factories';
import Database from 'better-sqlite3';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-store-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const json = async (url: string): Promise<any> => (await fetch(url)).json();

/** Streaming and not, both APIs, and one refused request (bad JSON: `bad_request`). */
async function traffic(url: string): Promise<void> {
  const anthropic = new Anthropic({ apiKey: 'x', baseURL: url, maxRetries: 0 });
  const openai = new OpenAI({ apiKey: 'x', baseURL: `${url}/v1`, maxRetries: 0 });
  await anthropic.messages.create({ model: 'sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
  await anthropic.messages.stream({ model: 'opus', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  for await (const chunk of await openai.chat.completions.create({ model: 'demo:gpt-demo', stream: true, messages: [{ role: 'user', content: 'x' }] })) void chunk;
  const bad = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
  expect(bad.status).toBe(400);
}

function sqliteEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(dir, name)}`, VDM_INSTANCE_ID: 'gw-a', VDM_STORE_FLUSH_MS: '20', ...extra };
}

const totals = (url: string): Promise<any> => json(`${url}/metrics/running-totals?format=json&include_active=false`);

describe('the SQLite usage store', () => {
  it('restores the running totals, error distribution, traces and errors after a clean restart', async () => {
    let gw: RunningApp = await startApp(sqliteEnv('restart.db'));
    await traffic(gw.url);
    await traffic(gw.url);
    const before = await totals(gw.url);
    const logsBefore = await json(`${gw.url}/metrics/logs`);
    const errorsBefore = gw.tracker.errorDistribution();
    expect(before.summary.total_requests).toBe(8);
    await gw.close();

    gw = await startApp(sqliteEnv('restart.db'));
    try {
      const after = await totals(gw.url);
      expect(after.summary).toEqual(before.summary);
      expect(after.providers).toEqual(before.providers);
      expect(Object.keys(before.clients).length).toBeGreaterThan(0);
      expect(after.clients).toEqual(before.clients);
      const byClient = (rows: any[]): any[] => [...rows].sort((a, b) => `${a.client}/${a.mode}`.localeCompare(`${b.client}/${b.mode}`));
      expect(byClient(after.client_series)).toEqual(byClient(before.client_series));
      const key = (r: any): string => `${r.provider}/${r.model}/${r.mode}`;
      const sorted = (rows: any[]): any[] => [...rows].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sorted(after.series)).toEqual(sorted(before.series));
      expect(gw.tracker.errorDistribution()).toEqual(errorsBefore);
      const logsAfter = await json(`${gw.url}/metrics/logs`);
      const strip = (entries: any[]): any[] => entries.map(({ seq: _seq, ...rest }) => rest);
      expect(strip(logsAfter.traces)).toEqual(strip(logsBefore.traces));
      expect(strip(logsAfter.errors)).toEqual(strip(logsBefore.errors));
      expect(logsAfter.errors).toHaveLength(2);

      // New traffic adds to the restored totals.
      await traffic(gw.url);
      expect((await totals(gw.url)).summary.total_requests).toBe(12);
    } finally {
      await gw.close();
    }
  });

  it('restores only the totals of its own instance', async () => {
    const a = await startApp(sqliteEnv('two.db'));
    await traffic(a.url);
    await a.close();
    const b = await startApp(sqliteEnv('two.db', { VDM_INSTANCE_ID: 'gw-b' }));
    try {
      expect((await totals(b.url)).summary.total_requests).toBe(0);
      await traffic(b.url);
    } finally {
      await b.close();
    }
    const again = await startApp(sqliteEnv('two.db'));
    try {
      expect((await totals(again.url)).summary.total_requests).toBe(4);
    } finally {
      await again.close();
    }
  });

  it('keeps serving and counting when the store cannot be written, and shows it degraded in /health', async () => {
    const gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: 'sqlite:/dev/null/usage.db', VDM_STORE_FLUSH_MS: '20', VDM_STORE_QUEUE_MAX: '3' });
    try {
      await traffic(gw.url);
      await traffic(gw.url);
      expect((await totals(gw.url)).summary.total_requests).toBe(8);
      const health = await json(`${gw.url}/health`);
      expect(health).toMatchObject({ status: 'ok', store: { status: 'degraded', queued_rows: 3 } });
      const prom = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
      expect(sumOf(prom, 'vdm_store_dropped_rows_total')).toBe(5);
      expect(sumOf(prom, 'vdm_store_queue_rows')).toBe(3);
      // The history API answers that it cannot read, in the metrics error format with its code.
      const history = await fetch(`${gw.url}/metrics/usage`);
      expect(history.status).toBe(503);
      expect(await history.json()).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'VDM_HISTORY_UNAVAILABLE',
        message: 'The usage store is not reachable right now',
      });
    } finally {
      await gw.close();
    }
  });

  it('stores the other rows of a batch that the database refuses for the data of one row, and that row cleaned', async () => {
    const gw = await startApp(sqliteEnv('poison.db'));
    try {
      const store = gw.app.get(UsageStore);
      await traffic(gw.url);
      // SQLite stores a number that is not finite as NULL, which a NOT NULL column refuses; a NUL it stores as sent.
      store.enqueue(makeRecord({ requestId: 'poison-nan', startTime: Date.now() / 1000, provider: 'demo', resolvedModel: 'm', client: 'anonymous', inputTokens: NaN, outputTokens: 3 }));
      store.enqueue(makeRecord({ requestId: 'poison-nul', startTime: Date.now() / 1000, provider: 'demo', resolvedModel: 'bad\u0000model', client: 'anonymous', outputTokens: 4 }));
      await traffic(gw.url);
      await expect.poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
      const prom = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
      expect(sumOf(prom, 'vdm_store_cleaned_rows_total')).toBe(1);
      expect(sumOf(prom, 'vdm_store_quarantined_rows_total')).toBe(0);
    } finally {
      await gw.close();
    }
    const db = new Database(join(dir, 'poison.db'), { readonly: true });
    try {
      const rows = db.prepare('select request_id, input_tokens, output_tokens from usage_requests').all() as { request_id: string; input_tokens: number; output_tokens: number }[];
      expect(rows).toHaveLength(10);
      expect(rows.find((r) => r.request_id === 'poison-nan')).toEqual({ request_id: 'poison-nan', input_tokens: 0, output_tokens: 3 });
      expect(rows.find((r) => r.request_id === 'poison-nul')?.output_tokens).toBe(4);
      const hourly = db.prepare('select sum(requests) as n, sum(output_tokens) as o from usage_hourly').get() as { n: number; o: number };
      const direct = db.prepare('select count(*) as n, sum(output_tokens) as o from usage_requests').get() as { n: number; o: number };
      expect(hourly).toEqual(direct);
    } finally {
      db.close();
    }
  });

  it('is one gateway\'s store: a second gateway on the same file stops at start-up and points to PostgreSQL', async () => {
    const a = await startApp(sqliteEnv('single.db'));
    try {
      const second = startApp(sqliteEnv('single.db', { VDM_INSTANCE_ID: 'gw-b' }));
      await expect(second).rejects.toThrow(StoreInUseError);
      await expect(second).rejects.toThrow(/in use by another process.*PostgreSQL/);
      // The first keeps its store.
      await traffic(a.url);
      await expect.poll(async () => (await json(`${a.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
    } finally {
      await a.close();
    }
  });

  it('shows the store degraded, with the reason, when its file is deleted while it runs, and keeps the rows queued', async () => {
    const file = join(dir, 'gone.db');
    const gw = await startApp(sqliteEnv('gone.db'));
    try {
      await traffic(gw.url);
      await expect.poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
      rmSync(file);
      rmSync(`${file}-wal`, { force: true });
      await traffic(gw.url);
      await expect
        .poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 })
        .toEqual({ status: 'degraded', queued_rows: 4, error: expect.stringContaining('was deleted or replaced while the gateway ran') });
      expect((await totals(gw.url)).summary.total_requests).toBe(8);
    } finally {
      await gw.close();
    }
  });

  it('keeps serving with the store degraded, not stopped by SIGBUS, when the WAL index file cannot be written', async (ctx) => {
    const shm = join(dir, 'shm.db-shm');
    writeFileSync(shm, '');
    // Root writes any file whatever its mode: the immutable attribute stops it (ext4, tmpfs and most others).
    const root = process.getuid?.() === 0;
    try {
      if (root) execFileSync('chattr', ['+i', shm], { stdio: 'ignore' });
      else chmodSync(shm, 0o444);
    } catch {
      ctx.skip();
    }
    try {
      const gw = await startApp(sqliteEnv('shm.db'));
      try {
        await traffic(gw.url);
        await expect
          .poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 })
          .toEqual({ status: 'degraded', queued_rows: 4, error: expect.stringContaining('shm.db-shm cannot be written') });
        expect((await totals(gw.url)).summary.total_requests).toBe(4);
      } finally {
        await gw.close();
      }
    } finally {
      if (root) execFileSync('chattr', ['-i', shm], { stdio: 'ignore' });
    }
  });

  it('writes every queued row when the app closes', async () => {
    const gw = await startApp(sqliteEnv('close.db', { VDM_STORE_FLUSH_MS: '60000' }));
    await traffic(gw.url);
    const store = gw.app.get(UsageStore);
    expect(store.status.queued_rows).toBe(4);
    await gw.close();
    const again = await startApp(sqliteEnv('close.db'));
    try {
      expect((await totals(again.url)).summary.total_requests).toBe(4);
      const health = await json(`${again.url}/health`);
      expect(health.store).toEqual({ status: 'ok', queued_rows: 0 });
    } finally {
      await again.close();
    }
  });

  it('is off with VDM_STORE=none', async () => {
    const gw = await startApp({ VDM_STORE: 'none' });
    try {
      expect((await json(`${gw.url}/health`)).store).toEqual({ status: 'disabled', queued_rows: 0 });
    } finally {
      await gw.close();
    }
  });
});

describe('a gateway process killed with SIGKILL', () => {
  it('loses nothing that was flushed: the restarted totals equal the totals before the kill', async () => {
    const build = compileGateway();
    try {
      const env = sqliteEnv('kill.db', { VDM_STORE_FLUSH_MS: '50' });
      const proc = await spawnGatewayProcess(build.main, env);
      await traffic(proc.url);
      await traffic(proc.url);
      const before = await totals(proc.url);
      expect(before.summary.total_requests).toBe(8);
      // Past the flush interval: the queue is empty, so every finished request is on disk.
      await expect.poll(async () => (await json(`${proc.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
      const exited = new Promise((r) => proc.child.once('exit', r));
      proc.child.kill('SIGKILL');
      await exited;

      const gw = await startApp(env);
      try {
        const after = await totals(gw.url);
        expect(after.summary).toEqual(before.summary);
        expect(after.providers).toEqual(before.providers);
      } finally {
        await gw.close();
      }
    } finally {
      build.remove();
    }
  }, 60_000);
});

describe('two gateway processes on one SQLite file', () => {
  it('the second stops at start-up with an error naming PostgreSQL, and the first keeps its store', async () => {
    const build = compileGateway();
    try {
      const env = sqliteEnv('fleet.db');
      const first = await spawnGatewayProcess(build.main, env);
      try {
        await traffic(first.url);
        await expect(spawnGatewayProcess(build.main, { ...env, VDM_INSTANCE_ID: 'gw-b' })).rejects.toThrow(/in use by another process.*PostgreSQL/);
        await traffic(first.url);
        await expect.poll(async () => (await json(`${first.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });
        expect((await totals(first.url)).summary.total_requests).toBe(8);
      } finally {
        const exited = new Promise((r) => first.child.once('exit', r));
        first.child.kill('SIGTERM');
        await exited;
      }
    } finally {
      build.remove();
    }
  }, 60_000);
});

describe('a gateway process stopped with SIGTERM', () => {
  it('writes its whole queue before it exits', async () => {
    const build = compileGateway();
    try {
      // A flush interval far longer than the test: only the shutdown flush can write the rows.
      const env = sqliteEnv('term.db', { VDM_STORE_FLUSH_MS: '600000' });
      const proc = await spawnGatewayProcess(build.main, env);
      await traffic(proc.url);
      const before = await totals(proc.url);
      expect((await json(`${proc.url}/health`)).store.queued_rows).toBe(4);
      const exited = new Promise<number | null>((r) => proc.child.once('exit', r));
      proc.child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const gw = await startApp(env);
      try {
        expect((await totals(gw.url)).summary).toEqual(before.summary);
      } finally {
        await gw.close();
      }
    } finally {
      build.remove();
    }
  }, 60_000);
});
