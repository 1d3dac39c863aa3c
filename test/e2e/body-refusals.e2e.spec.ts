import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileGateway, spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { head, rawRequest, type RawResponse } from '../support/raw-http';

const KEY = 'gw-refusals-key-41d9';
const TIMEOUT_SECONDS = 0.5;
const LIMIT = 100_000;
const BIG = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 5,
  messages: [{ role: 'user', content: 'a'.repeat(300_000) }],
});

let build: ReturnType<typeof compileGateway>;
let proc: GatewayProcess | undefined;

beforeAll(() => {
  build = compileGateway();
});
afterAll(() => build.remove());
afterEach(async () => {
  if (proc && proc.child.exitCode === null) {
    const exited = new Promise((r) => proc!.child.once('exit', r));
    proc.child.kill('SIGKILL');
    await exited;
  }
  proc = undefined;
});

function portOf(p: GatewayProcess): number {
  return Number(new URL(p.url).port);
}

/** Chunked transfer coding of `body` in pieces of `size` bytes, with the last chunk. */
function chunked(body: string, size: number): string {
  let out = '';
  for (let i = 0; i < body.length; i += size) {
    const piece = body.slice(i, i + size);
    out += `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

const json = { 'content-type': 'application/json', 'x-api-key': KEY };

/** Each way the gateway refuses a request before a handler runs, with the status it answers. */
const refusals: [string, number, (port: number) => Promise<RawResponse>][] = [
  [
    'a body whose announced length is over the limit',
    413,
    (port) =>
      rawRequest(
        port,
        head('POST', '/v1/messages', { ...json, 'content-length': Buffer.byteLength(BIG) }),
        BIG,
      ),
  ],
  [
    'an announced 40 MB body of which only the start is sent',
    413,
    (port) =>
      rawRequest(
        port,
        head('POST', '/v1/messages', { ...json, 'content-length': 40 * 1024 * 1024 }),
        '{"model":"a',
      ),
  ],
  [
    'a chunked body that grows over the limit',
    413,
    (port) =>
      rawRequest(
        port,
        head('POST', '/v1/messages', { ...json, 'transfer-encoding': 'chunked' }),
        chunked(BIG, 16_384),
      ),
  ],
  [
    'a body of a type the API does not take',
    415,
    (port) =>
      rawRequest(
        port,
        head('POST', '/v1/messages', {
          'content-type': 'application/octet-stream',
          'x-api-key': KEY,
          'content-length': 5,
        }),
        'hello',
      ),
  ],
  [
    'a body that is not JSON',
    400,
    (port) => rawRequest(port, head('POST', '/v1/messages', { ...json, 'content-length': 5 }), '{"mo:'),
  ],
  [
    'a body that trickles in too slowly',
    408,
    (port) =>
      rawRequest(port, head('POST', '/v1/messages', { ...json, 'content-length': 100 }), '{"mo', 10_000),
  ],
  [
    'a request without the gateway key',
    401,
    (port) =>
      rawRequest(
        port,
        head('POST', '/v1/messages', {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(BIG),
        }),
        BIG,
      ),
  ],
];

/** Sends a refused request three times, waits past the body timer's full delay, and checks the process still serves. */
async function refuseAndSurvive(
  env: Record<string, string>,
  status: number,
  send: (port: number) => Promise<RawResponse>,
): Promise<void> {
  proc = await spawnGatewayProcess(build.main, {
    ANTHROPIC_API_KEY: 'sk-ant-refusals-1',
    REQUEST_BODY_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    ...env,
  });
  const exited = new Promise<string>((resolve) =>
    proc!.child.once('exit', (code, signal) => resolve(`exited (${code ?? signal})`)),
  );
  for (let i = 0; i < 3; i++) expect((await send(portOf(proc))).status).toBe(status);
  // Twice the body timer's full delay: any timer the refused requests left behind has fired by now.
  const waited = new Promise<string>((resolve) =>
    setTimeout(() => resolve('running'), TIMEOUT_SECONDS * 2_000),
  );
  expect(await Promise.race([exited, waited])).toBe('running');
  expect((await fetch(`${proc.url}/health`)).status).toBe(200);
  expect(proc.output()).not.toMatch(/BodyTimeoutError|Unhandled|uncaught/i);
}

describe('a refused request leaves the process serving', () => {
  it.each(refusals)(
    '%s: answered %i, and the process still serves after the body timer would have fired',
    async (_name, status, send) => {
      await refuseAndSurvive({ PROXY_API_KEY: KEY, REQUEST_BODY_LIMIT_BYTES: String(LIMIT) }, status, send);
    },
    30_000,
  );

  it('with no gateway key and the default body limit, an announced 40 MB body is answered 413 and the process still serves', async () => {
    const announced = head('POST', '/v1/messages', {
      'content-type': 'application/json',
      'content-length': 40 * 1024 * 1024,
    });
    await refuseAndSurvive({}, 413, (port) =>
      rawRequest(port, announced, '{"model":"claude-sonnet-4-5","messages":['),
    );
  }, 30_000);
});
