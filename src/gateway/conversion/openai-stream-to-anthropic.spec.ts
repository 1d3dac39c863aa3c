import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StreamSink } from '../protocol/types';
import { parseAnthropicSse, type SinkCall } from './fixtures/corpus';
import { createOpenAIToAnthropicRelay, EARLY_END_MESSAGE } from './openai-stream-to-anthropic';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const data = (payload: unknown): string =>
  `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
const chunk = (delta: unknown, finish: string | null = null): unknown => ({
  id: 'chatcmpl-t',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const toolDelta = (index: number, fields: { id?: string; name?: string; args?: string }): unknown =>
  chunk({
    tool_calls: [
      {
        index,
        id: fields.id,
        type: fields.id ? 'function' : undefined,
        function: { name: fields.name, arguments: fields.args },
      },
    ],
  });

function run(sse: string, opts: { messageId?: string; sink?: StreamSink; redact?: (text: string) => string } = {}) {
  const calls: SinkCall[] = [];
  const sink: StreamSink = opts.sink ?? {
    onFirstContent: () => calls.push(['onFirstContent']),
    onUsage: (patch) => calls.push(['onUsage', patch]),
    onError: (type, message) => calls.push(['onError', type, message]),
  };
  const sut = createOpenAIToAnthropicRelay({ sink, requestedModel: 'sonnet', messageId: opts.messageId, redact: opts.redact });
  const pushed = sut.push(enc(sse));
  const verdict = sut.finish();
  const text = pushed + verdict.trailing;
  return { text, events: parseAnthropicSse(text), verdict, calls, pushed };
}

const names = (events: { event: string }[]): string[] => events.map((e) => e.event);

describe(createOpenAIToAnthropicRelay.name, () => {
  it('turns an immediately finished stream into an empty, complete message', () => {
    const { events, verdict } = run(data('[DONE]'), { messageId: 'msg_fixed' });
    expect(names(events)).toEqual(['message_start', 'ping', 'message_delta', 'message_stop']);
    expect(events[0]?.data).toMatchObject({ message: { id: 'msg_fixed', model: 'sonnet' } });
    expect(verdict).toEqual({ complete: true, trailing: '' });
  });

  it('holds message_delta back until the usage chunk that follows the finish chunk', () => {
    const sut = createOpenAIToAnthropicRelay({
      sink: { onFirstContent: () => {}, onUsage: () => {}, onError: () => {} },
      requestedModel: 'm',
    });
    const early = sut.push(enc(data(chunk({ content: 'hi' })) + data(chunk({}, 'stop'))));
    expect(names(parseAnthropicSse(early)).at(-1)).toBe('content_block_stop');
    const late = sut.push(
      enc(data({ id: 'chatcmpl-t', choices: [], usage: { prompt_tokens: 5, completion_tokens: 1 } })),
    );
    expect(names(parseAnthropicSse(late))).toEqual(['message_delta', 'message_stop']);
    expect(sut.push(enc(data('[DONE]')))).toBe('');
    expect(sut.finish()).toEqual({ complete: true, trailing: '' });
  });

  it('buffers text that arrives while an incomplete tool call is open and sends it after that call', () => {
    const sse = [
      toolDelta(0, { id: 'c1', name: 'f', args: '{"a"' }),
      chunk({ content: 'note' }),
      toolDelta(0, { args: ':1}' }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    ]
      .map(data)
      .join('');
    const { events } = run(sse);
    expect(events.slice(2).map((e) => e.data)).toEqual([
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'c1', name: 'f', input: {} },
      },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a"' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: ':1}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'note' } },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
      { type: 'message_stop' },
    ]);
  });

  it('drops argument text for a tool call whose block was already closed with complete JSON', () => {
    const sse = [
      toolDelta(0, { id: 'c1', name: 'f', args: '{}' }),
      toolDelta(1, { id: 'c2', name: 'g', args: '{}' }),
      toolDelta(0, { args: '{"late":true}' }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    ]
      .map(data)
      .join('');
    const { text } = run(sse);
    expect(text).not.toContain('late');
  });

  it('gives tool calls without id or index a stable id derived from the message id', () => {
    const sse = [
      chunk({ tool_calls: [{ function: { name: 'f', arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '1}' } }] }),
      chunk({}, 'stop'),
      '[DONE]',
    ]
      .map(data)
      .join('');
    const { events, calls } = run(sse, { messageId: 'msg_abc' });
    expect(events[2]?.data).toEqual({
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'tool_use', id: 'toolu_abc_0', name: 'f', input: {} },
    });
    expect(events.filter((e) => e.event === 'content_block_start')).toHaveLength(1);
    expect(events.find((e) => e.event === 'message_delta')?.data).toMatchObject({
      delta: { stop_reason: 'tool_use' },
    });
    expect(calls).toContainEqual(['onUsage', { toolCallCount: 1 }]);
  });

  it('masks secrets in the converted error event and the reported message, with the redaction it is given', () => {
    const redact = (text: string): string => text.replaceAll('key-0123456789', '[REDACTED]');
    const { text, calls } = run(data({ error: { message: 'no account for key-0123456789', type: 'server_error' } }), { redact });
    expect(text).not.toContain('key-0123456789');
    expect(parseAnthropicSse(text).at(-1)).toMatchObject({ event: 'error', data: { error: { message: 'no account for [REDACTED]' } } });
    expect(calls.at(-1)).toEqual(['onError', 'upstream_error', 'no account for [REDACTED]']);
  });

  it('treats an `event: error` SSE event as an upstream error', () => {
    const { events, verdict, calls } = run(`event: error\ndata: {"message":"rate limited","code":429}\n\n`);
    expect(events).toEqual([
      {
        event: 'error',
        data: { type: 'error', error: { type: 'rate_limit_error', message: 'rate limited' } },
      },
    ]);
    expect(verdict).toEqual({ complete: false, trailing: '' });
    expect(calls).toEqual([['onError', 'rate_limit', 'rate limited']]);
  });

  it('reports an empty upstream stream as ended early', () => {
    const { events, verdict } = run('');
    expect(events).toEqual([
      { event: 'error', data: { type: 'error', error: { type: 'api_error', message: EARLY_END_MESSAGE } } },
    ]);
    expect(verdict.complete).toBe(false);
  });

  it('counts a JSON value that is not an object as malformed', () => {
    const { verdict, events } = run(data('42') + data('[DONE]'));
    expect(verdict).toMatchObject({
      complete: false,
      malformed: expect.stringContaining('not a JSON object'),
    });
    expect(names(events)).toEqual(['error']);
  });

  it('uses a final [DONE] that lacks its blank line, but not a cut-off JSON fragment', () => {
    expect(run(data(chunk({ content: 'x' }, 'stop')) + 'data: [DONE]').verdict.complete).toBe(true);
    expect(run(data(chunk({ content: 'x' })) + 'data: {"choices":[{"delta":').verdict).toMatchObject({
      complete: false,
    });
  });

  it('never throws, even when the sink does', () => {
    const sink: StreamSink = {
      onFirstContent: () => {
        throw new Error('sink broke');
      },
      onUsage: () => {},
      onError: () => {},
    };
    const { verdict } = run(data(chunk({ content: 'x' }, 'stop')) + data('[DONE]'), { sink });
    expect(verdict).toMatchObject({ complete: false, malformed: 'relay failure: sink broke' });
  });

  it('rebuilds interleaved parallel tool calls into the right inputs in the official SDK', async () => {
    const sse = [
      toolDelta(0, { id: 'a', name: 'w', args: '{"city":' }),
      toolDelta(1, { id: 'b', name: 't', args: '{"city":' }),
      toolDelta(0, { args: '"Paris"}' }),
      toolDelta(1, { args: '"Rome"}' }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    ]
      .map(data)
      .join('');
    const { text } = run(sse);
    const client = new Anthropic({
      apiKey: 'k',
      maxRetries: 0,
      fetch: () => Promise.resolve(new Response(text, { headers: { 'content-type': 'text/event-stream' } })),
    });
    const message = await client.messages
      .stream({ model: 'sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'a', name: 'w', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'b', name: 't', input: { city: 'Rome' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });
});

describe(`${createOpenAIToAnthropicRelay.name} on long interleaved tool calls`, () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('does work linear in the stream: tool arguments are not parsed again on every delta', () => {
    const deltas = 20_000;
    const events = [
      toolDelta(0, { id: 'a', name: 'w', args: '{"a":"' }),
      toolDelta(1, { id: 'b', name: 't', args: '{"b":"' }),
    ];
    for (let i = 0; i < deltas; i++) events.push(toolDelta(0, { args: 'x' }), toolDelta(1, { args: 'y' }));
    events.push(
      toolDelta(0, { args: '"}' }),
      toolDelta(1, { args: '"}' }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    const bytes = enc(events.map(data).join(''));
    const sut = createOpenAIToAnthropicRelay({
      sink: { onFirstContent: () => {}, onUsage: () => {}, onError: () => {} },
      requestedModel: 'sonnet',
    });

    const parse = vi.spyOn(JSON, 'parse');
    let text = '';
    for (let start = 0; start < bytes.length; start += 64 * 1024)
      text += sut.push(bytes.subarray(start, start + 64 * 1024));
    const verdict = sut.finish();
    const parsedChars = parse.mock.calls.reduce((sum, [source]) => sum + source.length, 0);
    parse.mockRestore();

    // Each upstream event is parsed once, each call's arguments at most once when they close.
    expect(parsedChars).toBeLessThanOrEqual(bytes.length + 2 * (deltas + 16));
    expect(verdict).toMatchObject({ complete: true });
    const inputs = new Map<number, string>();
    for (const event of parseAnthropicSse(text + verdict.trailing)) {
      const d = event.data as { index?: number; delta?: { partial_json?: string } };
      if (d.delta?.partial_json !== undefined)
        inputs.set(d.index!, (inputs.get(d.index!) ?? '') + d.delta.partial_json);
    }
    expect([...inputs.values()].map((json) => JSON.parse(json) as unknown)).toEqual([
      { a: 'x'.repeat(deltas) },
      { b: 'y'.repeat(deltas) },
    ]);
  });
});
