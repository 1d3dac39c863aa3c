import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { eventually } from '../support/sse-client';

const gw = useGateway((fake) => ({
  ANTHROPIC_API_KEY: 'sk-ant-upstream',
  ANTHROPIC_BASE_URL: fake.url,
  OPENAI_API_KEY: 'sk-openai-upstream',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  VDM_DEFAULT_PROVIDER: 'anthropic',
}));
let anthropic: Anthropic;
let openai: OpenAI;
/** Where the upstream's redirects point: it must never be asked anything. */
let elsewhere: http.Server;
let elsewhereHits = 0;
let elsewhereUrl: string;

beforeAll(async () => {
  elsewhere = http.createServer((_req, res) => {
    elsewhereHits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
});
beforeEach(async () => {
  await gw.boot();
  anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
});

const RATE_HEADERS = {
  'retry-after': '7',
  'retry-after-ms': '7000',
  'x-ratelimit-limit-requests': '500',
  'x-ratelimit-remaining-requests': '0',
  'x-ratelimit-reset-requests': '7s',
  'anthropic-ratelimit-requests-remaining': '0',
  'anthropic-ratelimit-tokens-reset': '2030-01-01T00:00:00Z',
  'openai-processing-ms': '12',
  'x-should-retry': 'true',
  'set-cookie': 'session=upstream-secret; Path=/',
  'x-internal-node': 'pod-17.upstream.internal',
};

const message = { max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] };

/** What the client sees of the upstream's headers, whatever the path. */
function expectForwarded(headers: Headers): void {
  for (const name of ['retry-after', 'retry-after-ms', 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', 'anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-tokens-reset', 'openai-processing-ms', 'x-should-retry'] as const) {
    expect(headers.get(name), name).toBe(RATE_HEADERS[name]);
  }
  expect(headers.get('set-cookie')).toBeNull();
  expect(headers.get('x-internal-node')).toBeNull();
  const upstreamId = gw.fake.requests.at(-1)!.protocol === 'anthropic' ? /^req_011/ : /^req_[0-9a-f]{32}$/;
  expect(headers.get('upstream-request-id')).toMatch(upstreamId);
  // The gateway's own id stays the gateway's.
  expect(headers.get('x-request-id')).not.toBe(headers.get('upstream-request-id'));
  expect(headers.get('x-request-id')).toMatch(/\S/);
}

async function lastError(): Promise<any> {
  await eventually(() => gw.tracker.activeCount === 0);
  const logs = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as any;
  expect(logs.errors).toHaveLength(1);
  return logs.errors[0];
}

describe('upstream response headers clients rely on', () => {
  it.each([
    ['anthropic passthrough', 'anthropic:claude-test'],
    ['anthropic to openai', 'openai:gpt-test'],
  ])('a 429 on %s keeps retry-after and the rate-limit headers', async (_path, model) => {
    gw.fake.script({ status: 429, headers: RATE_HEADERS });
    const error = await anthropic.messages.create({ model, ...message }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expectForwarded((error as InstanceType<typeof Anthropic.APIError>).headers!);
    expect(await lastError()).toMatchObject({ error_type: 'rate_limit' });
  });

  it('a 429 on /v1/chat/completions keeps retry-after and the rate-limit headers', async () => {
    gw.fake.script({ status: 429, headers: RATE_HEADERS });
    const error = await openai.chat.completions.create({ model: 'openai:gpt-test', messages: message.messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expectForwarded((error as InstanceType<typeof OpenAI.APIError>).headers!);
    expect(await lastError()).toMatchObject({ error_type: 'rate_limit' });
  });

  it.each([
    ['anthropic passthrough', 'anthropic:claude-test'],
    ['anthropic to openai', 'openai:gpt-test'],
  ])('a 200 on %s carries the rate-limit headers, streaming or not', async (_path, model) => {
    gw.fake.script({ headers: RATE_HEADERS });
    const plain = await anthropic.messages.create({ model, ...message }).withResponse();
    expect(plain.data.content[0]).toMatchObject({ type: 'text' });
    expectForwarded(plain.response.headers);
    const stream = await anthropic.messages.create({ model, ...message, stream: true }).withResponse();
    for await (const _ of stream.data);
    expectForwarded(stream.response.headers);
  });

  it('a 200 on /v1/chat/completions carries the rate-limit headers, streaming or not', async () => {
    gw.fake.script({ headers: RATE_HEADERS });
    const plain = await openai.chat.completions.create({ model: 'openai:gpt-test', messages: message.messages }).withResponse();
    expect(plain.data.choices[0].message.content).toEqual(expect.any(String));
    expectForwarded(plain.response.headers);
    const stream = await openai.chat.completions.create({ model: 'openai:gpt-test', messages: message.messages, stream: true }).withResponse();
    for await (const _ of stream.data);
    expectForwarded(stream.response.headers);
  });
});

describe('an upstream redirect', () => {
  it.each([
    ['anthropic passthrough', 'anthropic:claude-test', false],
    ['anthropic passthrough', 'anthropic:claude-test', true],
    ['anthropic to openai', 'openai:gpt-test', false],
    ['anthropic to openai', 'openai:gpt-test', true],
  ])('on %s (%s), stream %s: not followed, 502 upstream_error in the Anthropic format, no Location', async (_path, model, stream) => {
    gw.fake.script({ status: 302, headers: { location: `${elsewhereUrl}/v1/messages?token=abc` } });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, ...message, stream }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('location')).toBeNull();
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'The upstream answered 302, a redirect the gateway does not follow' } });
    const recorded = await lastError();
    expect(recorded).toMatchObject({ error_type: 'upstream_error' });
    expect(recorded.error).toBe(`The upstream answered 302, a redirect the gateway does not follow, to ${elsewhereUrl}/v1/messages`);
    expect(elsewhereHits).toBe(0);
  });

  it.each([false, true])('on /v1/chat/completions (stream %s) is not followed: 502 upstream_error in the OpenAI format', async (stream) => {
    gw.fake.script({ status: 301, headers: { location: `${elsewhereUrl}/v1/chat/completions` } });
    const error = await openai.chat.completions.create({ model: 'openai:gpt-test', messages: message.messages, stream }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(502);
    expect(apiError.headers!.get('location')).toBeNull();
    expect(apiError.error).toMatchObject({ type: 'server_error', message: 'The upstream answered 301, a redirect the gateway does not follow' });
    expect(await lastError()).toMatchObject({ error_type: 'upstream_error' });
    expect(elsewhereHits).toBe(0);
  });
});
