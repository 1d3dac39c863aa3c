import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { startApp } from '../support/app';
import { head, rawRequest } from '../support/raw-http';
import { eventually } from '../support/sse-client';

const KEY = 'gw-lifecycle-key-5c2e81';
const BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] });

const gw = useGateway((fake) => ({ ANTHROPIC_API_KEY: 'sk-ant-lifecycle-1', ANTHROPIC_BASE_URL: fake.url, VDM_DEFAULT_PROVIDER: 'anthropic' }));

async function boot(extra: Record<string, string> = {}): Promise<number> {
  await gw.boot(extra);
  return Number(new URL(gw.url).port);
}

interface Totals {
  summary: { total_requests: number; total_errors: number; active_requests: number };
}

async function totals(): Promise<Totals> {
  return (await (await fetch(`${gw.url}/metrics/running-totals?format=json`, { headers: { 'x-api-key': KEY } })).json()) as Totals;
}

async function errorTypes(): Promise<string[]> {
  const logs = (await (await fetch(`${gw.url}/metrics/logs`, { headers: { 'x-api-key': KEY } })).json()) as { errors: { error_type: string }[] };
  return logs.errors.map((e) => e.error_type);
}

/** Writes `data`, and once the kernel has it, drops the connection without waiting for an answer. */
function writeAndDrop(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(data, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}

describe('aborted uploads', () => {
  it.each([
    ['with a gateway key', { PROXY_API_KEY: KEY }],
    ['with no gateway key', {}],
  ])('a client that sends part of its body and leaves is finalized at once (%s)', async (_, env) => {
    const port = await boot(env);
    const partial = head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': 100, 'x-api-key': KEY }) + '{"model":"cl';
    await Promise.all(Array.from({ length: 30 }, () => writeAndDrop(port, partial)));
    await eventually(async () => (await totals()).summary.total_requests === 30);
    await eventually(() => gw.tracker.activeCount === 0);
    const doc = await totals();
    expect(doc.summary).toMatchObject({ total_requests: 30, total_errors: 30, active_requests: 0 });
    expect(new Set(await errorTypes())).toEqual(new Set(['client_disconnect']));
    expect(gw.fake.requests).toHaveLength(0);
  });

  it('an unauthenticated aborted upload is neither usage nor left in flight', async () => {
    const port = await boot({ PROXY_API_KEY: KEY });
    const partial = head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': 100 }) + '{"model":"cl';
    await Promise.all(Array.from({ length: 30 }, () => writeAndDrop(port, partial)));
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { active_requests: number };
    expect(health.active_requests).toBe(0);
    expect((await totals()).summary.total_requests).toBe(0);
  });
});

describe('REQUEST_BODY_TIMEOUT_SECONDS', () => {
  it('cuts off a body that trickles in, with a 408 in the API format, accounted once', async () => {
    const port = await boot({ REQUEST_BODY_TIMEOUT_SECONDS: '0.5' });
    const res = await rawRequest(port, head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': 100 }), '{"mo', 10_000);
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body)).toMatchObject({ type: 'error', error: { type: 'timeout_error' } });
    await eventually(() => gw.tracker.activeCount === 0);
    expect((await totals()).summary).toMatchObject({ total_requests: 1, total_errors: 1 });
    expect(await errorTypes()).toEqual(['timeout']);
  });

  it('leaves a body that arrives in time alone', async () => {
    await boot({ REQUEST_BODY_TIMEOUT_SECONDS: '5' });
    gw.fake.script({ usage: { input: 2, output: 1 } });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(res.status).toBe(200);
    await res.text();
    await eventually(() => gw.tracker.activeCount === 0);
    expect((await totals()).summary).toMatchObject({ total_requests: 1, total_errors: 0 });
  });

  it('rejects a bad value at start-up', async () => {
    await expect(startApp({ REQUEST_BODY_TIMEOUT_SECONDS: '-1' })).rejects.toThrow(/REQUEST_BODY_TIMEOUT_SECONDS/);
  });
});

describe('requests dropped at once', () => {
  it('counts every request whose head and body arrived, however early the client left', async () => {
    const port = await boot();
    gw.fake.script({ usage: { input: 2, output: 1 }, chunkDelayMs: 5 });
    const whole = head('POST', '/v1/messages', { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) }) + BODY;
    await Promise.all(Array.from({ length: 200 }, () => writeAndDrop(port, whole)));
    await eventually(async () => (await totals()).summary.total_requests === 200 && gw.tracker.activeCount === 0, 10_000);
    const doc = await totals();
    expect(doc.summary.total_requests).toBe(200);
    expect(doc.summary.active_requests).toBe(0);
  });
});

describe('a reused x-request-id', () => {
  it('names the stored id in the response header of a request sent while another with the same id is in flight', async () => {
    await boot();
    let release!: () => void;
    gw.fake.enqueue({ text: 'held', holdUntil: new Promise<void>((r) => (release = r)), usage: { input: 1, output: 1 } });
    gw.fake.script({ text: 'second', usage: { input: 1, output: 1 } });
    const send = (): Promise<Response> =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'client-chosen-id' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const first = send();
    await gw.fake.waitForRequests(1);
    const second = await send();
    expect(second.status).toBe(200);
    release();
    const held = await first;
    const logs = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as { traces: { request_id: string }[] };
    const stored = logs.traces.map((t) => t.request_id);
    expect(stored.sort()).toEqual(['client-chosen-id', 'client-chosen-id~1']);
    expect(second.headers.get('x-request-id')).toBe('client-chosen-id~1');
    expect(held.headers.get('x-request-id')).toBe('client-chosen-id');
  });
});
