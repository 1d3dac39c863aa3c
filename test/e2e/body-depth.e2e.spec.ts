import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { MAX_JSON_DEPTH } from '../../src/common/json-body';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

const gw = useGateway(undefined, { per: 'file' });

/** `depth` levels of arrays or objects around a number, as raw JSON text (JSON.stringify itself cannot nest this deep). */
function nested(shape: 'arrays' | 'objects', depth: number): string {
  return shape === 'arrays' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

const user = '[{"role":"user","content":"hi"}]';
const ROUTES = [
  { path: '/v1/messages', counted: true, body: (deep: string) => `{"model":"sonnet","max_tokens":10,"messages":${user},"metadata":${deep}}` },
  // Converted to the OpenAI format on the way: the deep part sits in a tool_use input.
  {
    path: '/v1/messages',
    counted: true,
    body: (deep: string) =>
      `{"model":"openai:gpt-4o","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"x":${deep}}}]},{"role":"user","content":"go"}]}`,
  },
  { path: '/v1/chat/completions', counted: true, body: (deep: string) => `{"model":"openai:gpt-4o","messages":${user},"tools":${deep}}` },
  { path: '/v1/messages/count_tokens', counted: false, body: (deep: string) => `{"model":"sonnet","messages":${user},"tools":${deep}}` },
  { path: '/v1/messages/count_tokens', counted: false, body: (deep: string) => `{"model":"openai:gpt-4o","messages":[{"role":"user","content":${deep}}]}` },
];

async function totals(): Promise<any> {
  return (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json();
}

async function badRequests(): Promise<number> {
  const samples = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
  return sumOf(samples, 'vdm_requests_total', { outcome: 'error', error_type: 'bad_request' });
}

describe('request bodies nested too deeply', () => {
  const cases = [10_000, 100_000].flatMap((depth) =>
    (['arrays', 'objects'] as const).flatMap((shape) => ROUTES.map((route, i) => ({ ...route, depth, shape, name: `${route.path} #${i}` }))),
  );

  it.each(cases)('$name, $depth levels of $shape: 400 in the API\'s own format, accounted once', async ({ path, counted, body, depth, shape }) => {
    const before = await totals();
    const bad = await badRequests();
    const upstreamCalls = gw.fake.requests.length;

    const res = await fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(nested(shape, depth)) });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(text).not.toMatch(/RangeError|stack|Maximum call/i);
    const doc = JSON.parse(text);
    const message = `Request body is nested too deeply (more than ${MAX_JSON_DEPTH} levels)`;
    if (path.startsWith('/v1/messages')) expect(doc).toEqual({ type: 'error', error: { type: 'invalid_request_error', message } });
    else expect(doc).toEqual({ error: { message, type: 'invalid_request_error', param: null, code: null } });

    await eventually(() => gw.tracker.activeCount === 0);
    const after = await totals();
    const n = counted ? 1 : 0;
    expect(after.summary.total_requests - before.summary.total_requests).toBe(n);
    expect(after.summary.total_errors - before.summary.total_errors).toBe(n);
    expect(after.summary.active_requests).toBe(0);
    expect((await badRequests()) - bad).toBe(n);
    if (counted) {
      const logs = (await (await fetch(`${gw.url}/metrics/logs?limit_errors=1`)).json()) as any;
      expect(logs.errors[0]).toMatchObject({ error_type: 'bad_request', error: message });
    }
    expect(gw.fake.requests.length).toBe(upstreamCalls);
  });

  it('keeps the JSON parser\'s other refusals: invalid JSON, an empty body, a __proto__ key', async () => {
    const before = (await totals()).summary;
    for (const body of ['{"model":', '', '{"model":"sonnet","messages":[],"__proto__":{"x":1}}']) {
      const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status, body).toBe(400);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    }
    await eventually(() => gw.tracker.activeCount === 0);
    const after = (await totals()).summary;
    expect([after.total_requests - before.total_requests, after.total_errors - before.total_errors]).toEqual([3, 3]);
  });

  it('still proxies a body nested well within the limit, passthrough and converted', async () => {
    const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
    let input: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < MAX_JSON_DEPTH - 10; i++) input = { a: input };
    const messages: Anthropic.MessageParam[] = [
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'ok' }] },
    ];
    for (const model of ['sonnet', 'openai:gpt-4o']) {
      gw.fake.enqueue({ text: 'fine', usage: { input: 5, output: 1 } });
      const message = await anthropic.messages.create({ model, max_tokens: 10, messages });
      expect(message.content[0]).toMatchObject({ type: 'text', text: 'fine' });
    }
    expect(await anthropic.messages.countTokens({ model: 'openai:gpt-4o', messages })).toMatchObject({ input_tokens: expect.any(Number) });
  });
});
