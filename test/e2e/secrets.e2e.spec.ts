import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app';
import { SseClient } from '../support/sse-client';

/** A distinct random string no pattern rule would recognise: only redaction by value can catch it. */
const canary = (label: string): string => `${label}${randomBytes(12).toString('hex')}`;

const PROVIDER_KEY_A = canary('provkeya');
const PROVIDER_KEY_O = canary('provkeyo');
const PROXY_KEY = canary('proxykey');
const BASE_PASSWORD = canary('basepass');
const CLIENT_KEY = canary('clientkey');
const QUERY_KEY = canary('querykey');
const HEADER_SECRETS = {
  'openai-organization': canary('orghdr'),
  'openai-project': canary('projhdr'),
  'x-goog-api-key': canary('googhdr'),
  'api-key': canary('azurehdr'),
  'proxy-authorization': `Basic ${canary('proxyauth')}`,
  cookie: `session=${canary('cookiehdr')}`,
  'x-auth-token': canary('authtokenhdr'),
};
const CANARIES = [PROVIDER_KEY_A, PROVIDER_KEY_O, PROXY_KEY, BASE_PASSWORD, CLIENT_KEY, QUERY_KEY, ...Object.values(HEADER_SECRETS)];

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * An upstream that echoes the credential it received: in a 401 body, in a 400 body, in a plain-text
 * 401, and inside a mid-stream error event. The model name picks the answer.
 */
class EchoUpstream {
  readonly received: string[] = [];
  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<EchoUpstream> {
    const server = http.createServer();
    const echo = new EchoUpstream(server);
    server.on('request', (req, res) => echo.answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return echo;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const header = String(req.headers['x-api-key'] ?? req.headers.authorization ?? '');
      const key = header.replace(/^Bearer\s+/i, '');
      this.received.push(key);
      const anthropic = (req.url ?? '').startsWith('/v1/messages');
      const model = String((JSON.parse(raw) as { model?: unknown }).model);
      const message = `no account has the credential ${key}`;
      const errorJson = anthropic
        ? { type: 'error', error: { type: 'authentication_error', message }, received: header }
        : { error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' }, received: header };
      if (model === 'auth') {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify(errorJson));
      } else if (model === 'bad') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(errorJson));
      } else if (model === 'text') {
        res.writeHead(401, { 'content-type': 'text/plain' }).end(`credential ${key} refused`);
      } else if (anthropic) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const start = { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], usage: { input_tokens: 3, output_tokens: 0 } } };
        res.write(`event: message_start\ndata: ${JSON.stringify(start)}\n\n`);
        res.write(`event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`);
        res.write(`event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } })}\n\n`);
        res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message }, received: header })}\n\n`);
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = { id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null }, received: header })}\n\n`);
      }
    });
  }
}

let echo: EchoUpstream;
let gw: RunningApp | undefined;
beforeAll(async () => {
  echo = await EchoUpstream.start();
});
afterAll(async () => {
  await echo.close();
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** Every response body the SDKs got, read off the wire. */
function recordingFetch(bodies: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    bodies.push(await response.clone().text());
    return response;
  };
}

/** The HTTP status of the error the SDK raised, `event` for an error event inside a stream. */
async function settle(call: () => Promise<unknown>): Promise<number | 'event' | 'no error'> {
  try {
    const result = await call();
    if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      for await (const _ of result as AsyncIterable<unknown>) void _;
    }
    return 'no error';
  } catch (error) {
    if (error instanceof Anthropic.APIError || error instanceof OpenAI.APIError) return error.status ?? 'event';
    throw error;
  }
}

const scenarios = [
  {
    name: 'gateway keys (provider keys, PROXY_API_KEY, a base-URL password)',
    env: (): Record<string, string> => ({
      PROXY_API_KEY: PROXY_KEY,
      ANTHROPIC_API_KEY: PROVIDER_KEY_A,
      ANTHROPIC_BASE_URL: echo.origin.replace('http://', `http://vdm:${BASE_PASSWORD}@`),
      OPENAI_API_KEY: PROVIDER_KEY_O,
      OPENAI_BASE_URL: `${echo.origin}/v1`,
    }),
    clientKey: PROXY_KEY,
    upstreamKeys: [PROVIDER_KEY_A, PROVIDER_KEY_O],
  },
  {
    name: 'passthrough (the client key goes upstream)',
    env: (): Record<string, string> => ({
      ANTHROPIC_API_KEY: '!PASSTHRU',
      ANTHROPIC_BASE_URL: echo.origin,
      OPENAI_API_KEY: '!PASSTHRU',
      OPENAI_BASE_URL: `${echo.origin}/v1`,
    }),
    clientKey: CLIENT_KEY,
    upstreamKeys: [CLIENT_KEY],
  },
];

describe('secrets an upstream echoes', () => {
  it.each(scenarios)('$name: never reach a client, the metrics or the logs', async ({ env, clientKey, upstreamKeys }) => {
    const out = new Capture();
    gw = await startApp({ ...env(), LOG_LEVEL: 'debug', VDM_DEFAULT_PROVIDER: 'anthropic' }, { logDestination: out });
    echo.received.length = 0;
    const bodies: string[] = [];
    const common = { baseURL: gw.url, maxRetries: 0, fetch: recordingFetch(bodies), defaultHeaders: HEADER_SECRETS, defaultQuery: { api_key: QUERY_KEY } };
    const anthropic = new Anthropic({ ...common, apiKey: clientKey });
    const openai = new OpenAI({ ...common, baseURL: `${gw.url}/v1`, apiKey: clientKey });
    const message = (model: string, stream = false) => () =>
      anthropic.messages.create({ model, max_tokens: 10, stream, messages: [{ role: 'user', content: 'hi' }] });
    const chat = (model: string, stream = false) => () => openai.chat.completions.create({ model, stream, messages: [{ role: 'user', content: 'hi' }] });

    const statuses = [
      await settle(message('anthropic:auth')),
      await settle(message('anthropic:bad')),
      await settle(message('anthropic:text')),
      await settle(message('anthropic:stream', true)),
      await settle(() => anthropic.messages.countTokens({ model: 'anthropic:auth', messages: [{ role: 'user', content: 'hi' }] })),
      await settle(message('openai:auth')),
      await settle(message('openai:bad')),
      await settle(message('openai:text')),
      await settle(message('openai:stream', true)),
      await settle(chat('openai:auth')),
      await settle(chat('openai:bad')),
      await settle(chat('openai:text')),
      await settle(chat('openai:stream', true)),
    ];
    expect(statuses).toEqual([401, 400, 401, 'event', 401, 401, 400, 401, 'event', 401, 400, 401, 'event']);
    // The upstream did get the secrets it echoed, so a leak would show.
    expect(new Set(echo.received)).toEqual(new Set(upstreamKeys));
    expect.soft(bodies.filter((b) => b.includes('[REDACTED]'))).toHaveLength(statuses.length);

    const auth = { 'x-api-key': clientKey };
    const read = async (path: string, headers: Record<string, string> = {}): Promise<string> => (await fetch(`${gw!.url}${path}`, { headers: { ...auth, ...headers } })).text();
    const logs = await read('/metrics/logs');
    const totals = JSON.parse(await read('/metrics/running-totals?format=json')) as { summary: { total_requests: number; total_errors: number } };
    expect(totals.summary).toMatchObject({ total_requests: 12, total_errors: 12 });
    const sse = await SseClient.connect(`${gw.url}/metrics/active-requests/stream`, auth);
    const snapshot = (await sse.next('update')).data;
    sse.close();
    const documents = [
      ...bodies,
      logs,
      await read('/metrics/running-totals'),
      await read('/metrics/running-totals', { accept: 'application/json' }),
      await read('/metrics'),
      snapshot,
    ];
    await gw.close();
    gw = undefined;

    expect.soft(logs).toContain('[REDACTED]');
    expect(out.text).toContain('request received');
    expect(out.text).toContain('"context":"Providers"');
    for (const [i, text] of documents.entries()) {
      for (const secret of CANARIES) expect.soft(text, `document ${i}`).not.toContain(secret);
    }
    for (const line of out.text.split('\n').filter((l) => l.length > 0)) {
      expect(() => JSON.parse(line) as unknown, line).not.toThrow();
      for (const secret of CANARIES) expect.soft(line).not.toContain(secret);
    }
  });
});
