import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';

let dir: string;
let gw: RunningApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-query-'));
  gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001', VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20' });
  const anthropic = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
  await anthropic.messages.create({ model: 'sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
  await anthropic.messages.create({ model: 'opus', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
  await gw.app.get(UsageStore).flush();
});
afterAll(async () => {
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Status and body, with the fields that move between two calls (the clock, the uptime) left out. */
async function answer(path: string): Promise<{ status: number; body: unknown }> {
  const controller = new AbortController();
  const res = await fetch(`${gw.url}${path}`, { signal: controller.signal });
  // The stream never ends: its first bytes are its answer.
  const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? 'stream' : await res.text();
  controller.abort();
  // Times of the answer itself (the usage window's default from/to moves with the clock) are left out.
  const steady = (key: string, value: unknown): unknown => (/time|uptime|since|^start$|^generated|^from$|^to$/.test(key) ? undefined : value);
  return { status: res.status, body: text === 'stream' ? text : JSON.parse(text, steady) };
}

/** Every GET under /metrics/ that reads a query: its path, and a key it takes (none where it takes none). */
const ENDPOINTS: [path: string, key: string | undefined][] = [
  ['/metrics/running-totals?format=json&include_active=false', 'provider'],
  ['/metrics/active-requests', undefined],
  ['/metrics/active-requests/stream', undefined],
  ['/metrics/logs?limit_traces=5', 'limit_errors'],
  ['/metrics/prices', 'provider'],
  ['/metrics/usage?group_by=model', 'provider'],
  ['/metrics/requests?limit=10', 'model'],
];
const join2 = (path: string, query: string): string => `${path}${path.includes('?') ? '&' : '?'}${query}`;

describe('every /metrics/* query is read one way', () => {
  it.each(ENDPOINTS)('%s refuses an unknown key with a 400 in the metrics error format', async (path) => {
    const { status, body } = await answer(join2(path, 'colour=red'));
    expect(status).toBe(400);
    expect(body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      code: 'VDM_QUERY_UNKNOWN_KEY',
      message: expect.stringMatching(/^unknown query parameter "colour"; this endpoint takes /),
    });
  });

  it.each(ENDPOINTS.filter(([, key]) => key !== undefined))('%s answers an empty %s as if it were left out', async (path, key) => {
    const without = await answer(path);
    expect(without.status).toBe(200);
    expect(await answer(join2(path, `${key}=`))).toEqual(without);
  });

  it.each(ENDPOINTS.filter(([, key]) => key !== undefined))('%s refuses %s given twice', async (path, key) => {
    const { status, body } = await answer(join2(path, `${key}=1&${key}=2`));
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'VDM_QUERY_REPEATED_KEY', message: `${key} may be given once` });
  });
});
