import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/sse-client';
import { useGateway } from '../support/use-gateway';

/** An upstream that answers every request with whatever the current test says. */
interface RawUpstream {
  url: string;
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function rawUpstream(): Promise<RawUpstream> {
  const upstream: RawUpstream = { url: '', answer: (_req, res) => res.writeHead(500).end(), seen: [], close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    upstream.seen.push(req.headers);
    req.resume();
    req.on('end', () => upstream.answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return upstream;
}

const gw = useGateway(
  (upstream) => ({
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: upstream.url,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${upstream.url}/v1`,
    VDM_DEFAULT_PROVIDER: 'anthropic',
  }),
  { upstream: rawUpstream },
);

async function boot(): Promise<void> {
  gw.fake.seen.length = 0;
  await gw.boot();
}

type Path = 'anthropic passthrough' | 'anthropic to openai' | 'openai passthrough';

const ROUTES: Record<Path, { path: string; model: string; upstream: 'anthropic' | 'openai' }> = {
  'anthropic passthrough': { path: '/v1/messages', model: 'anthropic:claude-test', upstream: 'anthropic' },
  'anthropic to openai': { path: '/v1/messages', model: 'openai:gpt-test', upstream: 'openai' },
  'openai passthrough': { path: '/v1/chat/completions', model: 'openai:gpt-test', upstream: 'openai' },
};

/** A valid non-streaming answer of the upstream's protocol. */
function validJson(protocol: 'anthropic' | 'openai'): string {
  return protocol === 'anthropic'
    ? JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content: [{ type: 'text', text: 'hi' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 3, output_tokens: 1 },
      })
    : JSON.stringify({
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-test',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
      });
}

/** A valid stream of the upstream's protocol. */
function validSse(protocol: 'anthropic' | 'openai'): string {
  if (protocol === 'openai') {
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-test', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    return `${chunk({ role: 'assistant', content: 'hi' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`;
  }
  const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  return [
    event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 0 } } }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } }),
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }),
    event('message_stop', {}),
  ].join('');
}

interface BadAnswer {
  name: string;
  /** Whether this answer is bad for a request of that kind (a JSON body is fine for a non-streaming one only). */
  stream: boolean[];
  answer: (protocol: 'anthropic' | 'openai', stream: boolean) => { status: number; headers: Record<string, string>; body: Buffer | string };
  /** What the recorded error says. */
  error: RegExp;
}

const good = (protocol: 'anthropic' | 'openai', stream: boolean): string => (stream ? validSse(protocol) : validJson(protocol));
const typeOf = (stream: boolean): string => (stream ? 'text/event-stream' : 'application/json');

const BAD_ANSWERS: BadAnswer[] = [
  {
    name: 'gzip-encoded',
    stream: [false, true],
    answer: (p, s) => ({ status: 200, headers: { 'content-type': typeOf(s), 'content-encoding': 'gzip' }, body: gzipSync(good(p, s)) }),
    error: /^The upstream answered 200 with content-encoding gzip/,
  },
  {
    name: 'br-encoded',
    stream: [false, true],
    answer: (p, s) => ({ status: 200, headers: { 'content-type': typeOf(s), 'content-encoding': 'br' }, body: brotliCompressSync(good(p, s)) }),
    error: /^The upstream answered 200 with content-encoding br/,
  },
  {
    name: 'text/html',
    stream: [false, true],
    answer: () => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<html><body>Welcome to nginx</body></html>' }),
    error: /^The upstream answered 200 with content-type text\/html; charset=utf-8, not (JSON|an event stream)$/,
  },
  {
    name: '204',
    stream: [false, true],
    answer: () => ({ status: 204, headers: {}, body: '' }),
    error: /^The upstream answered 204 with no body$/,
  },
  {
    name: 'empty 200',
    stream: [false],
    answer: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '' }),
    error: /^The upstream answered 200 with no body$/,
  },
  {
    name: 'invalid JSON 200',
    stream: [false, true],
    answer: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"id":"msg_1","content":[' }),
    error: /^The upstream answered 200 with a body that is not JSON$/,
  },
  {
    name: 'JSON on a stream',
    stream: [true],
    answer: (p) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: validJson(p) }),
    error: /^The upstream answered 200 with content-type application\/json, not an event stream$/,
  },
  {
    name: 'event stream on a non-streaming request',
    stream: [false],
    answer: (p) => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: validSse(p) }),
    error: /^The upstream answered 200 with content-type text\/event-stream, not JSON$/,
  },
];

const CASES = BAD_ANSWERS.flatMap((bad) =>
  (Object.keys(ROUTES) as Path[]).flatMap((path) => bad.stream.map((stream) => [bad.name, path, stream, bad] as const)),
);

async function post(path: Path, stream: boolean, headers: Record<string, string> = {}): Promise<Response> {
  const route = ROUTES[path];
  return fetch(gw.url + route.path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: route.model, max_tokens: 5, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

function expectErrorFormat(path: Path, body: any): void {
  if (ROUTES[path].path === '/v1/messages') expect(body).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
  else expect(body).toMatchObject({ error: { type: 'server_error', message: expect.any(String), param: null, code: null } });
}

async function recordedOnce(): Promise<any> {
  await eventually(() => gw.tracker.activeCount === 0);
  const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
  expect(doc.summary).toMatchObject({ total_requests: 1, total_errors: 1 });
  const logs = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as any;
  expect(logs.errors).toHaveLength(1);
  return logs.errors[0];
}

describe('upstream answers the gateway cannot relay', () => {
  it('asks the upstream for an unencoded answer, whatever encoding the client accepts', async () => {
    await boot();
    gw.fake.answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(validJson('anthropic'));
    const res = await post('anthropic passthrough', false, { 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'hi' }] });
    expect(gw.fake.seen).toHaveLength(1);
    expect(gw.fake.seen[0]['accept-encoding']).toBe('identity');
  });

  it.each(CASES)('%s, %s, stream %s: 502 in the API\'s error format, recorded once as upstream_error', async (_name, path, stream, bad) => {
    await boot();
    gw.fake.answer = (_req, res) => {
      const answer = bad.answer(ROUTES[path].upstream, stream);
      res.writeHead(answer.status, answer.headers).end(answer.body);
    };
    const res = await post(path, stream);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-encoding')).toBeNull();
    const body = await res.json();
    expectErrorFormat(path, body);
    const error = await recordedOnce();
    expect(error).toMatchObject({ error_type: 'upstream_error' });
    expect(error.error).toMatch(bad.error);
    expect((body as any).error.message).toMatch(bad.error);
  });

  it.each(Object.keys(ROUTES) as Path[])('%s, stream: a JSON error in a 200 reaches the client as an error, not as stream bytes', async (path) => {
    await boot();
    const protocol = ROUTES[path].upstream;
    const error =
      protocol === 'anthropic'
        ? { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded right now' } }
        : { error: { message: 'Overloaded right now', type: 'server_error', param: null, code: null } };
    gw.fake.answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(error));
    const res = await post(path, true);
    // The error table's status for the kind: 503 for overloaded_error, 502 for server_error.
    expect(res.status).toBe(protocol === 'anthropic' ? 503 : 502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as any;
    if (ROUTES[path].path === '/v1/messages') expect(body).toMatchObject({ type: 'error', error: { message: 'Overloaded right now' } });
    else expect(body).toMatchObject({ error: { message: 'Overloaded right now' } });
    const recorded = await recordedOnce();
    expect(recorded).toMatchObject({ error_type: 'upstream_error' });
    expect(recorded.error).toMatch(/^The upstream answered 200 with an error instead of an event stream: /);
  });
});
