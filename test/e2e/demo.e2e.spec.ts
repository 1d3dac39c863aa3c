import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app';
import { SseClient } from '../support/sse-client';

let gw: RunningApp;

beforeAll(async () => {
  gw = await startApp({ DEMO_TOKEN_DELAY: '0.001' });
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
    const slow = await startApp({ DEMO_TOKEN_DELAY: '0.02' });
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
