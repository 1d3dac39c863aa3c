import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { FakeUpstream, type Script } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

/**
 * Usage provenance (contract section 14), through real sockets: a fake upstream speaking each real
 * protocol, a client that leaves after the whole answer but before the usage event, answers without
 * usage, and the golden check: every estimate lies within ESTIMATE_TOLERANCE of what the upstream
 * would have reported. "What it would have reported" is counted here with another tokenizer
 * (cl100k_base; the gateway estimates with o200k_base) plus OpenAI's documented chat overhead
 * (3 tokens a message and 3 to prime the reply), the way a provider counts its own.
 */
const ESTIMATE_TOLERANCE = 0.25;

// The package exports its other encodings by subpath, which this project's module resolution does not type.
const { countTokens: referenceTokens } = createRequire(__filename)('gpt-tokenizer/encoding/cl100k_base') as typeof import('gpt-tokenizer');

const SYSTEM = 'You are a careful assistant who explains how things work to people who run services for a living.';
const QUESTION =
  'Our team runs a gateway in front of several language model providers. Clients sometimes read a whole streamed answer and then hang up before the final usage event arrives. ' +
  'How should the gateway account for those requests, so that the cost report still reflects what the providers will bill us at the end of the month?';
const ANSWER =
  'The provider bills for every answer it generates, whether or not the client stays to the end. ' +
  'So the gateway should never record such a request as free. When the usage event is missing, it can estimate the counts itself: ' +
  'the input from the request body it forwarded, and the output from the text it relayed to the client. ' +
  'Those estimates are priced exactly like reported counts, and each record says where its numbers came from, ' +
  'so that an operator can tell a reported figure from an estimated one. A reported count is never replaced by an estimate, ' +
  'and the share of estimated requests is shown next to the totals. Over a month, the estimates should come within a few percent of the bill, ' +
  'because most answers still end with a usage event and only the interrupted ones are estimated.';

/** What an upstream reports for the request above (system and user message) and the answer. */
const REFERENCE = {
  input: 3 + (3 + referenceTokens(SYSTEM)) + (3 + referenceTokens(QUESTION)),
  output: referenceTokens(ANSWER),
};
/** Anthropic reports the system prompt apart: the same total, part of it read from the cache. */
const ANTHROPIC_USAGE = { input: REFERENCE.input - 20, cacheRead: 20, output: REFERENCE.output };

const PRICES = { anthropic: { input: 3, output: 15, cacheRead: 0.3 }, openai: { input: 2.5, output: 10, cacheRead: 1.25 } };

let fake: FakeUpstream;
let gw: RunningApp;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  fake = await FakeUpstream.start();
  dir = mkdtempSync(join(tmpdir(), 'vdm-provenance-'));
  const prices = join(dir, 'prices.yaml');
  const entry = (p: 'anthropic' | 'openai'): string =>
    `  - {provider: ${p}, model: "*", input: ${PRICES[p].input}, output: ${PRICES[p].output}, cache_read: ${PRICES[p].cacheRead}, cache_write: ${PRICES[p].input}}\n`;
  writeFileSync(prices, `prices:\n${entry('anthropic')}${entry('openai')}`);
  env = {
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_PRICES_FILE: prices,
    VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
    STREAMING_READ_TIMEOUT_SECONDS: '30',
  };
  gw = await startApp(env);
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Api = 'anthropic' | 'openai_chat' | 'responses' | 'converted';

const PATHS: Record<Api, string> = { anthropic: '/v1/messages', openai_chat: '/v1/chat/completions', responses: '/v1/responses', converted: '/v1/messages' };

function bodyFor(api: Api, stream: boolean): Record<string, unknown> {
  switch (api) {
    case 'anthropic':
      return { model: 'anthropic:claude-test', max_tokens: 1024, stream, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }] };
    case 'converted':
      return { model: 'openai:gpt-test', max_tokens: 1024, stream, system: SYSTEM, messages: [{ role: 'user', content: QUESTION }] };
    case 'openai_chat':
      return { model: 'openai:gpt-test', stream, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] };
    case 'responses':
      return { model: 'openai:gpt-test', stream, instructions: SYSTEM, input: QUESTION };
  }
}

const usageFor = (api: Api): Script['usage'] => (api === 'anthropic' ? ANTHROPIC_USAGE : { input: REFERENCE.input, output: REFERENCE.output });

let seq = 0;

async function send(api: Api, body: Record<string, unknown>, requestId: string): Promise<Response> {
  return fetch(gw.url + PATHS[api], {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client', 'anthropic-version': '2023-06-01', 'x-request-id': requestId },
    body: JSON.stringify(body),
  });
}

/** The answer text in a client's event stream, in any of the three protocols. */
function answerOf(sse: string): string {
  let text = '';
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const event = JSON.parse(line.slice(6));
    if (event.type === 'content_block_delta') text += event.delta.text ?? '';
    else if (event.type === 'response.output_text.delta') text += event.delta;
    else if (Array.isArray(event.choices)) text += event.choices[0]?.delta?.content ?? '';
  }
  return text;
}

/** Reads the stream until the whole answer arrived (the upstream holds its usage event back), then leaves. */
async function readAnswerThenLeave(response: Response): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let sse = '';
  while (answerOf(sse.slice(0, sse.lastIndexOf('\n\n') + 1)) !== ANSWER) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before the answer was whole: ${sse.slice(-300)}`);
    sse += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return answerOf(sse);
}

async function traceOf(requestId: string): Promise<any> {
  await eventually(() => gw.tracker.recentTraces(50).some((t) => t.request_id === requestId));
  return gw.tracker.recentTraces(50).find((t) => t.request_id === requestId);
}

const nano = (usd: number): number => Math.round(usd * 1e9);
function costNano(provider: 'anthropic' | 'openai', t: { input_tokens: number; output_tokens: number; cache_read_tokens: number }): number {
  const p = PRICES[provider];
  return Math.round(t.input_tokens * p.input * 1e3 + t.output_tokens * p.output * 1e3 + t.cache_read_tokens * p.cacheRead * 1e3);
}

function expectWithinTolerance(estimate: number, reference: number): void {
  expect(Math.abs(estimate - reference)).toBeLessThanOrEqual(reference * ESTIMATE_TOLERANCE);
}

const APIS: Api[] = ['anthropic', 'openai_chat', 'responses', 'converted'];

describe('usage provenance', () => {
  it.each(APIS)('%s: a client that leaves after the whole streamed answer, before the usage event, is charged its estimate', async (api) => {
    const requestId = `leave-${api}-${++seq}`;
    fake.script({ text: ANSWER, usage: usageFor(api), fault: 'stall-before-usage' });
    expect(await readAnswerThenLeave(await send(api, bodyFor(api, true), requestId))).toBe(ANSWER);
    const trace = await traceOf(requestId);
    const provider = api === 'anthropic' ? 'anthropic' : 'openai';
    expect(trace).toMatchObject({ error_type: 'client_disconnect', provider });
    expectWithinTolerance(trace.output_tokens, REFERENCE.output);
    if (api === 'anthropic') {
      // message_start reported the input and the cache read: kept exactly, only the output is estimated.
      expect(trace).toMatchObject({ usage_source: 'partial', input_tokens: ANTHROPIC_USAGE.input, cache_read_tokens: ANTHROPIC_USAGE.cacheRead });
    } else {
      expect(trace).toMatchObject({ usage_source: 'estimated', cache_read_tokens: 0 });
      expectWithinTolerance(trace.input_tokens, REFERENCE.input);
    }
    expect(nano(trace.cost_usd)).toBe(costNano(provider, trace));
    expect(trace.cost_usd).toBeGreaterThan(0);
  });

  it.each([...APIS])('%s: an answer without a usage object is estimated, stream or not', async (api) => {
    for (const stream of [false, true]) {
      const requestId = `nousage-${api}-${stream}-${++seq}`;
      fake.script({ text: ANSWER, omitUsage: true });
      const response = await send(api, bodyFor(api, stream), requestId);
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(stream ? answerOf(body) : body).toContain('never record such a request as free');
      const trace = await traceOf(requestId);
      expect(trace).toMatchObject({ usage_source: 'estimated', status: 'ok', cache_read_tokens: 0 });
      expectWithinTolerance(trace.input_tokens, REFERENCE.input);
      expectWithinTolerance(trace.output_tokens, REFERENCE.output);
      expect(trace.cost_usd).toBeGreaterThan(0);
    }
  });

  it('embeddings: an answer without usage is estimated from its input, which has no output', async () => {
    const input = [QUESTION, SYSTEM];
    const requestId = `embed-${++seq}`;
    fake.script({ omitUsage: true });
    const response = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ model: 'openai:text-embedding-test', input }),
    });
    expect(response.status).toBe(200);
    const trace = await traceOf(requestId);
    expect(trace).toMatchObject({ usage_source: 'estimated', output_tokens: 0 });
    expectWithinTolerance(trace.input_tokens, referenceTokens(QUESTION) + referenceTokens(SYSTEM));
  });

  it.each(APIS)('%s: reported usage stays reported, exactly as the upstream gave it', async (api) => {
    for (const stream of [false, true]) {
      const requestId = `reported-${api}-${stream}-${++seq}`;
      fake.script({ text: ANSWER, usage: usageFor(api) });
      const response = await send(api, bodyFor(api, stream), requestId);
      expect(response.status).toBe(200);
      await response.text();
      const trace = await traceOf(requestId);
      const u = usageFor(api)!;
      expect(trace).toMatchObject({ usage_source: 'reported', input_tokens: u.input, output_tokens: u.output, cache_read_tokens: u.cacheRead ?? 0 });
    }
  });

  it('a request refused before the upstream, or refused by it, has nothing to count: none', async () => {
    const refused = `refused-${++seq}`;
    const before = fake.requests.length;
    const bad = await send('anthropic', { model: 'anthropic:claude-test', max_tokens: 10 }, refused);
    expect(bad.status).toBe(400);
    expect(fake.requests.length).toBe(before);
    expect(await traceOf(refused)).toMatchObject({ usage_source: 'none', input_tokens: 0, output_tokens: 0, error_type: 'bad_request' });

    const failed = `upstream-500-${++seq}`;
    fake.script({ status: 500 });
    expect((await send('openai_chat', bodyFor('openai_chat', true), failed)).status).toBe(500);
    expect(await traceOf(failed)).toMatchObject({ usage_source: 'none', input_tokens: 0, output_tokens: 0 });
  });

  it('counts estimated requests in the running totals (JSON, YAML, series), Prometheus, the stored rows and /metrics/usage', async () => {
    const requestId = `counted-${++seq}`;
    fake.script({ text: ANSWER, omitUsage: true });
    await (await send('openai_chat', bodyFor('openai_chat', false), requestId)).text();
    await traceOf(requestId);
    await eventually(() => gw.tracker.activeCount === 0);

    const traces = gw.tracker.recentTraces(200);
    const estimated = traces.filter((t) => t.usage_source === 'estimated' || t.usage_source === 'partial');
    expect(estimated.length).toBeGreaterThan(5);

    const json = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
    const yaml = load(await (await fetch(`${gw.url}/metrics/running-totals`)).text()) as any;
    expect(json.summary.total_estimated_requests).toBe(estimated.length);
    expect(yaml.summary.total_estimated_requests).toBe(estimated.length);
    const resolvedModel = json.providers.openai.models['gpt-test'];
    const openaiEstimated = estimated.filter((t) => t.provider === 'openai' && t.model === 'gpt-test').length;
    expect(resolvedModel.total.estimated_requests).toBe(openaiEstimated);
    expect(resolvedModel.streaming.estimated_requests + resolvedModel.non_streaming.estimated_requests).toBe(openaiEstimated);
    expect(json.providers.anthropic.rollup.total.estimated_requests).toBe(estimated.filter((t) => t.provider === 'anthropic').length);
    const series = json.series.filter((r: any) => r.mode === 'total');
    expect(series.reduce((n: number, r: any) => n + r.estimated_requests, 0)).toBe(estimated.length);
    const clientSeries = json.client_series.filter((r: any) => r.mode === 'total');
    expect(clientSeries.reduce((n: number, r: any) => n + r.estimated_requests, 0)).toBe(estimated.length);

    const exposition = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
    expect(sumOf(exposition, 'vdm_estimated_requests_total')).toBe(estimated.length);
    expect(sumOf(exposition, 'vdm_estimated_requests_total', { provider: 'openai', model: 'gpt-test' })).toBe(openaiEstimated);

    await gw.app.get(UsageStore).flush();
    const rows = (await (await fetch(`${gw.url}/metrics/requests?limit=1000`)).json()) as any;
    const stored = new Map<string, string>(rows.requests.map((r: any) => [r.request_id, r.usage_source]));
    for (const t of traces) expect(stored.get(t.request_id)).toBe(t.usage_source);

    const hour = Math.floor(Date.now() / 3_600_000) * 3600;
    const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
    const range = `from=${iso(hour - 3600)}&to=${iso(hour + 2 * 3600)}`;
    for (const query of [range, `${range}&group_by=session`, `${range}&group_by=provider`]) {
      const usage = (await (await fetch(`${gw.url}/metrics/usage?${query}`)).json()) as any;
      expect(usage.totals.estimated_requests).toBe(estimated.length);
    }
  });

  it('a restart restores usage_source with each trace and estimated_requests with the totals', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await gw.app.get(UsageStore).flush();
    const before = gw.tracker.recentTraces(200);
    const totalsBefore = ((await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any).summary.total_estimated_requests;
    expect(totalsBefore).toBeGreaterThan(0);
    await gw.close();
    gw = await startApp({ ...env });
    const after = new Map(gw.tracker.recentTraces(200).map((t) => [t.request_id, t.usage_source]));
    for (const t of before) expect(after.get(t.request_id), t.request_id).toBe(t.usage_source);
    const summary = ((await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any).summary;
    expect(summary.total_estimated_requests).toBe(totalsBefore);
  });
});
