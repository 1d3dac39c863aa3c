import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasControlCharacters } from '../../src/core/bounded-text';
import { startApp, type RunningApp } from '../support/app';

let dir: string;
let gw: RunningApp | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-strings-'));
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${gw!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const json = async (path: string): Promise<any> => (await fetch(`${gw!.url}${path}`)).json();

/** Each proxy route with a body that would be served, and the error body format it answers in. */
const ROUTES = [
  { path: '/v1/messages', body: (model: string) => ({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }), format: 'anthropic' },
  { path: '/v1/chat/completions', body: (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] }), format: 'openai' },
  { path: '/v1/responses', body: (model: string) => ({ model, input: 'hi' }), format: 'openai' },
  { path: '/v1/embeddings', body: (model: string) => ({ model, input: 'hi' }), format: 'openai' },
] as const;

describe('model names chosen by clients', () => {
  it('refuses a name over 256 characters, or with control characters, with a 400 in the API format before routing, accounted as bad_request', async () => {
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0' });
    const long = `demo:${'m'.repeat(2 * 1024 * 1024)}`;
    const refused = [long, 'demo:gpt\u0000demo', 'demo:gpt\ndemo', 'demo:gpt\u001bdemo', `demo:${'x'.repeat(252)}`];
    for (const route of ROUTES) {
      for (const model of refused) {
        const res = await post(route.path, route.body(model));
        const body = await res.json();
        expect(res.status, `${route.path} ${model.length}`).toBe(400);
        if (route.format === 'anthropic') expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
        else expect(body).toMatchObject({ error: { type: 'invalid_request_error' } });
        expect(JSON.stringify(body)).toMatch(/model: must (be at most 256 characters|not contain control characters)/);
      }
      // 256 characters is a name.
      expect((await post(route.path, route.body(`demo:${'x'.repeat(251)}`))).status, route.path).toBe(200);
    }
    const totals = await json('/metrics/running-totals?format=json&include_active=false');
    expect(totals.summary.total_requests).toBe(ROUTES.length * (refused.length + 1));
    expect(gw.tracker.errorDistribution()).toEqual({ bad_request: ROUTES.length * refused.length });
    // The refusals' records keep at most 256 characters of the name, without control characters.
    const logs = await json('/metrics/logs?limit_errors=100');
    expect(logs.errors.length).toBe(ROUTES.length * refused.length);
    for (const entry of logs.errors) {
      expect(entry.error_type).toBe('bad_request');
      expect(entry.requested_model.length).toBeLessThanOrEqual(256);
      expect(hasControlCharacters(entry.requested_model)).toBe(false);
      expect(entry.model).toBeNull();
    }
    expect(logs.errors.map((e: any) => e.requested_model)).toContain(long.slice(0, 256));
    // No name over 256 characters reached a label.
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text.length).toBeLessThan(200_000);
    expect(text).not.toContain('m'.repeat(300));
  });

  it('refuses it on count_tokens too', async () => {
    gw = await startApp();
    const res = await post('/v1/messages/count_tokens', { model: `demo:${'m'.repeat(300)}`, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'model: must be at most 256 characters' } });
  });

  it('keeps users and sessions from every source at 128 characters without control characters', async () => {
    gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0' });
    const huge = `\u0000${'u'.repeat(1024 * 1024)}`;
    await post('/v1/messages', { model: 'demo:x', max_tokens: 5, metadata: { user_id: huge }, messages: [{ role: 'user', content: 'hi' }] });
    await post('/v1/chat/completions', { model: 'demo:x', user: huge, messages: [{ role: 'user', content: 'hi' }] }, { 'x-session-id': 's'.repeat(4000) });
    await post('/v1/chat/completions', { model: 'demo:x', messages: [{ role: 'user', content: 'hi' }] }, { 'x-vdm-user': 'v'.repeat(4000), 'x-vdm-session': 'w'.repeat(4000) });
    await post('/v1/responses', { model: 'demo:x', input: 'hi', safety_identifier: huge }, { 'session-id': 'c'.repeat(4000) });
    const traces = (await json('/metrics/logs?limit_traces=10')).traces;
    expect(traces.map((t: any) => [t.user, t.session])).toEqual([
      ['u'.repeat(128), 'c'.repeat(128)],
      ['v'.repeat(128), 'w'.repeat(128)],
      ['u'.repeat(128), 's'.repeat(128)],
      ['u'.repeat(128), null],
    ]);
  });
});

describe('a usage store written before names were bounded', () => {
  it('restores such names bounded: /metrics, the running totals and the traces keep working', async () => {
    const file = join(dir, 'poisoned.db');
    const env = { DEMO_TOKEN_DELAY_SECONDS: '0', VDM_STORE: `sqlite:${file}`, VDM_INSTANCE_ID: 'gw-a', VDM_STORE_FLUSH_MS: '20' };
    gw = await startApp(env);
    expect((await post('/v1/chat/completions', { model: 'demo:poison', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    expect((await post('/v1/chat/completions', { model: 'demo:second', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(200);
    await gw.close();
    gw = undefined;

    // What an older gateway let in: a 25 MB model name, a name with a NUL and a line break, unbounded users.
    const huge = `poison-${'p'.repeat(25 * 1024 * 1024)}`;
    const db = new Database(file);
    db.prepare("UPDATE usage_hourly SET model = ? WHERE model = 'poison'").run(huge);
    db.prepare("UPDATE usage_hourly SET model = ?, client = ?, api = ?, error_type = ?, errors = requests WHERE model = 'second'").run(
      'sec\u0000ond\nname',
      `c\u0001${'c'.repeat(1000)}`,
      `api-${'a'.repeat(1000)}`,
      `type-${'t'.repeat(1000)}`,
    );
    db.prepare("UPDATE usage_requests SET model = ?, requested_model = ?, user = ?, session = ?, error = ? WHERE model = 'poison'").run(
      huge,
      huge,
      `u\u0000${'u'.repeat(1024 * 1024)}`,
      's'.repeat(1024 * 1024),
      'e'.repeat(1024 * 1024),
    );
    db.close();

    gw = await startApp(env);
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.length).toBeLessThan(200_000);
    const bounded = `poison-${'p'.repeat(249)}`;
    expect(text).toContain(`model="${bounded}"`);
    expect(text).toContain('model="secondname"');
    // api and error_type are labels too: a value the gateway never writes is restored as unknown / unexpected_error.
    expect(text).not.toContain('aaaaaaaa');
    expect(text).not.toContain('tttttttt');
    expect(text).toMatch(/vdm_requests_total\{[^}]*api="unknown"[^}]*error_type="unexpected_error"[^}]*\} 1/);
    expect(gw.tracker.errorDistribution()).toEqual({ unexpected_error: 1 });
    const totals = await json('/metrics/running-totals?format=json&include_active=false');
    expect(totals.summary.total_requests).toBe(2);
    expect(Object.keys(totals.providers.demo.models).sort()).toEqual([bounded, 'secondname']);
    expect(Object.keys(totals.clients).sort()).toEqual(['anonymous', 'c'.repeat(128)]);
    const traces = (await json('/metrics/logs')).traces;
    const poisoned = traces.find((t: any) => t.model === bounded);
    expect(poisoned).toMatchObject({ requested_model: bounded, user: 'u'.repeat(128), session: 's'.repeat(128) });
    expect(poisoned.error.length).toBe(1000);
    const yaml = await (await fetch(`${gw.url}/metrics/running-totals`)).text();
    expect(yaml.length).toBeLessThan(100_000);
  });
});
