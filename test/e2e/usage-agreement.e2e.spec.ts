import Anthropic from '@anthropic-ai/sdk';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicUsage, foldUsage, openaiUsage, type UsagePatch } from '../../src/core/usage';
import type { WireTrace } from '../../src/metrics/format/wire';
import { startApp, type RunningApp } from '../support/app';
import { makeRecord } from '../support/factories';
import { eventually } from '../support/sse-client';

// Property test: for odd upstream usage objects, what the gateway records equals what the client receives,
// count by count, wherever the upstream reported the count; a count it did not report (missing, or not a
// count) is the gateway's estimate, and the record's usage_source says so (contract section 14).
const CASES_PER_EXCHANGE = 60;

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const MISSING = Symbol('missing');

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

/** A usage value as upstreams send it, odd ones included. */
function oddCount(rng: Rng): unknown {
  const n = Math.floor(rng() * 5000);
  return pick<() => unknown>(rng, [
    () => n,
    () => n,
    () => n,
    () => 0,
    () => n + 0.5,
    () => n + rng(),
    () => -1 - n,
    () => String(n),
    () => null,
    () => MISSING,
    () => 1e21,
  ])();
}

function object(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== MISSING));
}

function oddOpenAIUsage(rng: Rng): Record<string, unknown> {
  const prompt = oddCount(rng);
  // Cached sometimes exceeds prompt: some servers count it apart.
  const cached =
    rng() < 0.3 && typeof prompt === 'number' ? prompt + 1 + Math.floor(rng() * 100) : oddCount(rng);
  return object({
    prompt_tokens: prompt,
    completion_tokens: oddCount(rng),
    prompt_tokens_details: pick(rng, [MISSING, null, object({ cached_tokens: cached })]),
    prompt_cache_hit_tokens: rng() < 0.2 ? oddCount(rng) : MISSING,
    completion_tokens_details: rng() < 0.5 ? object({ reasoning_tokens: oddCount(rng) }) : MISSING,
  });
}

function oddAnthropicUsage(rng: Rng): Record<string, unknown> {
  return object({
    input_tokens: oddCount(rng),
    output_tokens: oddCount(rng),
    cache_read_input_tokens: oddCount(rng),
    cache_creation_input_tokens: oddCount(rng),
  });
}

/** A later stream event: often zeros or omitted fields, as Anthropic's message_delta sends them. */
function laterAnthropicUsage(rng: Rng): Record<string, unknown> {
  const usage = oddAnthropicUsage(rng);
  for (const key of Object.keys(usage)) if (rng() < 0.4) usage[key] = pick(rng, [0, MISSING]);
  return object(usage);
}

function laterOpenAIUsage(rng: Rng): Record<string, unknown> {
  return rng() < 0.4 ? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } : oddOpenAIUsage(rng);
}

/** What the record holds after these usage reports, by the metrics' own merge rule. */
function folded(patches: UsagePatch[]): Counts {
  const record = makeRecord();
  for (const patch of patches) foldUsage(record, patch);
  return recorded(record);
}

function recorded(r: {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
}) {
  return {
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_creation_tokens: r.cacheCreationTokens,
  };
}

function clientSaw(usage: Anthropic.Usage) {
  return {
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_tokens: usage.cache_read_input_tokens,
    cache_creation_tokens: usage.cache_creation_input_tokens,
  };
}

// ---------------------------------------------------------------- a scripted upstream

interface Answer {
  json?: unknown;
  sse?: unknown[];
}

let next: Answer = {};
let upstream: Server;
let upstreamUrl: string;
let gw: RunningApp;
let anthropic: Anthropic;
let openai: OpenAI;
let seq = 0;

const sse = (events: unknown[]): string =>
  events
    .map((e) =>
      typeof e === 'string'
        ? `data: ${e}\n\n`
        : `event: ${(e as { type?: string }).type ?? 'message'}\ndata: ${JSON.stringify(e)}\n\n`,
    )
    .join('');

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
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startApp({
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: upstreamUrl,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    VDM_DEFAULT_PROVIDER: 'openai',
  });
  anthropic = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'client', baseURL: `${gw.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await gw.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** A fresh request id, and the record of that request once it is finalized. */
function requestId(): string {
  return `usage-${++seq}`;
}

/** Counts as recorded; the converted body's cache fields may be null. */
type Counts = Record<'input_tokens' | 'output_tokens', number> & Record<'cache_read_tokens' | 'cache_creation_tokens', number | null>;

/**
 * The record of request `id` equals `expected` in every count the upstream reported (as the gateway's
 * parsers read `reports`); a count it never reported is an estimate, and usage_source tells which.
 */
async function expectRecord(id: string, expected: Counts, reports: UsagePatch[], label?: string): Promise<void> {
  let trace: WireTrace | undefined;
  await eventually(
    () => (trace = gw.tracker.recentTraces(50).find((t) => t.request_id === id)) !== undefined,
  );
  expect(trace!.status).toBe('ok');
  const input = reports.some((r) => r.inputTokens !== undefined);
  const output = reports.some((r) => r.outputTokens !== undefined);
  expect(trace!.usage_source, label).toBe(input && output ? 'reported' : input || output ? 'partial' : 'estimated');
  const want = { ...expected };
  // The request is 'hi' and the answer 'ok': an estimate of either is a token or more.
  if (!input) {
    expect(trace!.input_tokens, label).toBeGreaterThan(0);
    want.input_tokens = trace!.input_tokens;
  }
  if (!output) {
    expect(trace!.output_tokens, label).toBeGreaterThan(0);
    want.output_tokens = trace!.output_tokens;
  }
  expect(recorded({ inputTokens: trace!.input_tokens, outputTokens: trace!.output_tokens, cacheReadTokens: trace!.cache_read_tokens, cacheCreationTokens: trace!.cache_creation_tokens }), label).toEqual(want);
}

/** The usage reports of an upstream event stream (or body) as the gateway's OpenAI parser reads them. */
function openaiReports(events: unknown[]): UsagePatch[] {
  return events.flatMap((e) => (typeof e === 'object' && e !== null && typeof (e as { usage?: unknown }).usage === 'object' && (e as { usage?: unknown }).usage !== null ? [openaiUsage((e as { usage: unknown }).usage)] : []));
}

/** message_start's output_tokens is a placeholder, not a count: the gateway takes output from message_delta only. */
function withoutOutput(patch: UsagePatch): UsagePatch {
  const { outputTokens: _placeholder, ...rest } = patch;
  return rest;
}

const messages = [{ role: 'user' as const, content: 'hi' }];
const completion = (usage: unknown) => ({
  id: 'chatcmpl-u',
  object: 'chat.completion',
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage,
});
const chunk = (delta: object, finish: string | null = null, usage?: unknown) => ({
  id: 'chatcmpl-u',
  object: 'chat.completion.chunk',
  model: 'gpt-4o',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...(usage === undefined ? {} : { usage }),
});
/** An OpenAI stream whose usage arrives on 1-3 chunks, the last a usage-only chunk after finish_reason. */
function openaiStream(rng: Rng): unknown[] {
  const events: unknown[] = [
    chunk({ role: 'assistant', content: '' }, null, rng() < 0.3 ? oddOpenAIUsage(rng) : undefined),
  ];
  events.push(chunk({ content: 'ok' }, null, rng() < 0.3 ? laterOpenAIUsage(rng) : undefined));
  events.push(chunk({}, 'stop'));
  events.push({
    id: 'chatcmpl-u',
    object: 'chat.completion.chunk',
    model: 'gpt-4o',
    choices: [],
    usage: laterOpenAIUsage(rng),
  });
  events.push('[DONE]');
  return events;
}

function anthropicStream(rng: Rng): unknown[] {
  const start = oddAnthropicUsage(rng);
  return [
    {
      type: 'message_start',
      message: {
        id: 'msg_u',
        type: 'message',
        role: 'assistant',
        model: 'claude-x',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: start,
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ok' } },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: laterAnthropicUsage(rng),
    },
    { type: 'message_stop' },
  ];
}

describe('recorded usage equals the usage the client receives', () => {
  it('Anthropic client, OpenAI-format provider, non-streaming: the converted body', async () => {
    const rng = prng(1);
    for (let i = 0; i < CASES_PER_EXCHANGE; i++) {
      next = { json: completion(oddOpenAIUsage(rng)) };
      const id = requestId();
      const message = await anthropic.messages.create(
        { model: 'openai:gpt-4o', max_tokens: 10, messages },
        { headers: { 'x-request-id': id } },
      );
      await expectRecord(id, clientSaw(message.usage), openaiReports([next.json]), JSON.stringify(next.json));
    }
  });

  it('Anthropic client, OpenAI-format provider, streaming: message_start and message_delta', async () => {
    const rng = prng(2);
    for (let i = 0; i < CASES_PER_EXCHANGE; i++) {
      next = { sse: openaiStream(rng) };
      const id = requestId();
      const message = await anthropic.messages
        .stream({ model: 'openai:gpt-4o', max_tokens: 10, messages }, { headers: { 'x-request-id': id } })
        .finalMessage();
      await expectRecord(id, clientSaw(message.usage), openaiReports(next.sse!), JSON.stringify(next.sse));
    }
  });

  it('Anthropic passthrough: the parser applied to the bytes the client received', async () => {
    const rng = prng(3);
    for (let i = 0; i < CASES_PER_EXCHANGE; i++) {
      next = {
        json: {
          id: 'msg_u',
          type: 'message',
          role: 'assistant',
          model: 'claude-x',
          content: [{ type: 'text', text: 'ok' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: oddAnthropicUsage(rng),
        },
      };
      let id = requestId();
      const message = await anthropic.messages.create(
        { model: 'anthropic:claude-x', max_tokens: 10, messages },
        { headers: { 'x-request-id': id } },
      );
      await expectRecord(id, folded([anthropicUsage(message.usage)]), [anthropicUsage(message.usage)]);

      next = { sse: anthropicStream(rng) };
      id = requestId();
      const seen: UsagePatch[] = [];
      const stream = anthropic.messages.stream(
        { model: 'anthropic:claude-x', max_tokens: 10, messages },
        { headers: { 'x-request-id': id } },
      );
      for await (const event of stream) {
        if (event.type === 'message_start') seen.push(withoutOutput(anthropicUsage(event.message.usage)));
        if (event.type === 'message_delta') seen.push(anthropicUsage(event.usage));
      }
      await expectRecord(id, folded(seen), seen, JSON.stringify(next.sse));
    }
  });

  it('OpenAI passthrough: the parser applied to the bytes the client received', async () => {
    const rng = prng(4);
    for (let i = 0; i < CASES_PER_EXCHANGE; i++) {
      next = { json: completion(oddOpenAIUsage(rng)) };
      let id = requestId();
      const answer = await openai.chat.completions.create(
        { model: 'openai:gpt-4o', messages },
        { headers: { 'x-request-id': id } },
      );
      await expectRecord(id, folded([openaiUsage(answer.usage)]), [openaiUsage(answer.usage)]);

      next = { sse: openaiStream(rng) };
      id = requestId();
      const seen: UsagePatch[] = [];
      const stream = await openai.chat.completions.create(
        { model: 'openai:gpt-4o', messages, stream: true, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': id } },
      );
      for await (const part of stream) if (part.usage != null) seen.push(openaiUsage(part.usage));
      await expectRecord(id, folded(seen), seen, JSON.stringify(next.sse));
    }
  });
});
