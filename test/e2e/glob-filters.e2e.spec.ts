import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';
import { postgresBinary, startPostgres, type PostgresServer } from '../support/postgres-server';

const A48 = 'a'.repeat(48);
/** Ten stars: a backtracking RegExp tries about 2^40 ways before it says no; the gateway's glob walks 48 × 23 steps. */
const PATHOLOGICAL = `${'*a'.repeat(10)}b`;
const UNICODE = 'Ünïcödé-Модель';

async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** One request per model name through the demo provider, then every row written. */
async function seed(gw: RunningApp, models: string[]): Promise<void> {
  for (const model of models) {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: `demo:${model}`, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
  }
  await gw.app.get(UsageStore).flush();
}

/** What both stores must answer: the exact stored spelling, ASCII letters in either case, other letters only as stored, and a NUL refused. */
async function checkStoreFilters(gw: RunningApp): Promise<void> {
  const models = async (query: string): Promise<string[]> => {
    const { status, body } = await get(`${gw.url}/metrics/usage?group_by=model&${query}`);
    expect(status, query).toBe(200);
    return body.rows.map((r: { model: string }) => r.model);
  };
  expect(await models(`model=${encodeURIComponent(UNICODE)}`)).toEqual([UNICODE]);
  expect(await models(`model=${encodeURIComponent('ÜNïCöDé-Модель')}`)).toEqual([UNICODE]);
  expect(await models(`model=${encodeURIComponent('ünïcödé-модель')}`)).toEqual([]);
  expect(await models(`model=${encodeURIComponent('Ü*')}`)).toEqual([UNICODE]);
  expect(await models(`model=${encodeURIComponent('?nïcödé-??????')}`)).toEqual([UNICODE]);
  expect(await models(`model=${encodeURIComponent('100%')}`)).toEqual(['100%']);
  expect(await models(`model=${encodeURIComponent('1_0*')}`)).toEqual([]);
  expect(await models(`model=${PATHOLOGICAL}`)).toEqual([]);
  expect(await models(`model=${'*a'.repeat(10)}`)).toEqual([A48]);

  const rows = await get(`${gw.url}/metrics/requests?model=${encodeURIComponent(UNICODE)}`);
  expect(rows.body.requests.map((r: { model: string }) => r.model)).toEqual([UNICODE]);

  for (const path of ['usage', 'requests']) {
    const { status, body } = await get(`${gw.url}/metrics/${path}?model=gpt%00x`);
    expect(status, path).toBe(400);
    expect(body.message).toMatch(/model must not contain a NUL/);
  }
}

describe('glob filters on the in-memory reports and the SQLite store', () => {
  let dir: string;
  let gw: RunningApp;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vdm-globs-'));
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20' });
    await seed(gw, [A48, UNICODE, '100%']);
  });
  afterAll(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a pathological glob on running totals and prices at once, and keeps serving', async () => {
    const miss = await get(`${gw.url}/metrics/running-totals?format=json&model=${PATHOLOGICAL}`);
    expect(miss.status).toBe(200);
    expect(miss.body.summary.total_requests).toBe(0);
    const hit = await get(`${gw.url}/metrics/running-totals?format=json&model=${'*a'.repeat(10)}`);
    expect(hit.body.summary.total_requests).toBe(1);
    const prices = await get(`${gw.url}/metrics/prices?provider=*d*e*m*o*&model=${PATHOLOGICAL}`);
    expect(prices.status).toBe(200);
    expect(prices.body.prices).toEqual([]);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('matches non-ASCII names in memory as the store does', async () => {
    const totals = async (model: string): Promise<number> =>
      (await get(`${gw.url}/metrics/running-totals?format=json&model=${encodeURIComponent(model)}`)).body.summary.total_requests;
    expect(await totals(UNICODE)).toBe(1);
    expect(await totals('ÜNïCöDé-Модель')).toBe(1);
    expect(await totals('ünïcödé-модель')).toBe(0);
  });

  it('filters the store by the exact stored spelling, ASCII case aside, and refuses a NUL', async () => {
    await checkStoreFilters(gw);
  });
});

const initdb = postgresBinary();

describe.skipIf(initdb === undefined)('glob filters on the PostgreSQL store', () => {
  let pg: PostgresServer | undefined;
  let gw: RunningApp;
  beforeAll(async () => {
    pg = await startPostgres(initdb!);
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: pg.url, VDM_STORE_FLUSH_MS: '20' });
    await seed(gw, [A48, UNICODE, '100%']);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    pg?.close();
  });

  it('filters the store by the exact stored spelling, ASCII case aside, and refuses a NUL with a 400', async () => {
    await checkStoreFilters(gw);
  });
});
