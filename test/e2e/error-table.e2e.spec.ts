import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyHttpError, classifyInBandError } from '../../src/core/error-table';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';

let answer: (res: http.ServerResponse) => void = (res) => res.writeHead(500).end();
let server: http.Server;
let upstreamUrl = '';
let gw: RunningApp;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gw = await startApp({
    ANTHROPIC_API_KEY: 'sk-ant-up',
    ANTHROPIC_BASE_URL: upstreamUrl,
    OPENAI_API_KEY: 'sk-oa-up',
    OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    VDM_DEFAULT_PROVIDER: 'anthropic',
  });
});
afterAll(async () => {
  await gw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterEach(async () => {
  await eventually(() => gw.tracker.activeCount === 0);
});

const PATHS = {
  'anthropic passthrough': {
    path: '/v1/messages',
    model: 'anthropic:claude-test',
    upstream: 'anthropic',
    client: 'anthropic',
  },
  conversion: { path: '/v1/messages', model: 'openai:gpt-test', upstream: 'openai', client: 'anthropic' },
  'openai passthrough': {
    path: '/v1/chat/completions',
    model: 'openai:gpt-test',
    upstream: 'openai',
    client: 'openai',
  },
} as const;
type PathName = keyof typeof PATHS;

/** Representative rows: the two the paths used to disagree on, and one of each other kind. */
const ROWS = [
  { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
  { status: 400, type: 'invalid_request_error', code: null },
  { status: 503, type: 'overloaded_error', code: null },
  { status: 500, type: 'server_error', code: null },
];

function errorPayload(protocol: 'anthropic' | 'openai', row: (typeof ROWS)[number]): object {
  return protocol === 'anthropic'
    ? { type: 'error', error: { type: row.code ?? row.type, message: 'upstream says no' } }
    : { error: { type: row.type, code: row.code, message: 'upstream says no', param: null } };
}

async function recorded(): Promise<{ error_type: string; error: string }> {
  await eventually(() => gw.tracker.activeCount === 0);
  const logs = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as {
    errors: { error_type: string; error: string }[];
  };
  return logs.errors[0];
}

function post(name: PathName, stream: boolean): Promise<Response> {
  const { path, model } = PATHS[name];
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 5, stream, messages: [{ role: 'user', content: 'x' }] }),
  });
}

const START = {
  anthropic: `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', content: [], usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`,
  openai: `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-test', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] })}\n\n`,
};

describe.each(Object.keys(PATHS) as PathName[])('the error table through the app, %s', (name) => {
  const { upstream, client } = PATHS[name];

  it.each(ROWS)('an upstream $status $type/$code answer', async (row) => {
    answer = (res) =>
      res
        .writeHead(row.status, { 'content-type': 'application/json' })
        .end(JSON.stringify(errorPayload(upstream, row)));
    const res = await post(name, false);
    const body = (await res.json()) as { error: { type: string } };
    const expected = classifyHttpError(row.status, row);
    expect(res.status).toBe(row.status);
    if (name === 'conversion') expect(body.error.type).toBe(expected.anthropicType);
    expect((await recorded()).error_type).toBe(expected.errorType);
  });

  it.each(ROWS)('a $type/$code event inside a 200 stream', async (row) => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = JSON.stringify(errorPayload(upstream, row));
      res.end(
        START[upstream] +
          (upstream === 'anthropic' ? `event: error\ndata: ${event}\n\n` : `data: ${event}\n\n`),
      );
    };
    const text = await (await post(name, true)).text();
    const expected = classifyInBandError(row);
    const line = text.split('\n').find((l) => l.startsWith('data: ') && l.includes('"error"'));
    const event = JSON.parse(line!.slice('data: '.length)) as { error: { type: string } };
    expect(event.error.type).toBe(
      name === 'conversion'
        ? expected.anthropicType
        : client === 'anthropic'
          ? (row.code ?? row.type)
          : row.type,
    );
    expect((await recorded()).error_type).toBe(expected.errorType);
  });

  it('records a malformed event followed by a reset as a streaming_error, not an unreachable upstream', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        START[upstream] +
          (upstream === 'anthropic'
            ? 'event: content_block_delta\ndata: {not json\n\n'
            : 'data: {not json\n\n'),
      );
      setTimeout(() => res.socket?.resetAndDestroy(), 50);
    };
    await (await post(name, true)).text().catch(() => '');
    const error = await recorded();
    expect(error.error_type).toBe('streaming_error');
    expect(error.error).toMatch(/invalid JSON/);
  });
});
