import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app';
import { SseClient } from '../support/sse-client';

let gw: RunningApp;

beforeAll(async () => {
  gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001' });
});
afterAll(async () => {
  await gw.close();
});

describe('zero configuration: the built-in demo provider', () => {
  it('answers the Anthropic SDK, streaming and not, and the request shows in the metrics', async () => {
    const client = new Anthropic({ apiKey: 'anything', baseURL: gw.url, maxRetries: 0 });
    const message = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] });
    expect(message.model).toBe('claude-sonnet-4-5');
    expect(message.content[0].type).toBe('text');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    const final = await client.messages.stream({ model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'again' }] }).finalMessage();
    expect(final.model).toBe('sonnet');
    expect((final.content[0] as Anthropic.TextBlock).text.split(' ').length).toBeGreaterThan(5);

    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
    expect(Object.keys(doc.providers)).toEqual(['demo']);
    expect(Object.keys(doc.providers.demo.models).sort()).toEqual(['claude-sonnet-4-5', 'demo-sonnet']);
    expect(doc.summary.total_requests).toBe(2);
    expect(doc.summary.total_output_tokens).toBe(message.usage.output_tokens + final.usage.output_tokens);

    // Priced at once, as the model it imitates: claude-sonnet-4-5 list prices per million tokens.
    const listPrice = (u: Anthropic.Usage): number =>
      Math.round(u.input_tokens * 3e3 + (u.cache_read_input_tokens ?? 0) * 0.3e3 + (u.cache_creation_input_tokens ?? 0) * 3.75e3 + u.output_tokens * 15e3) / 1e9;
    const traces = gw.tracker.recentTraces(2);
    expect(traces.map((t) => t.cost_usd)).toEqual([listPrice(final.usage), listPrice(message.usage)]);
    expect(doc.summary.total_unpriced_requests).toBe(0);
    expect(Math.round(doc.summary.total_cost_usd * 1e9)).toBe(Math.round((listPrice(final.usage) + listPrice(message.usage)) * 1e9));
  });

  it('answers the OpenAI SDK with tool calls now and then', async () => {
    const client = new OpenAI({ apiKey: 'anything', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    let calls = 0;
    for (let i = 0; i < 3; i++) {
      const stream = await client.chat.completions.create({ model: 'demo:gpt-demo', messages: [{ role: 'user', content: 'x' }], tools, stream: true });
      for await (const chunk of stream) calls += chunk.choices[0]?.delta.tool_calls?.length ?? 0;
    }
    expect(calls).toBe(1);
    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as any;
    expect(doc.providers.demo.models['gpt-demo'].streaming).toMatchObject({ requests: 3, tool_calls: 1 });
  });

  it('lists the demo provider and its aliases', async () => {
    const list = (await (await fetch(`${gw.url}/v1/models`)).json()) as any;
    expect(list.default_provider).toBe('demo');
    expect(list.data.map((m: any) => m.id)).toEqual(expect.arrayContaining(['demo:sonnet', 'demo:*']));
  });

  it('shows a slow demo request in flight over SSE', async () => {
    const slow = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.02' });
    try {
      const sse = await SseClient.connect(`${slow.url}/metrics/active-requests/stream`);
      await sse.next('update');
      const client = new Anthropic({ apiKey: 'x', baseURL: slow.url, maxRetries: 0 });
      const done = client.messages.stream({ model: 'opus', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
      const live = JSON.parse((await sse.next('update', (e) => e.data.includes('demo-opus'))).data);
      expect(live.active_requests[0]).toMatchObject({ provider: 'demo', requested_model: 'opus', resolved_model: 'demo-opus', is_streaming: true });
      await done;
      await sse.next('update', (e) => JSON.parse(e.data).active_requests.length === 0);
      sse.close();
    } finally {
      await slow.close();
    }
  });
});

describe('zero configuration: the demo provider speaks the Responses API and embeddings', () => {
  let demo: RunningApp;
  beforeAll(async () => {
    demo = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0.001' });
  });
  afterAll(async () => {
    await demo.close();
  });

  it('answers Responses, streaming with the real event sequence and not, with reasoning and cached tokens and now and then a function call', async () => {
    const client = new OpenAI({ apiKey: 'anything', baseURL: `${demo.url}/v1`, maxRetries: 0 });
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'web_search' },
      { type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false },
    ];
    const first = await client.responses.create({ model: 'gpt-demo', input: 'hello', tools });
    expect(first).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-demo' });
    expect(first.output_text.split(' ').length).toBeGreaterThan(5);
    expect(first.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(first.usage!.output_tokens).toBeGreaterThan(first.usage!.output_tokens_details.reasoning_tokens);

    const types: string[] = [];
    let streamed = '';
    const stream = await client.responses.create({ model: 'gpt-demo', input: 'again', tools, stream: true });
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'response.output_text.delta') streamed += event.delta;
    }
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(types.at(-1)).toBe('response.completed');
    const text = types.filter((t) => t.startsWith('response.content_part') || t.startsWith('response.output_text'));
    expect(text[0]).toBe('response.content_part.added');
    expect(text.slice(-2)).toEqual(['response.output_text.done', 'response.content_part.done']);
    expect(types.filter((t) => t === 'response.output_item.added')).toHaveLength(types.filter((t) => t === 'response.output_item.done').length);
    expect(streamed.split(' ').length).toBeGreaterThan(5);

    // The third request calls the first function tool; the SDK's helper assembles the streamed call.
    const third = await client.responses.stream({ model: 'gpt-demo', input: 'once more', tools }).finalResponse();
    const calls = [first, third].flatMap((r) => r.output.filter((item) => item.type === 'function_call'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'lookup', status: 'completed' });
    expect(JSON.parse((calls[0] as OpenAI.Responses.ResponseFunctionToolCall).arguments)).toEqual({ query: 'demo' });
    // The second request reads from the cache, as a repeated prompt does.
    const usages = [first.usage!, third.usage!];

    const doc = (await (await fetch(`${demo.url}/metrics/running-totals?format=json`)).json()) as any;
    const model = doc.providers.demo.models['gpt-demo'];
    expect(model.total).toMatchObject({ requests: 3, errors: 0, tool_calls: 1 });
    expect(model.streaming.requests).toBe(2);
    expect(model.total.cache_read_tokens).toBeGreaterThan(0);
    const traces = demo.tracker.recentTraces(3);
    expect(traces.every((t) => t.api === 'openai_responses' && t.status === 'ok')).toBe(true);
    expect(traces[0].reasoning_tokens).toBe(third.usage!.output_tokens_details.reasoning_tokens);
    expect(traces[2].reasoning_tokens).toBe(first.usage!.output_tokens_details.reasoning_tokens);
    expect(model.total.reasoning_tokens).toBe(traces.reduce((sum, t) => sum + t.reasoning_tokens, 0));
    for (const [trace, usage] of [[traces[0], usages[1]], [traces[2], usages[0]]] as const) {
      expect(trace.cache_read_tokens).toBe(usage.input_tokens_details.cached_tokens);
      expect(trace.output_tokens).toBe(usage.output_tokens);
    }
    // Priced as gpt-4o, the model gpt-demo imitates.
    expect(traces.every((t) => typeof t.cost_usd === 'number' && t.cost_usd > 0)).toBe(true);
  });

  it('answers embeddings, base64 (the SDK default) and floats, with usage.prompt_tokens counted as input tokens', async () => {
    const client = new OpenAI({ apiKey: 'anything', baseURL: `${demo.url}/v1`, maxRetries: 0 });
    const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello there', 'hello there', 'something else'] });
    expect(b64.data).toHaveLength(3);
    const [a, b, c] = b64.data.map((d) => d.embedding);
    expect(a.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(b64.usage.prompt_tokens).toBeGreaterThan(0);

    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello there', dimensions: 8, encoding_format: 'float' });
    expect(floats.data[0].embedding).toHaveLength(8);
    expect(floats.data[0].embedding.every((x) => typeof x === 'number')).toBe(true);

    await expect(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x', dimensions: 100_000 })).rejects.toMatchObject({ status: 400 });

    const doc = (await (await fetch(`${demo.url}/metrics/running-totals?format=json`)).json()) as any;
    const model = doc.providers.demo.models['text-embedding-3-small'].total;
    expect(model.requests).toBe(3);
    expect(model.input_tokens).toBe(b64.usage.prompt_tokens + floats.usage.prompt_tokens);
    const traces = demo.tracker.recentTraces(3);
    expect(traces.map((t) => t.api)).toEqual(['openai_embeddings', 'openai_embeddings', 'openai_embeddings']);
    expect(traces.map((t) => t.status)).toEqual(['error', 'ok', 'ok']);
  });
});
