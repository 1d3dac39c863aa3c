import { describe, expect, it } from 'vitest';
import {
  anthropicMessageId,
  mapStopReason,
  openaiErrorToAnthropic,
  parseToolArguments,
  streamErrorToAnthropic,
  toAnthropicResponse,
  toAnthropicUsage,
} from './openai-to-anthropic';
import type { OpenAIChatCompletion } from './wire-types';

describe(toAnthropicResponse.name, () => {
  it('never throws on an empty or odd body', () => {
    for (const body of [{}, { choices: null }, { choices: ['x'] }, { choices: [{ message: 'x' }] }, null]) {
      const message = toAnthropicResponse(body as OpenAIChatCompletion, 'sonnet');
      expect(message).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: 'sonnet',
        content: [],
        stop_reason: 'end_turn',
      });
      expect(message.id).toMatch(/^msg_[0-9a-f]{24}$/);
    }
  });

  it('uses the refusal text when there is no content', () => {
    const body: OpenAIChatCompletion = {
      id: 'r',
      choices: [{ message: { content: null, refusal: 'I cannot help.' }, finish_reason: 'stop' }],
    };
    expect(toAnthropicResponse(body, 'm').content).toEqual([{ type: 'text', text: 'I cannot help.' }]);
  });

  it('ignores choices after the first', () => {
    const body: OpenAIChatCompletion = {
      id: 'x',
      choices: [
        { index: 0, message: { content: 'one' }, finish_reason: 'stop' },
        { index: 1, message: { content: 'two' }, finish_reason: 'length' },
      ],
    };
    expect(toAnthropicResponse(body, 'm')).toMatchObject({
      content: [{ type: 'text', text: 'one' }],
      stop_reason: 'end_turn',
    });
  });
});

describe(parseToolArguments.name, () => {
  it.each([
    ['', {}],
    ['  ', {}],
    ['{"a":1}', { a: 1 }],
    ['{"a":', { _raw_arguments: '{"a":' }],
    ['[1,2]', { _raw_arguments: '[1,2]' }],
    ['"text"', { _raw_arguments: '"text"' }],
  ])('%j -> %j', (args, input) => {
    expect(parseToolArguments(args)).toEqual(input);
  });
});

describe(mapStopReason.name, () => {
  it.each([
    [{ finishReason: 'stop', hasToolUse: false }, 'end_turn', null],
    [{ finishReason: null, hasToolUse: false }, 'end_turn', null],
    [{ finishReason: 'length', hasToolUse: true }, 'max_tokens', null],
    [{ finishReason: 'tool_calls', hasToolUse: true }, 'tool_use', null],
    [{ finishReason: 'tool_calls', hasToolUse: false }, 'end_turn', null],
    [{ finishReason: 'function_call', hasToolUse: true }, 'tool_use', null],
    [{ finishReason: 'stop', hasToolUse: true }, 'tool_use', null],
    [{ finishReason: 'content_filter', hasToolUse: false }, 'refusal', null],
    [{ finishReason: 'stop', hasToolUse: false, stopSequences: ['END'] }, 'end_turn', null],
    [
      { finishReason: 'stop', hasToolUse: false, stopSequences: ['END'], providerStop: 'END' },
      'stop_sequence',
      'END',
    ],
    [
      { finishReason: 'stop', hasToolUse: false, stopSequences: ['END'], providerStop: 128001 },
      'end_turn',
      null,
    ],
    [{ finishReason: 'stop', hasToolUse: false, providerStop: 'END' }, 'end_turn', null],
  ])('%j -> %s', (input, stopReason, stopSequence) => {
    expect(mapStopReason(input)).toEqual({ stopReason, stopSequence });
  });
});

describe(toAnthropicUsage.name, () => {
  it('writes the recorded patch as an Anthropic usage object, 0 for what was not reported', () => {
    expect(toAnthropicUsage({ inputTokens: 36, cacheReadTokens: 64, outputTokens: 7, reasoningTokens: 2 })).toEqual({
      input_tokens: 36,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 64,
      output_tokens: 7,
    });
    expect(toAnthropicUsage({})).toEqual({
      input_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: 0,
    });
  });
});

describe(anthropicMessageId.name, () => {
  it('derives the id from the upstream id', () => {
    expect(anthropicMessageId('chatcmpl-B9MHDbslfwS8')).toBe('msg_B9MHDbslfwS8');
    expect(anthropicMessageId('gen-17/abc')).toBe('msg_gen-17abc');
  });
});

describe(openaiErrorToAnthropic.name, () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [422, 'invalid_request_error'],
    [429, 'rate_limit_error'],
    [500, 'api_error'],
    [502, 'api_error'],
    [503, 'overloaded_error'],
    [504, 'timeout_error'],
    [529, 'overloaded_error'],
  ])('%i -> %s, keeping status and upstream message', (status, type) => {
    const body = { error: { message: 'upstream says no', type: 'whatever', code: null } };
    expect(openaiErrorToAnthropic(status, body)).toEqual({
      status,
      body: { type: 'error', error: { type, message: 'upstream says no' } },
    });
  });

  it.each([
    [{ error: 'plain string error' }, 'plain string error'],
    [{ message: 'top-level message' }, 'top-level message'],
    [{ detail: 'FastAPI detail' }, 'FastAPI detail'],
    ['Bad Gateway from nginx', 'Bad Gateway from nginx'],
    [undefined, 'Upstream request failed with status 400'],
  ])('finds the message in %j', (body, message) => {
    expect(openaiErrorToAnthropic(400, body).body.error.message).toBe(message);
  });

  it('turns an error on a non-error status into a 500 api_error', () => {
    expect(openaiErrorToAnthropic(200, { error: { message: 'x' } })).toMatchObject({
      status: 500,
      body: { error: { type: 'api_error' } },
    });
  });
});

describe(streamErrorToAnthropic.name, () => {
  it.each([
    [{ error: { code: 429, message: 'm' } }, 'rate_limit_error', 'rate_limit'],
    [{ error: { code: 'rate_limit_exceeded', message: 'm' } }, 'rate_limit_error', 'rate_limit'],
    [{ error: { type: 'server_overloaded', message: 'm' } }, 'overloaded_error', 'upstream_error'],
    [{ error: { type: 'invalid_request_error', message: 'm' } }, 'invalid_request_error', 'bad_request'],
    [{ error: { code: 'invalid_api_key', message: 'm' } }, 'authentication_error', 'auth_error'],
    [{ error: { code: 504, message: 'm' } }, 'timeout_error', 'upstream_timeout'],
    [{ error: { message: 'm' } }, 'api_error', 'upstream_error'],
  ])('%j -> %s / %s', (payload, type, errorType) => {
    expect(streamErrorToAnthropic(payload)).toEqual({ type, message: 'm', errorType });
  });
  it('has a message even for an empty error', () => {
    expect(streamErrorToAnthropic({ error: {} }).message).toBe('upstream stream error');
  });
});
