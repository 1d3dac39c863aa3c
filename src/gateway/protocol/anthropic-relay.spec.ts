import { MAX_EVENT_CHARS } from './event-relay';
import { describe, expect, it } from 'vitest';
import { createAnthropicRelay } from './anthropic-relay';
import { byteLength, RecordingSink, runRelay } from './testing/recording-sink';

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

const MODEL = 'claude-sonnet-4-5-20250929';

const MESSAGE_START = sse('message_start', {
  type: 'message_start',
  message: {
    id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
    type: 'message',
    role: 'assistant',
    model: MODEL,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: 472,
      cache_creation_input_tokens: 1200,
      cache_read_input_tokens: 8800,
      cache_creation: { ephemeral_5m_input_tokens: 1200, ephemeral_1h_input_tokens: 0 },
      output_tokens: 2,
      service_tier: 'standard',
    },
  },
});

const TOOL_STREAM =
  MESSAGE_START +
  sse('content_block_start', {
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'text', text: '' },
  }) +
  sse('ping', '{"type": "ping"}') +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'Okay, ' },
  }) +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'checking 🌦' },
  }) +
  sse('content_block_stop', { type: 'content_block_stop', index: 0 }) +
  sse('content_block_start', {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} },
  }) +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '{"location": "San Fra' },
  }) +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: 'ncisco, CA"}' },
  }) +
  sse('content_block_stop', { type: 'content_block_stop', index: 1 }) +
  sse('content_block_start', {
    type: 'content_block_start',
    index: 2,
    content_block: { type: 'tool_use', id: 'toolu_02', name: 'get_time', input: {} },
  }) +
  sse('content_block_delta', {
    type: 'content_block_delta',
    index: 2,
    delta: { type: 'input_json_delta', partial_json: '{}' },
  }) +
  sse('content_block_stop', { type: 'content_block_stop', index: 2 }) +
  sse('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { input_tokens: 0, output_tokens: 89 },
  }) +
  sse('message_stop', { type: 'message_stop' });

const EXPECTED_CALLS = [
  {
    kind: 'usage',
    patch: { inputTokens: 472, cacheReadTokens: 8800, cacheCreationTokens: 1200, serviceTier: 'standard' },
  },
  { kind: 'firstContent' },
  { kind: 'usage', patch: { toolCallCount: 1 } },
  { kind: 'usage', patch: { toolCallCount: 2 } },
  { kind: 'usage', patch: { inputTokens: 0, outputTokens: 89 } },
];

describe(createAnthropicRelay.name, () => {
  it('passes a tool-using stream through unchanged and reports usage, tool calls and first content', () => {
    const sink = new RecordingSink();
    const sut = createAnthropicRelay({ sink });
    const { output, verdict } = runRelay(sut, TOOL_STREAM);
    expect(output).toBe(TOOL_STREAM);
    expect(verdict).toEqual({ complete: true, trailing: '' });
    expect(sink.calls).toEqual(EXPECTED_CALLS);
  });

  it('reports the characters of every text and tool-argument delta as it arrives', () => {
    const sink = new RecordingSink();
    runRelay(createAnthropicRelay({ sink }), TOOL_STREAM);
    expect(sink.output).toEqual(['Okay, '.length, 'checking 🌦'.length, '{"location": "San Fra'.length, 'ncisco, CA"}'.length, 2]);
  });

  it('gives identical output and reports whatever byte the stream is split at', () => {
    const length = byteLength(TOOL_STREAM);
    for (let position = 0; position <= length; position++) {
      const sink = new RecordingSink();
      const { output, verdict } = runRelay(createAnthropicRelay({ sink }), TOOL_STREAM, [position]);
      expect(output).toBe(TOOL_STREAM);
      expect(verdict.complete).toBe(true);
      expect(verdict.malformed).toBeUndefined();
      expect(sink.calls).toEqual(EXPECTED_CALLS);
    }
  });

  it('only writes complete events', () => {
    const sut = createAnthropicRelay({ sink: new RecordingSink() });
    const encoder = new TextEncoder();
    const half = MESSAGE_START.slice(0, 60);
    expect(sut.push(encoder.encode(half))).toBe('');
    expect(sut.push(encoder.encode(MESSAGE_START.slice(60)))).toBe(MESSAGE_START);
  });

  it('handles CRLF framing split at every position', () => {
    const crlf = TOOL_STREAM.replace(/\n/g, '\r\n');
    for (let position = 0; position <= byteLength(crlf); position += 7) {
      const sink = new RecordingSink();
      const { output, verdict } = runRelay(createAnthropicRelay({ sink }), crlf, [position, position + 3]);
      expect(output).toBe(crlf);
      expect(verdict.complete).toBe(true);
      expect(sink.calls).toEqual(EXPECTED_CALLS);
    }
  });

  it('rewrites the model name in message_start only, keeping every other byte', () => {
    const sink = new RecordingSink();
    const sut = createAnthropicRelay({ sink, rewriteModel: { from: MODEL, to: 'sonnet' } });
    const { output } = runRelay(sut, TOOL_STREAM);
    expect(output).toBe(TOOL_STREAM.replace(`"model":"${MODEL}"`, '"model":"sonnet"'));
    expect(output).not.toContain(MODEL);
  });

  it('rewrites with whitespace after the colon and JSON-escapes the new name', () => {
    const start = `event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "model":  "${MODEL}", "usage": {"input_tokens": 3, "output_tokens": 1}}}\n\n`;
    const sut = createAnthropicRelay({
      sink: new RecordingSink(),
      rewriteModel: { from: MODEL, to: 'my "alias"\\x' },
    });
    const { output } = runRelay(sut, start);
    expect(output).toBe(
      'event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "model":  "my \\"alias\\"\\\\x", "usage": {"input_tokens": 3, "output_tokens": 1}}}\n\n',
    );
    expect(JSON.parse(output.split('data: ')[1]).message.model).toBe('my "alias"\\x');
  });

  it('re-serializes message_start when the upstream escaped the model name differently', () => {
    const start =
      'event: message_start\r\ndata: {"type":"message_start","message":{"model":"claude\\u002dx","usage":{"input_tokens":3}}}\r\n\r\n';
    const sut = createAnthropicRelay({
      sink: new RecordingSink(),
      rewriteModel: { from: 'claude-x', to: 'sonnet' },
    });
    const { output } = runRelay(sut, start);
    expect(output).toBe(
      'event: message_start\r\ndata: {"type":"message_start","message":{"model":"sonnet","usage":{"input_tokens":3}}}\r\n\r\n',
    );
  });

  it('shows the alias even when the upstream answers with another spelling of the model', () => {
    const sut = createAnthropicRelay({
      sink: new RecordingSink(),
      rewriteModel: { from: 'claude-opus-4-1', to: 'opus' },
    });
    expect(runRelay(sut, MESSAGE_START).output).toBe(MESSAGE_START.replace(`"model":"${MODEL}"`, '"model":"opus"'));
  });

  it('reports message_delta usage as parsed, the zeros it repeats included (the record merge ignores them)', () => {
    const sink = new RecordingSink();
    const stream =
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: {
          input_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 15,
        },
      }) +
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: {
          input_tokens: 10,
          cache_creation_input_tokens: 20,
          cache_read_input_tokens: 30,
          output_tokens: 40,
        },
      }) +
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 0 },
      });
    runRelay(createAnthropicRelay({ sink }), stream);
    expect(sink.calls).toEqual([
      {
        kind: 'usage',
        patch: { inputTokens: 0, outputTokens: 15, cacheReadTokens: 0, cacheCreationTokens: 0 },
      },
      {
        kind: 'usage',
        patch: { inputTokens: 10, outputTokens: 40, cacheReadTokens: 30, cacheCreationTokens: 20 },
      },
      { kind: 'usage', patch: { outputTokens: 0 } },
    ]);
  });

  it('reports message_start usage as given, leaving absent fields and its output placeholder out (output is counted by message_delta)', () => {
    const sink = new RecordingSink();
    const start = sse('message_start', {
      type: 'message_start',
      message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 25, output_tokens: 1 } },
    });
    runRelay(createAnthropicRelay({ sink }), start);
    expect(sink.calls).toEqual([{ kind: 'usage', patch: { inputTokens: 25 } }]);
  });

  it.each([
    ['overloaded_error', 'upstream_error'],
    ['rate_limit_error', 'rate_limit'],
    ['authentication_error', 'auth_error'],
    ['permission_error', 'auth_error'],
    ['invalid_request_error', 'bad_request'],
    ['api_error', 'upstream_error'],
    ['brand_new_error', 'upstream_error'],
  ])('reports an error event of type %s as %s', (type, expected) => {
    const sink = new RecordingSink();
    const stream = MESSAGE_START + sse('error', { type: 'error', error: { type, message: 'Overloaded' } });
    const { output, verdict } = runRelay(createAnthropicRelay({ sink }), stream);
    expect(output).toBe(stream);
    expect(verdict).toEqual({ complete: false, trailing: '' });
    expect(sink.calls.at(-1)).toEqual({ kind: 'error', errorType: expected, message: 'Overloaded' });
  });

  it('redacts secrets in an error message', () => {
    const sink = new RecordingSink();
    const stream = sse('error', {
      type: 'error',
      error: { type: 'authentication_error', message: 'invalid x-api-key: sk-ant-api03-abcdefghijklmnop' },
    });
    runRelay(createAnthropicRelay({ sink }), stream);
    expect(sink.calls).toEqual([
      { kind: 'error', errorType: 'auth_error', message: 'invalid x-api-key: [REDACTED]' },
    ]);
  });

  it('masks secrets in the error event it relays too, with the redaction it is given', () => {
    const sink = new RecordingSink();
    const stream = sse('error', { type: 'error', error: { type: 'authentication_error', message: 'no account for key-0123456789' } });
    const redact = (text: string): string => text.replaceAll('key-0123456789', '[REDACTED]');
    const { output } = runRelay(createAnthropicRelay({ sink, redact }), stream);
    expect(output).toBe(sse('error', { type: 'error', error: { type: 'authentication_error', message: 'no account for [REDACTED]' } }));
    expect(sink.calls).toEqual([{ kind: 'error', errorType: 'auth_error', message: 'no account for [REDACTED]' }]);
  });

  it('marks bad JSON as malformed but keeps passing bytes through', () => {
    const sink = new RecordingSink();
    const bad = 'event: content_block_delta\ndata: {"type":"content_block_delta",\n\n';
    const stream = MESSAGE_START + bad + sse('message_stop', { type: 'message_stop' });
    const { output, verdict } = runRelay(createAnthropicRelay({ sink }), stream);
    expect(output).toBe(stream);
    expect(verdict).toEqual({
      complete: true,
      malformed: 'invalid JSON in content_block_delta event',
      trailing: '',
    });
  });

  it('marks a non-object payload as malformed', () => {
    const { verdict } = runRelay(
      createAnthropicRelay({ sink: new RecordingSink() }),
      'event: ping\ndata: 42\n\n',
    );
    expect(verdict.malformed).toBe('ping event data is not a JSON object');
  });

  it('passes comments through and reports first content once', () => {
    const sink = new RecordingSink();
    const delta = sse('content_block_delta', {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'a' },
    });
    const stream = ': keep-alive\n\n' + delta + delta;
    const { output } = runRelay(createAnthropicRelay({ sink }), stream);
    expect(output).toBe(stream);
    expect(sink.calls).toEqual([{ kind: 'firstContent' }]);
  });

  it('is incomplete when the stream stops before message_stop', () => {
    const { verdict } = runRelay(createAnthropicRelay({ sink: new RecordingSink() }), MESSAGE_START);
    expect(verdict).toEqual({ complete: false, trailing: '' });
  });

  it('completes an unterminated final message_stop and owes the client its blank line', () => {
    const stream = MESSAGE_START + 'event: message_stop\ndata: {"type":"message_stop"}';
    const sut = createAnthropicRelay({ sink: new RecordingSink() });
    const encoder = new TextEncoder();
    expect(sut.push(encoder.encode(stream))).toBe(MESSAGE_START);
    expect(sut.finish()).toEqual({
      complete: true,
      trailing: 'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    });
  });

  it('drops a cut-off final event without calling the stream malformed', () => {
    const stream = MESSAGE_START + 'event: content_block_delta\ndata: {"type":"content_block_de';
    const { output, verdict } = runRelay(createAnthropicRelay({ sink: new RecordingSink() }), stream);
    expect(output).toBe(MESSAGE_START);
    expect(verdict).toEqual({ complete: false, trailing: '' });
  });
});

describe('event size limit', () => {
  it('drops an event that grows past the limit without ending, and reports the stream malformed', () => {
    const sut = createAnthropicRelay({ sink: new RecordingSink() });
    const piece = new TextEncoder().encode('x'.repeat(1024 * 1024));
    expect(sut.push(new TextEncoder().encode('event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"'))).toBe('');
    for (let i = 0; i < MAX_EVENT_CHARS / (1024 * 1024) + 1; i++) sut.push(piece);
    expect(sut.stopped).toBe(true);
    expect(sut.push(new TextEncoder().encode('"}}\n\n'))).toBe('');
    const verdict = sut.finish();
    expect(verdict.complete).toBe(false);
    expect(verdict.malformed).toContain('without ending');
    expect(verdict.trailing.length).toBeLessThan(2 * 1024 * 1024);
  });
});
