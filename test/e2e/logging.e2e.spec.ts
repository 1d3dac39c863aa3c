import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogging, keyFingerprint } from '../../src/logging/logger';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { fakeProviderEnv } from '../support/traffic';

const PROXY_KEY = 'proxy-secret-key-0123456789abcdef';
const BODY_KEY = 'sk-body-secret-0123456789abcdef';
const REQUEST_ID = 'a1b2c3d4-e5f6-4789-abcd-0123456789ef';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  get lines(): string[] {
    return this.text.split('\n').filter((l) => l.length > 0);
  }
}

let fake: FakeUpstream;
let gw: RunningApp | undefined;
beforeAll(async () => {
  fake = await FakeUpstream.start();
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

function send(url: string, extraHeaders: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': PROXY_KEY, authorization: `Bearer ${PROXY_KEY}`, 'x-request-id': REQUEST_ID, ...extraHeaders },
    body: JSON.stringify({ model: 'sonnet', max_tokens: 10, api_key: BODY_KEY, metadata: { user_id: BODY_KEY }, messages: [{ role: 'user', content: `my key is ${BODY_KEY}` }] }),
  });
}

const secrets = (): string[] => [PROXY_KEY, BODY_KEY, fakeProviderEnv(fake).ANTHROPIC_API_KEY, fakeProviderEnv(fake).OPENAI_API_KEY];

describe('logs', () => {
  it('JSON: every line of a request carries its id, and no key from headers or body is ever printed', async () => {
    const out = new Capture();
    gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: PROXY_KEY }, { pino: createLogging({ logLevel: 'trace', logPretty: false }, out).pino });
    fake.enqueue({}, { status: 401, errorMessage: `invalid x-api-key ${fakeProviderEnv(fake).ANTHROPIC_API_KEY}` });
    const ok = await send(gw.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-request-id')).toBe(REQUEST_ID);
    await (await send(gw.url)).text();
    await gw.close();
    gw = undefined;

    const lines = out.lines.map((l) => JSON.parse(l) as Record<string, any>);
    const ofRequest = lines.filter((l) => /^request /.test(l.msg as string));
    expect(ofRequest.map((l) => l.msg)).toEqual(['request received', 'request completed', 'request received', 'request completed']);
    for (const line of ofRequest) expect(line.reqId).toBe(REQUEST_ID);
    // The gateway key's headers are consumed by authentication: later lines never see them.
    expect(ofRequest[0].request.headers).not.toHaveProperty('x-api-key');
    expect(ofRequest[0].request.headers).not.toHaveProperty('authorization');
    expect(ofRequest[1]).toMatchObject({ provider: 'anthropic', status: 200, client_key: keyFingerprint(PROXY_KEY) });
    expect(ofRequest[1].client_key).toMatch(/^sha256:[0-9a-f]{8}$/);
    for (const secret of secrets()) expect(out.text).not.toContain(secret);
  });

  it('pretty: leads each request line with an 8-character request id prefix, still without keys', async () => {
    const out = new Capture();
    const logging = createLogging({ logLevel: 'debug', logPretty: true }, out);
    expect(logging.mode).toMatchObject({ requested: 'pretty', effective: 'pretty', handler: 'stream:pretty' });
    gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: PROXY_KEY }, { pino: logging.pino });
    fake.enqueue({});
    await (await send(gw.url)).text();
    await gw.close();
    gw = undefined;
    const requestLines = out.lines.filter((l) => l.includes('request completed') || l.includes('request received'));
    expect(requestLines).toHaveLength(2);
    for (const line of requestLines) {
      expect(line).toContain(`[${REQUEST_ID.slice(0, 8)}] request`);
      expect(line).not.toContain(REQUEST_ID);
    }
    for (const secret of secrets()) expect(out.text).not.toContain(secret);
  });

  it('GET /metrics/logs reports the logging mode truthfully', async () => {
    gw = await startApp({ LOG_PRETTY: 'true' });
    const pretty = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as any;
    expect(pretty.systemd).toEqual({ requested: false, effective: false, handler: 'stdout:pretty' });
    expect(pretty.logging).toEqual({ requested: 'pretty', effective: 'pretty', handler: 'stdout:pretty', level: 'silent' });
    await gw.close();
    gw = await startApp({});
    const json = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as any;
    expect(json.systemd).toEqual({ requested: false, effective: false, handler: 'stdout:json' });
    expect(json.logging).toMatchObject({ requested: 'json', effective: 'json' });
  });

  it('a failed request completes with a warning that says why', async () => {
    const out = new Capture();
    gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: PROXY_KEY }, { pino: createLogging({ logLevel: 'warn', logPretty: false }, out).pino });
    fake.enqueue({}, { status: 429, errorMessage: 'slow down' });
    fake.enqueue({});
    await (await send(gw.url)).text();
    await (await send(gw.url)).text();
    await gw.close();
    gw = undefined;
    const completed = out.lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === 'request completed');
    // At warn level only the failure is written; the success is an info line.
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ level: 40, status: 429, error_type: 'rate_limit' });
    expect(completed[0].error).toContain('429');
  });

  it('with metrics off, says the truth about a stream and leaves unknown counts out', async () => {
    const out = new Capture();
    gw = await startApp({ ...fakeProviderEnv(fake), LOG_REQUEST_METRICS: 'false' }, { pino: createLogging({ logLevel: 'info', logPretty: false }, out).pino });
    fake.enqueue({ usage: { input: 5, output: 3 } });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sonnet', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
    await gw.close();
    gw = undefined;
    const completed = out.lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === 'request completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ level: 30, status: 200, streaming: true });
    expect(completed[0]).not.toHaveProperty('input_tokens');
    expect(completed[0]).not.toHaveProperty('output_tokens');
  });
});
