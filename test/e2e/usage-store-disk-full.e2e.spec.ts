import Anthropic from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app';
import { parseExposition, sumOf } from '../support/prom-text';
import { canMountSmallFilesystem, mountSmallFilesystem, type SmallFilesystem } from '../support/small-filesystem';
import { asNumbers, runningSums, storedSumsSql } from '../support/store-sums';

const json = async (url: string): Promise<any> => (await fetch(url)).json();

async function send(gw: RunningApp, n: number): Promise<void> {
  const client = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) await client.messages.create({ model: 'sonnet', max_tokens: 20, messages: [{ role: 'user', content: `m${i}` }] });
    else await client.messages.stream({ model: 'opus', max_tokens: 20, messages: [{ role: 'user', content: `m${i}` }] }).finalMessage();
  }
}

describe.skipIf(!canMountSmallFilesystem())('the SQLite usage store on a filesystem that fills up', () => {
  let fs: SmallFilesystem;
  let gw: RunningApp;
  beforeAll(async () => {
    fs = mountSmallFilesystem(4 * 1024 * 1024);
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(fs.dir, 'usage.db')}`, VDM_INSTANCE_ID: 'gw-full', VDM_STORE_FLUSH_MS: '20' });
  });
  afterAll(async () => {
    await gw?.close();
    fs?.unmount();
  });

  it('keeps serving and counting, shows the store degraded while rows wait, and writes each once when space is back', async () => {
    await send(gw, 4);
    await expect.poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });

    const filler = fs.fill();
    await send(gw, 8);
    const totals = (await json(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).summary;
    expect(totals.total_requests).toBe(12);
    await expect
      .poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 })
      .toEqual({ status: 'degraded', queued_rows: 8, error: 'database or disk is full' });
    const prom = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
    expect(sumOf(prom, 'vdm_store_queue_rows')).toBe(8);
    expect(sumOf(prom, 'vdm_store_dropped_rows_total')).toBe(0);
    // Still full, still counted, still served.
    await send(gw, 2);

    rmSync(filler);
    await expect.poll(async () => (await json(`${gw.url}/health`)).store, { timeout: 10_000 }).toEqual({ status: 'ok', queued_rows: 0 });

    const db = new Database(join(fs.dir, 'usage.db'), { readonly: true });
    try {
      const copies = db.prepare('select count(*) as n from usage_requests group by request_id').all() as { n: number }[];
      expect(copies).toHaveLength(14);
      expect(copies.every((r) => r.n === 1)).toBe(true);
      const rows = asNumbers(db.prepare(storedSumsSql('usage_requests')).get() as Record<string, unknown>);
      for (const table of ['usage_hourly', 'usage_daily', 'usage_session_hourly'] as const) {
        expect(asNumbers(db.prepare(storedSumsSql(table)).get() as Record<string, unknown>), table).toEqual(rows);
      }
      expect(rows.cost_nano).toBeGreaterThan(0);
      expect(await runningSums(gw.url)).toEqual(rows);
    } finally {
      db.close();
    }
  });
});
