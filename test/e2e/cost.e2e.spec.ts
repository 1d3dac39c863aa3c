import Anthropic from '@anthropic-ai/sdk';
import { load } from 'js-yaml';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogging } from '../../src/logging/logger';
import type { WireRunningTotals, WireSeriesRow, WireTrace } from '../../src/metrics/format/wire';
import type { WirePrices } from '../../src/metrics/format/prices';
import { startApp, type RunningApp } from '../support/app';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

// Golden costs, worked by hand from the providers' published list prices (USD per million tokens).
// claude-sonnet-4-5: input 3, 5-minute cache write 3.75, 1-hour write 6, cache read 0.30, output 15;
// above 200k prompt tokens: input 6, cache read 0.60, output 22.50. gpt-4o: input 2.50, cached 1.25, output 10.

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface Answer {
  json?: unknown;
  sse?: unknown[];
}

let next: Answer = {};
let upstream: Server;
let gw: RunningApp;
let anthropic: Anthropic;
let openai: OpenAI;
let seq = 0;
const logs = new Capture();
let pricesPath: string;

const sse = (events: unknown[]): string =>
  events.map((e) => (typeof e === 'string' ? `data: ${e}\n\n` : `event: ${(e as { type?: string }).type ?? 'message'}\ndata: ${JSON.stringify(e)}\n\n`)).join('');

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (next.sse !== undefined) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(sse(next.sse));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(next.json));
      }
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  pricesPath = join(mkdtempSync(join(tmpdir(), 'vdm-cost-')), 'prices.yaml');
  writeFileSync(pricesPath, 'prices:\n  - provider: azure\n    model: "gpt-4o*"\n    input: 1\n    output: 2\n    cache_read: 0.1\n');
  gw = await startApp(
    {
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
      ANTHROPIC_BASE_URL: url,
      OPENAI_API_KEY: 'sk-openai-upstream',
      OPENAI_BASE_URL: `${url}/v1`,
      AZURE_API_KEY: 'sk-azure-upstream',
      AZURE_BASE_URL: `${url}/v1`,
      LOCAL_API_KEY: 'unused',
      LOCAL_BASE_URL: `${url}/v1`,
      VDM_DEFAULT_PROVIDER: 'openai',
      VDM_PRICES_FILE: pricesPath,
    },
    { pino: createLogging({ logLevel: 'info', logPretty: false }, logs).pino },
  );
  anthropic = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'client', baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gw.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

async function trace(id: string): Promise<WireTrace> {
  let found: WireTrace | undefined;
  await eventually(() => (found = gw.tracker.recentTraces(200).find((t) => t.request_id === id)) !== undefined);
  expect(found!.status).toBe('ok');
  return found!;
}

const messages = [{ role: 'user' as const, content: 'hi' }];

function anthropicMessage(model: string, usage: Record<string, unknown>) {
  return { id: 'msg_c', type: 'message', role: 'assistant', model, content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', stop_sequence: null, usage };
}

/** Usage split as Anthropic streams it: input and cache in message_start, output in message_delta. */
function anthropicStream(model: string, usage: Record<string, unknown>): unknown[] {
  const { output_tokens: output, ...start } = usage;
  return [
    { type: 'message_start', message: { ...anthropicMessage(model, { ...start, output_tokens: 1 }), content: [], stop_reason: null } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ok' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: output } },
    { type: 'message_stop' },
  ];
}

const completion = (model: string, usage: unknown) => ({
  id: 'chatcmpl-c',
  object: 'chat.completion',
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage,
});
const chunk = (model: string, delta: object, finish: string | null = null) => ({ id: 'chatcmpl-c', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] });
const openaiStream = (model: string, usage: unknown): unknown[] => [
  chunk(model, { role: 'assistant', content: '' }),
  chunk(model, { content: 'ok' }),
  chunk(model, {}, 'stop'),
  { id: 'chatcmpl-c', object: 'chat.completion.chunk', model, choices: [], usage },
  '[DONE]',
];

async function viaAnthropic(model: string, answer: Answer, stream: boolean): Promise<WireTrace> {
  next = answer;
  const id = `cost-${++seq}`;
  const headers = { 'x-request-id': id };
  if (stream) await anthropic.messages.stream({ model, max_tokens: 10, messages }, { headers }).finalMessage();
  else await anthropic.messages.create({ model, max_tokens: 10, messages }, { headers });
  return trace(id);
}

async function viaOpenAI(model: string, answer: Answer, stream: boolean): Promise<WireTrace> {
  next = answer;
  const id = `cost-${++seq}`;
  const headers = { 'x-request-id': id };
  if (stream) {
    const s = await openai.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } }, { headers });
    for await (const _ of s) void _;
  } else await openai.chat.completions.create({ model, messages }, { headers });
  return trace(id);
}

const ANTHROPIC_CACHED = {
  input_tokens: 1000,
  cache_creation_input_tokens: 2000,
  cache_creation: { ephemeral_5m_input_tokens: 1500, ephemeral_1h_input_tokens: 500 },
  cache_read_input_tokens: 10_000,
  output_tokens: 500,
};
const ANTHROPIC_LONG = { input_tokens: 150_000, cache_read_input_tokens: 60_000, output_tokens: 1000 };
const OPENAI_CACHED = { prompt_tokens: 3000, prompt_tokens_details: { cached_tokens: 2000 }, completion_tokens: 400, total_tokens: 3400 };
const OVERRIDE_USAGE = { prompt_tokens: 1500, prompt_tokens_details: { cached_tokens: 500 }, completion_tokens: 100, total_tokens: 1600 };

describe('cost of each request, through the official SDKs, streaming and not', () => {
  it.each([false, true])('Anthropic cache writes (5-minute and 1-hour) and reads, stream=%s', async (stream) => {
    const model = 'claude-sonnet-4-5-20250929';
    const answer = stream ? { sse: anthropicStream(model, ANTHROPIC_CACHED) } : { json: anthropicMessage(model, ANTHROPIC_CACHED) };
    // 1000*3 + 1500*3.75 + 500*6 + 10000*0.30 + 500*15 = 22125 per million
    expect((await viaAnthropic(`anthropic:${model}`, answer, stream)).cost_usd).toBe(0.022125);
  });

  it.each([false, true])('a long-context tier: a prompt past 200k tokens at the tier rates, stream=%s', async (stream) => {
    const model = 'claude-sonnet-4-5';
    const answer = stream ? { sse: anthropicStream(model, ANTHROPIC_LONG) } : { json: anthropicMessage(model, ANTHROPIC_LONG) };
    // 150000*6 + 60000*0.60 + 1000*22.50 = 958500 per million
    expect((await viaAnthropic(`anthropic:${model}`, answer, stream)).cost_usd).toBe(0.9585);
  });

  it.each([false, true])('OpenAI cached prompt tokens at the cached rate, stream=%s', async (stream) => {
    const answer = stream ? { sse: openaiStream('gpt-4o', OPENAI_CACHED) } : { json: completion('gpt-4o', OPENAI_CACHED) };
    // (3000-2000)*2.50 + 2000*1.25 + 400*10 = 9000 per million
    expect((await viaOpenAI('openai:gpt-4o', answer, stream)).cost_usd).toBe(0.009);
  });

  it.each([false, true])('the Anthropic-to-OpenAI conversion path prices the same usage the same, stream=%s', async (stream) => {
    const answer = stream ? { sse: openaiStream('gpt-4o', OPENAI_CACHED) } : { json: completion('gpt-4o', OPENAI_CACHED) };
    expect((await viaAnthropic('openai:gpt-4o', answer, stream)).cost_usd).toBe(0.009);
  });

  it.each([false, true])('a VDM_PRICES_FILE override wins over the catalog, stream=%s', async (stream) => {
    const answer = stream ? { sse: openaiStream('gpt-4o', OVERRIDE_USAGE) } : { json: completion('gpt-4o', OVERRIDE_USAGE) };
    // 1000*1 + 500*0.10 + 100*2 = 1250 per million
    expect((await viaOpenAI('azure:gpt-4o', answer, stream)).cost_usd).toBe(0.00125);
  });

  it.each([false, true])('an unknown model: cost_usd null, never 0, stream=%s', async (stream) => {
    const answer = stream ? { sse: openaiStream('llama3:8b', OPENAI_CACHED) } : { json: completion('llama3:8b', OPENAI_CACHED) };
    expect((await viaOpenAI('local:llama3:8b', answer, stream)).cost_usd).toBeNull();
  });

  it('logs one warning per unpriced provider/model, not one per request', () => {
    const warnings = logs.text.split('\n').filter((l) => l.includes('No price known for provider=local model=llama3:8b'));
    expect(warnings).toHaveLength(1);
  });

  it('the request completed line carries the cost', () => {
    const completed = logs.text
      .split('\n')
      .filter((l) => l.includes('"request completed"'))
      .map((l) => JSON.parse(l) as { cost_usd?: number | null; model?: string });
    expect(completed.some((l) => l.cost_usd === 0.022125)).toBe(true);
    expect(completed.some((l) => l.model === 'llama3:8b' && l.cost_usd === null)).toBe(true);
  });

  it('GET /metrics/prices names the catalog version and where each price came from', async () => {
    const doc = (await (await fetch(`${gw.url}/metrics/prices`)).json()) as WirePrices;
    expect(doc.catalog.name).toBe('@pydantic/genai-prices');
    expect(doc.catalog.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(doc.prices_file).toBe(pricesPath);
    const azure = doc.prices.find((p) => p.provider === 'azure' && p.model === 'gpt-4o');
    expect(azure).toMatchObject({ priced: true, input: 1, output: 2, cache_read: 0.1, source: { kind: 'override', file: pricesPath, entry: 0 } });
    const sonnet = doc.prices.find((p) => p.provider === 'anthropic' && p.model === 'claude-sonnet-4-5');
    expect(sonnet).toMatchObject({ input: 3, output: 15, cache_read: 0.3, cache_write: 3.75, cache_write_1h: 6, source: { kind: 'catalog', catalog_model: 'claude-sonnet-4-5' } });
    expect(sonnet!.tiers).toEqual([expect.objectContaining({ above_prompt_tokens: 200_000, input: 6, output: 22.5 })]);
    expect(doc.prices.find((p) => p.provider === 'local')).toMatchObject({ priced: false, input: null, source: null });
    const one = (await (await fetch(`${gw.url}/metrics/prices?provider=openai&model=gpt-4o-mini`)).json()) as WirePrices;
    expect(one.prices).toEqual([expect.objectContaining({ provider: 'openai', model: 'gpt-4o-mini', priced: true })]);
  });

  it('YAML = JSON = /metrics = the sum of the traces, cost and unpriced requests included', async () => {
    const traces = gw.tracker.recentTraces(200);
    const nano = (usd: number): number => Math.round(usd * 1e9);
    const byModel = new Map<string, { cost: number; unpriced: number }>();
    for (const t of traces) {
      const key = `${t.provider}:${t.model}`;
      const e = byModel.get(key) ?? { cost: 0, unpriced: 0 };
      if (t.cost_usd === null) e.unpriced++;
      else e.cost += nano(t.cost_usd);
      byModel.set(key, e);
    }
    const json = (await (await fetch(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).json()) as WireRunningTotals & { series: WireSeriesRow[] };
    const yaml = load(await (await fetch(`${gw.url}/metrics/running-totals?include_active=false`)).text()) as WireRunningTotals;
    const prom = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
    const totalNano = [...byModel.values()].reduce((s, e) => s + e.cost, 0);
    const totalUnpriced = [...byModel.values()].reduce((s, e) => s + e.unpriced, 0);
    expect(totalUnpriced).toBe(2);
    for (const doc of [json, yaml]) {
      expect(nano(doc.summary.total_cost_usd)).toBe(totalNano);
      expect(doc.summary.total_unpriced_requests).toBe(totalUnpriced);
    }
    expect(nano(sumOf(prom, 'vdm_cost_usd_total'))).toBe(totalNano);
    expect(sumOf(prom, 'vdm_unpriced_requests_total')).toBe(totalUnpriced);
    for (const [key, e] of byModel) {
      const [provider, ...rest] = key.split(':');
      const model = rest.join(':');
      for (const doc of [json, yaml]) {
        const section = doc.providers[provider].models[model];
        expect(nano(section.total.cost_usd), key).toBe(e.cost);
        expect(nano(section.streaming.cost_usd) + nano(section.non_streaming.cost_usd)).toBe(e.cost);
        expect(section.total.unpriced_requests).toBe(e.unpriced);
      }
      expect(nano(sumOf(prom, 'vdm_cost_usd_total', { provider, model })), key).toBe(e.cost);
      expect(sumOf(prom, 'vdm_unpriced_requests_total', { provider, model })).toBe(e.unpriced);
      const rows = json.series.filter((r) => r.provider === provider && r.model === model && r.mode === 'total');
      expect(nano(rows[0].cost_usd)).toBe(e.cost);
    }
  });
});
