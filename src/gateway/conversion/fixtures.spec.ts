import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { toOpenAIRequest } from './anthropic-to-openai';
import {
  isStreamFixture,
  loadFixtures,
  runStream,
  upstreamSse,
  type ExchangeFixture,
  type StreamFixture,
} from './fixtures/corpus';
import { toAnthropicResponse } from './openai-to-anthropic';

const all = loadFixtures();
const exchanges = all.filter(
  (f): f is { name: string; fixture: ExchangeFixture } => !isStreamFixture(f.fixture),
);
const streams = all.filter((f): f is { name: string; fixture: StreamFixture } => isStreamFixture(f.fixture));

/** The official SDK reading our SSE text as if it came from api.anthropic.com. */
async function sdkFinalMessage(sse: string): Promise<Anthropic.Message> {
  const client = new Anthropic({
    apiKey: 'test-key',
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })),
  });
  return client.messages
    .stream({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
    .finalMessage();
}

describe('conversion fixture corpus', () => {
  it('has the cases the corpus promises', () => {
    expect(exchanges.length).toBeGreaterThanOrEqual(10);
    expect(streams.length).toBeGreaterThanOrEqual(5);
  });

  describe.each(exchanges)('$name', ({ fixture }) => {
    it('converts the Anthropic request to the recorded OpenAI request', () => {
      expect(toOpenAIRequest(fixture.anthropicRequest, fixture.upstreamModel)).toEqual(fixture.openaiRequest);
    });
    it('converts the OpenAI reply to the recorded Anthropic message', () => {
      const { model, stop_sequences } = fixture.anthropicRequest;
      expect(toAnthropicResponse(fixture.openaiResponse, model, stop_sequences)).toEqual(
        fixture.anthropicResponse,
      );
    });
  });

  describe.each(streams)('$name', ({ fixture }) => {
    const bytes = new TextEncoder().encode(upstreamSse(fixture));

    it('relays the recorded events, verdict and sink calls', () => {
      const { text: _text, ...outcome } = runStream(fixture, [bytes]);
      expect(outcome).toEqual(fixture.expected);
    });

    it('gives identical output for the bytes split at every possible boundary', () => {
      const whole = runStream(fixture, [bytes]);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const split = runStream(fixture, [bytes.subarray(0, cut), bytes.subarray(cut)]);
        expect(split.text, `cut at byte ${cut}`).toBe(whole.text);
        expect(split.verdict).toEqual(whole.verdict);
        expect(split.sinkCalls).toEqual(whole.sinkCalls);
      }
    });

    it('gives identical output fed one byte at a time', () => {
      const pieces = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
      expect(runStream(fixture, pieces)).toEqual(runStream(fixture, [bytes]));
    });

    it('is read by the official SDK like a native stream', async () => {
      const { text, verdict, events } = runStream(fixture, [bytes]);
      const final = sdkFinalMessage(text);
      if (!verdict.complete) {
        await expect(final).rejects.toThrow(Anthropic.APIError);
        return;
      }
      const message = await final;
      const start = events[0]?.data as { message: { id: string; model: string } };
      const delta = events.find((e) => e.event === 'message_delta')?.data as {
        delta: { stop_reason: string };
      };
      expect(message).toMatchObject({
        id: start.message.id,
        model: fixture.requestedModel,
        stop_reason: delta.delta.stop_reason,
      });
      for (const block of message.content) {
        // Every tool_use block's input was rebuilt from the input_json_delta pieces into an object.
        if (block.type === 'tool_use') expect(typeof block.input).toBe('object');
      }
    });
  });
});
