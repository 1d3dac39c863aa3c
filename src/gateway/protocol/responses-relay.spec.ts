import { describe, expect, it } from 'vitest';
import { createResponsesRelay } from './responses-relay';
import { byteLength, RecordingSink, runRelay } from './testing/recording-sink';

const MODEL = 'gpt-5-codex-2025-09-15';

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

const USAGE = { input_tokens: 1200, input_tokens_details: { cached_tokens: 1000 }, output_tokens: 80, output_tokens_details: { reasoning_tokens: 50 }, total_tokens: 1280 };
const CALL = { id: 'fc_1', type: 'function_call', status: 'completed', arguments: '{"cmd":"ls"}', call_id: 'call_1', name: 'exec_command' };

function response(status: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'resp_1', object: 'response', status, model: MODEL, output: status === 'in_progress' ? [] : [CALL], usage: status === 'in_progress' ? null : USAGE, ...extra };
}

const STREAM =
  event('response.created', { sequence_number: 0, response: response('in_progress') }) +
  event('response.in_progress', { sequence_number: 1, response: response('in_progress') }) +
  event('response.output_item.added', { sequence_number: 2, output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', content: [], role: 'assistant' } }) +
  event('response.output_text.delta', { sequence_number: 3, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi 🌍' }) +
  event('response.output_item.added', { sequence_number: 4, output_index: 1, item: { ...CALL, status: 'in_progress', arguments: '' } }) +
  event('response.function_call_arguments.delta', { sequence_number: 5, item_id: 'fc_1', output_index: 1, delta: '{"cmd":"ls"}' }) +
  event('response.completed', { sequence_number: 6, response: response('completed') });

describe(createResponsesRelay.name, () => {
  it('passes every event through unchanged and reports TTFT, output, tool calls and the final usage', () => {
    const sink = new RecordingSink();
    const { output, verdict } = runRelay(createResponsesRelay({ sink }), STREAM, [7, 200, 201, byteLength(STREAM) - 3]);
    expect(output).toBe(STREAM);
    expect(verdict).toEqual({ complete: true, trailing: '' });
    expect(sink.calls).toEqual([
      { kind: 'firstContent' },
      { kind: 'usage', patch: { toolCallCount: 1 } },
      { kind: 'usage', patch: { inputTokens: 200, cacheReadTokens: 1000, outputTokens: 80, reasoningTokens: 50, toolCallCount: 1 } },
    ]);
    expect(sink.output).toEqual(['Hi 🌍'.length, '{"cmd":"ls"}'.length]);
  });

  it('shows the client its alias in every response object', () => {
    const sink = new RecordingSink();
    const { output } = runRelay(createResponsesRelay({ sink, rewriteModel: { from: MODEL, to: 'codex' } }), STREAM);
    expect(output).not.toContain(MODEL);
    expect(output.split('"model":"codex"')).toHaveLength(4);
  });

  it('keeps response.incomplete a success', () => {
    const sink = new RecordingSink();
    const text = event('response.incomplete', { sequence_number: 0, response: response('incomplete', { incomplete_details: { reason: 'max_output_tokens' } }) });
    const { output, verdict } = runRelay(createResponsesRelay({ sink }), text);
    expect(output).toBe(text);
    expect(verdict.complete).toBe(true);
    expect(sink.calls.filter((c) => c.kind === 'error')).toEqual([]);
  });

  it.each([
    ['response.failed', event('response.failed', { sequence_number: 0, response: response('failed', { error: { code: 'rate_limit_exceeded', message: 'slow down' } }) }), 'rate_limit', 'slow down'],
    ['an error event', event('error', { sequence_number: 0, code: 'server_error', message: 'boom', param: null }), 'upstream_error', 'boom'],
    ['an error event with a nested error', event('error', { sequence_number: 0, error: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'bad key' } }), 'auth_error', 'bad key'],
  ])('records %s as an error of its category', (_label, text, errorType, message) => {
    const sink = new RecordingSink();
    const { output, verdict } = runRelay(createResponsesRelay({ sink }), text);
    expect(output).toBe(text);
    expect(verdict.complete).toBe(true);
    expect(sink.calls.filter((c) => c.kind === 'error')).toEqual([{ kind: 'error', errorType, message }]);
  });

  it('masks a secret an error event echoes', () => {
    const sink = new RecordingSink();
    const text = event('error', { code: 'invalid_api_key', message: 'Incorrect API key provided: sk-secret-123' });
    const { output } = runRelay(createResponsesRelay({ sink, redact: (t) => t.replaceAll('sk-secret-123', '[REDACTED]') }), text);
    expect(output).not.toContain('sk-secret-123');
    expect(JSON.stringify(sink.calls)).not.toContain('sk-secret-123');
  });

  it('leaves a stream without a terminal event incomplete, and bad JSON malformed', () => {
    const cut = runRelay(createResponsesRelay({ sink: new RecordingSink() }), STREAM.slice(0, STREAM.lastIndexOf('event: response.completed')));
    expect(cut.verdict.complete).toBe(false);
    const bad = runRelay(createResponsesRelay({ sink: new RecordingSink() }), 'event: response.output_text.delta\ndata: {"delta":\n\n');
    expect(bad.verdict).toMatchObject({ complete: false, malformed: 'invalid JSON in a stream event' });
  });
});
