import { describe, expect, it } from 'vitest';
import { createOpenAIRelay } from './openai-relay';
import { byteLength, RecordingSink, runRelay } from './testing/recording-sink';

const MODEL = 'gpt-4o-mini-2024-07-18';
const HEAD = `"id":"chatcmpl-AzL4Vj6Q0qOW9fHrD2w1","object":"chat.completion.chunk","created":1739000000,"model":"${MODEL}","service_tier":"default","system_fingerprint":"fp_06737a9306"`;

function chunk(choices: unknown[], usage: unknown = null): string {
  return `data: {${HEAD},"choices":${JSON.stringify(choices)},"usage":${JSON.stringify(usage)}}\n\n`;
}

function delta(value: unknown, finish: string | null = null, index = 0): unknown {
  return { index, delta: value, logprobs: null, finish_reason: finish };
}

const USAGE = {
  prompt_tokens: 1117,
  completion_tokens: 46,
  total_tokens: 1163,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

const USAGE_CHUNK = chunk([], USAGE);
const DONE = 'data: [DONE]\n\n';

const TEXT_STREAM =
  chunk([delta({ role: 'assistant', content: '', refusal: null })]) +
  chunk([delta({ content: 'Hello' })]) +
  chunk([delta({ content: ' wörld 🌍' })]) +
  chunk([delta({}, 'stop')]) +
  USAGE_CHUNK +
  DONE;

const TOOL_STREAM =
  chunk([
    delta({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          index: 0,
          id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
          type: 'function',
          function: { name: 'get_weather', arguments: '' },
        },
      ],
      refusal: null,
    }),
  ]) +
  chunk([delta({ tool_calls: [{ index: 0, function: { arguments: '{"lo' } }] })]) +
  chunk([delta({ tool_calls: [{ index: 0, function: { arguments: 'cation":"Paris"}' } }] })]) +
  chunk([
    delta({
      tool_calls: [
        { index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
      ],
    }),
  ]) +
  chunk([delta({ tool_calls: [{ index: 1, function: { arguments: '{}' } }] })]) +
  chunk([delta({}, 'tool_calls')]) +
  USAGE_CHUNK +
  DONE;

const USAGE_CALL = { kind: 'usage', patch: { inputTokens: 93, cacheReadTokens: 1024, outputTokens: 46, reasoningTokens: 0, serviceTier: 'default' } };

describe(createOpenAIRelay.name, () => {
  it('passes a text stream through unchanged and reports first content and usage', () => {
    const sink = new RecordingSink();
    const sut = createOpenAIRelay({ sink, dropUsageChunk: false });
    const { output, verdict } = runRelay(sut, TEXT_STREAM);
    expect(output).toBe(TEXT_STREAM);
    expect(verdict).toEqual({ complete: true, trailing: '' });
    expect(sink.calls).toEqual([{ kind: 'firstContent' }, USAGE_CALL]);
  });

  it('counts distinct tool call indexes, not argument chunks', () => {
    const sink = new RecordingSink();
    const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), TOOL_STREAM);
    expect(output).toBe(TOOL_STREAM);
    expect(verdict.complete).toBe(true);
    expect(sink.calls).toEqual([
      { kind: 'firstContent' },
      { kind: 'usage', patch: { toolCallCount: 1 } },
      { kind: 'usage', patch: { toolCallCount: 2 } },
      USAGE_CALL,
    ]);
  });

  it('reports the characters of text and tool-argument chunks, not of role-only or empty ones', () => {
    const text = new RecordingSink();
    runRelay(createOpenAIRelay({ sink: text, dropUsageChunk: false }), TEXT_STREAM);
    expect(text.output).toEqual(['Hello'.length, ' wörld 🌍'.length]);
    const tools = new RecordingSink();
    runRelay(createOpenAIRelay({ sink: tools, dropUsageChunk: false }), TOOL_STREAM);
    expect(tools.output).toEqual(['{"lo'.length, 'cation":"Paris"}'.length, 2]);
  });

  it('gives identical output and reports whatever byte the stream is split at', () => {
    const expectedCalls = [
      { kind: 'firstContent' },
      { kind: 'usage', patch: { toolCallCount: 1 } },
      { kind: 'usage', patch: { toolCallCount: 2 } },
      USAGE_CALL,
    ];
    for (let position = 0; position <= byteLength(TOOL_STREAM); position++) {
      const sink = new RecordingSink();
      const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), TOOL_STREAM, [
        position,
      ]);
      expect(output).toBe(TOOL_STREAM);
      expect(verdict).toEqual({ complete: true, trailing: '' });
      expect(sink.calls).toEqual(expectedCalls);
    }
  });

  it('handles CRLF framing and keep-alive comments, split anywhere', () => {
    const stream = (': OPENROUTER PROCESSING\n\n' + TEXT_STREAM).replace(/\n/g, '\r\n');
    for (let position = 0; position <= byteLength(stream); position += 5) {
      const sink = new RecordingSink();
      const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream, [
        position,
        position + 2,
      ]);
      expect(output).toBe(stream);
      expect(verdict.complete).toBe(true);
      expect(sink.calls).toEqual([{ kind: 'firstContent' }, USAGE_CALL]);
    }
  });

  it('counts tool calls per choice when n > 1', () => {
    const sink = new RecordingSink();
    const stream =
      chunk([
        delta({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '' } }] }, null, 0),
        delta({ tool_calls: [{ index: 0, id: 'call_b', function: { name: 'f', arguments: '' } }] }, null, 1),
      ]) +
      chunk([delta({ tool_calls: [{ index: 0, function: { arguments: '{}' } }] }, null, 1)]) +
      DONE;
    runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(sink.calls).toEqual([{ kind: 'firstContent' }, { kind: 'usage', patch: { toolCallCount: 2 } }]);
  });

  it('counts a new call when a provider reuses index 0 with a new id', () => {
    const sink = new RecordingSink();
    const stream =
      chunk([delta({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '{}' } }] })]) +
      chunk([delta({ tool_calls: [{ index: 0, id: 'call_a', function: { arguments: '' } }] })]) +
      chunk([delta({ tool_calls: [{ index: 0, id: 'call_b', function: { name: 'g', arguments: '{}' } }] })]) +
      chunk([delta({ tool_calls: [{ id: 'call_c', function: { name: 'h', arguments: '{}' } }] })]) +
      DONE;
    runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(sink.calls).toEqual([
      { kind: 'firstContent' },
      { kind: 'usage', patch: { toolCallCount: 1 } },
      { kind: 'usage', patch: { toolCallCount: 2 } },
      { kind: 'usage', patch: { toolCallCount: 3 } },
    ]);
  });

  it.each([
    ['reasoning_content', { reasoning_content: 'Let me think' }],
    ['reasoning', { reasoning: 'Let me think' }],
    ['tool_calls', { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '' } }] }],
  ])('reports first content for a %s delta', (_label, value) => {
    const sink = new RecordingSink();
    runRelay(
      createOpenAIRelay({ sink, dropUsageChunk: false }),
      chunk([delta({ role: 'assistant', content: '' })]) + chunk([delta(value)]),
    );
    expect(sink.calls[0]).toEqual({ kind: 'firstContent' });
  });

  it('does not report first content for role-only or empty deltas', () => {
    const sink = new RecordingSink();
    const stream =
      chunk([delta({ role: 'assistant', content: '' })]) +
      chunk([delta({ content: null, tool_calls: [] })]) +
      chunk([delta({}, 'stop')]);
    runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(sink.calls).toEqual([]);
  });

  it('drops the usage-only chunk when the gateway asked for usage, but still reports it', () => {
    const sink = new RecordingSink();
    const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: true }), TEXT_STREAM);
    expect(output).toBe(TEXT_STREAM.replace(USAGE_CHUNK, ''));
    expect(verdict).toEqual({ complete: true, trailing: '' });
    expect(sink.calls).toEqual([{ kind: 'firstContent' }, USAGE_CALL]);
  });

  it('keeps a usage chunk that also carries choices when dropping', () => {
    const sink = new RecordingSink();
    const last = chunk([delta({}, 'stop')], { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 });
    const { output } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: true }), last + DONE);
    expect(output).toBe(last + DONE);
    expect(sink.calls).toEqual([{ kind: 'usage', patch: { inputTokens: 9, outputTokens: 12, serviceTier: 'default' } }]);
  });

  it('rewrites the model in every chunk, including the dropped-or-not usage chunk', () => {
    const sink = new RecordingSink();
    const sut = createOpenAIRelay({
      sink,
      dropUsageChunk: false,
      rewriteModel: { from: MODEL, to: 'openai:fast' },
    });
    const { output } = runRelay(sut, TEXT_STREAM);
    expect(output).toBe(TEXT_STREAM.replaceAll(`"model":"${MODEL}"`, '"model":"openai:fast"'));
    expect(output).not.toContain(MODEL);
  });

  it('rewrites with whitespace after the colon and escapes the new name', () => {
    const stream = `data: {"id": "x", "object": "chat.completion.chunk", "model": \t"${MODEL}", "choices": []}\n\n`;
    const sut = createOpenAIRelay({
      sink: new RecordingSink(),
      dropUsageChunk: false,
      rewriteModel: { from: MODEL, to: 'a"b' },
    });
    expect(runRelay(sut, stream).output).toBe(
      'data: {"id": "x", "object": "chat.completion.chunk", "model": \t"a\\"b", "choices": []}\n\n',
    );
  });

  it('re-serializes a chunk whose model name is escaped differently', () => {
    const stream = 'data: {"id":"x","model":"meta-llama\\/llama-3","choices":[]}\n\n';
    const sut = createOpenAIRelay({
      sink: new RecordingSink(),
      dropUsageChunk: false,
      rewriteModel: { from: 'meta-llama/llama-3', to: 'llama' },
    });
    expect(runRelay(sut, stream).output).toBe('data: {"id":"x","model":"llama","choices":[]}\n\n');
  });

  it('rewrites another spelling of the model (a dated snapshot) but not text that merely mentions it', () => {
    const stream = chunk([delta({ content: `"model":"${MODEL}"` })]).replace(
      `"model":"${MODEL}",`,
      '"model":"gpt-4o-2024-08-06",',
    );
    const sut = createOpenAIRelay({
      sink: new RecordingSink(),
      dropUsageChunk: false,
      rewriteModel: { from: MODEL, to: 'fast' },
    });
    expect(runRelay(sut, stream).output).toBe(stream.replace('"model":"gpt-4o-2024-08-06",', '"model":"fast",'));
  });

  it.each([
    [{ message: 'Rate limit reached for gpt-4o', type: 'tokens', code: 'rate_limit_exceeded' }, 'rate_limit'],
    [
      { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
      'auth_error',
    ],
    [{ message: 'bad', type: 'invalid_request_error', code: null }, 'bad_request'],
    [{ message: 'Provider returned error', code: 429 }, 'rate_limit'],
    [{ message: 'Provider returned error', code: 502 }, 'upstream_error'],
    [{ message: 'The server had an error', type: 'server_error' }, 'upstream_error'],
  ])('reports a mid-stream error chunk %j as %s', (error, expected) => {
    const sink = new RecordingSink();
    const stream = chunk([delta({ content: 'Hi' })]) + `data: ${JSON.stringify({ error })}\n\n`;
    const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(output).toBe(stream);
    expect(verdict).toEqual({ complete: false, trailing: '' });
    expect(sink.calls).toEqual([
      { kind: 'firstContent' },
      { kind: 'error', errorType: expected, message: error.message },
    ]);
  });

  it('redacts keys in an error message', () => {
    const sink = new RecordingSink();
    const stream =
      'data: {"error":{"message":"Incorrect API key provided: sk-proj-abcdefghijkl1234","type":"invalid_request_error","code":"invalid_api_key"}}\n\n';
    runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(sink.calls).toEqual([
      { kind: 'error', errorType: 'auth_error', message: 'Incorrect API key provided: [REDACTED]' },
    ]);
  });

  it('masks secrets in the error chunk it relays too, with the redaction it is given', () => {
    const sink = new RecordingSink();
    const error = (message: string) => `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`;
    const redact = (text: string): string => text.replaceAll('key-0123456789', '[REDACTED]');
    const { output } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false, redact }), error('no account for key-0123456789'));
    expect(output).toBe(error('no account for [REDACTED]'));
    expect(sink.calls).toEqual([{ kind: 'error', errorType: 'upstream_error', message: 'no account for [REDACTED]' }]);
  });

  it('marks bad JSON as malformed but keeps passing bytes through', () => {
    const sink = new RecordingSink();
    const stream = chunk([delta({ content: 'Hi' })]) + 'data: {"id":"x",\n\n' + DONE;
    const { output, verdict } = runRelay(createOpenAIRelay({ sink, dropUsageChunk: false }), stream);
    expect(output).toBe(stream);
    expect(verdict).toEqual({ complete: true, malformed: 'invalid JSON in a stream chunk', trailing: '' });
  });

  it('marks a non-object chunk as malformed', () => {
    const { verdict } = runRelay(
      createOpenAIRelay({ sink: new RecordingSink(), dropUsageChunk: false }),
      'data: [1,2]\n\n',
    );
    expect(verdict).toEqual({
      complete: false,
      malformed: 'stream chunk is not a JSON object',
      trailing: '',
    });
  });

  it('is incomplete without [DONE]', () => {
    const stream = TEXT_STREAM.replace(DONE, '');
    const { output, verdict } = runRelay(
      createOpenAIRelay({ sink: new RecordingSink(), dropUsageChunk: false }),
      stream,
    );
    expect(output).toBe(stream);
    expect(verdict).toEqual({ complete: false, trailing: '' });
  });

  it('accepts an unterminated [DONE] and owes the client its blank line', () => {
    const stream = chunk([delta({ content: 'Hi' })]) + 'data: [DONE]';
    const { output, verdict } = runRelay(
      createOpenAIRelay({ sink: new RecordingSink(), dropUsageChunk: false }),
      stream,
    );
    expect(verdict).toEqual({ complete: true, trailing: 'data: [DONE]\n\n' });
    expect(output).toBe(stream + '\n\n');
  });

  it('drops a cut-off final chunk without calling the stream malformed', () => {
    const first = chunk([delta({ content: 'Hi' })]);
    const { output, verdict } = runRelay(
      createOpenAIRelay({ sink: new RecordingSink(), dropUsageChunk: false }),
      first + 'data: {"id":"chatcmpl-1","cho',
    );
    expect(output).toBe(first);
    expect(verdict).toEqual({ complete: false, trailing: '' });
  });
});
