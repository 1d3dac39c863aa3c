import { describe, expect, it } from 'vitest';
import {
  anthropicMessageUsage,
  anthropicUsage,
  foldUsage,
  isStandardServiceTier,
  openaiChunkUsage,
  USAGE_FIELDS,
  openaiCompletionUsage,
  openaiUsage,
  embeddingsUsage,
  responsesResponseUsage,
  serviceTierOf,
  tokenCount,
  type UsagePatch,
} from './usage';

describe(anthropicMessageUsage.name, () => {
  it('reads usage and counts tool_use blocks of a Messages response', () => {
    const body = {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_01B', name: 'get_weather', input: { city: 'Berlin' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 472,
        cache_creation_input_tokens: 1200,
        cache_read_input_tokens: 8800,
        cache_creation: { ephemeral_5m_input_tokens: 1200, ephemeral_1h_input_tokens: 0 },
        output_tokens: 89,
        service_tier: 'standard',
      },
    };
    const sut = anthropicMessageUsage(body);
    expect(sut).toStrictEqual({
      inputTokens: 472,
      outputTokens: 89,
      cacheReadTokens: 8800,
      cacheCreationTokens: 1200,
      toolCallCount: 2,
      serviceTier: 'standard',
    });
  });

  it('leaves unreported fields absent', () => {
    const body = { content: [{ type: 'text', text: 'hi' }], usage: { input_tokens: 10, output_tokens: 3 } };
    expect(anthropicMessageUsage(body)).toStrictEqual({ inputTokens: 10, outputTokens: 3, toolCallCount: 0 });
  });

  it.each([
    ['null', null],
    ['a string', 'x'],
    ['no usage, no content', { type: 'message' }],
    ['odd usage values', { usage: { input_tokens: -5, output_tokens: '7', cache_read_input_tokens: null } }],
  ])('reports nothing for %s', (_label, body) => {
    expect(anthropicMessageUsage(body)).toStrictEqual({});
  });
});

describe(openaiCompletionUsage.name, () => {
  it('converts a chat.completion to the Anthropic convention and counts tool calls', () => {
    const body = {
      id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
      object: 'chat.completion',
      created: 1741569952,
      model: 'gpt-4o-2024-08-06',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_b',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Berlin"}' },
              },
            ],
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
        {
          index: 1,
          message: { role: 'assistant', content: 'x', tool_calls: [{ id: 'call_c' }] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 2006,
        completion_tokens: 300,
        total_tokens: 2306,
        prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_fc9f1d7035',
    };
    expect(openaiCompletionUsage(body)).toStrictEqual({
      inputTokens: 86,
      cacheReadTokens: 1920,
      outputTokens: 300,
      reasoningTokens: 0,
      toolCallCount: 3,
      serviceTier: 'default',
    });
  });

  it('reports zero tool calls for a plain answer', () => {
    const body = {
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 },
    };
    expect(openaiCompletionUsage(body)).toStrictEqual({ inputTokens: 9, outputTokens: 12, toolCallCount: 0 });
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['no usage, no choices', { object: 'chat.completion' }],
  ])('reports nothing for %s', (_label, body) => {
    expect(openaiCompletionUsage(body)).toStrictEqual({});
  });
});

describe(openaiChunkUsage.name, () => {
  it('reads the usage chunk of a stream (include_usage) with the tier it was served at', () => {
    const chunk = {
      id: 'chatcmpl-C1',
      object: 'chat.completion.chunk',
      created: 1741569952,
      model: 'gpt-5-2025-08-07',
      service_tier: 'flex',
      system_fingerprint: null,
      choices: [],
      usage: { prompt_tokens: 3000, completion_tokens: 400, total_tokens: 3400, prompt_tokens_details: { cached_tokens: 2000 } },
    };
    expect(openaiChunkUsage(chunk)).toStrictEqual({ inputTokens: 1000, cacheReadTokens: 2000, outputTokens: 400, serviceTier: 'flex' });
  });

  it('reports no tier for a null or missing service_tier', () => {
    expect(openaiChunkUsage({ service_tier: null, usage: { prompt_tokens: 1, completion_tokens: 2 } })).toStrictEqual({ inputTokens: 1, outputTokens: 2 });
    expect(openaiChunkUsage({ usage: null })).toStrictEqual({});
  });
});

describe(serviceTierOf.name, () => {
  it.each([
    ['priority', 'priority'],
    [' Flex ', 'flex'],
    ['', undefined],
    [null, undefined],
    [3, undefined],
    [{ tier: 'flex' }, undefined],
  ])('%j -> %s', (value, expected) => {
    expect(serviceTierOf(value)).toBe(expected);
  });

  it('cuts an absurdly long tier, so it cannot grow a cache key or a log line', () => {
    expect(serviceTierOf('x'.repeat(1000))).toHaveLength(64);
    expect(serviceTierOf(`Pri\u0000ori\nty${' '.repeat(10_000_000)}`)).toBe('priority');
  });
});

describe(isStandardServiceTier.name, () => {
  it.each([undefined, 'default', 'auto', 'standard', 'on_demand'])('%s is billed at the standard rate', (tier) => {
    expect(isStandardServiceTier(tier)).toBe(true);
  });

  it.each(['flex', 'priority', 'scale', 'batch'])('%s is not', (tier) => {
    expect(isStandardServiceTier(tier)).toBe(false);
  });
});

describe('openaiUsage of a usage object', () => {
  it('subtracts cached tokens from prompt tokens', () => {
    const usage = { prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 64 } };
    expect(openaiUsage(usage)).toStrictEqual({
      inputTokens: 36,
      cacheReadTokens: 64,
      outputTokens: 5,
    });
  });

  it('caps cache reads at prompt tokens, so input is never negative and input + cache reads = prompt', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 20 } };
    expect(openaiUsage(usage)).toStrictEqual({
      inputTokens: 0,
      cacheReadTokens: 10,
      outputTokens: 1,
    });
  });

  it('keeps cache reads as reported when prompt tokens are not', () => {
    expect(openaiUsage({ prompt_tokens_details: { cached_tokens: 20 } })).toStrictEqual({
      cacheReadTokens: 20,
    });
  });

  it('reads reasoning tokens, which are part of the output', () => {
    const usage = {
      prompt_tokens: 5,
      completion_tokens: 40,
      completion_tokens_details: { reasoning_tokens: 32 },
    };
    expect(openaiUsage(usage)).toStrictEqual({ inputTokens: 5, outputTokens: 40, reasoningTokens: 32 });
  });

  it('rounds fractional counts down before splitting', () => {
    const usage = {
      prompt_tokens: 100.9,
      completion_tokens: 7.5,
      prompt_tokens_details: { cached_tokens: 60.5 },
    };
    expect(openaiUsage(usage)).toStrictEqual({ inputTokens: 40, cacheReadTokens: 60, outputTokens: 7 });
  });

  it('reads DeepSeek prompt_cache_hit_tokens when prompt_tokens_details is absent', () => {
    const usage = {
      prompt_tokens: 500,
      completion_tokens: 40,
      total_tokens: 540,
      prompt_cache_hit_tokens: 448,
      prompt_cache_miss_tokens: 52,
    };
    expect(openaiUsage(usage)).toStrictEqual({
      inputTokens: 52,
      cacheReadTokens: 448,
      outputTokens: 40,
    });
  });

  it('keeps unreported fields absent', () => {
    expect(openaiUsage({ completion_tokens: 7 })).toStrictEqual({ outputTokens: 7 });
    expect(openaiUsage({ prompt_tokens: 7, prompt_tokens_details: null })).toStrictEqual({
      inputTokens: 7,
    });
  });

  it.each([null, undefined, 'usage', 12, [], { prompt_tokens: -3, completion_tokens: Number.NaN }])(
    'reports nothing for %j',
    (usage) => {
      expect(openaiUsage(usage)).toStrictEqual({});
    },
  );
});

describe(anthropicUsage.name, () => {
  it('reads the tier of a message_start usage (Anthropic Priority Tier)', () => {
    const usage = { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1, service_tier: 'priority' };
    expect(anthropicUsage(usage)).toStrictEqual({ inputTokens: 12, outputTokens: 1, cacheReadTokens: 0, cacheCreationTokens: 0, serviceTier: 'priority' });
  });

  it('reads the four counts of a usage object, zeros included', () => {
    const usage = {
      input_tokens: 3,
      output_tokens: 0,
      cache_read_input_tokens: 8.7,
      cache_creation_input_tokens: 0,
    };
    expect(anthropicUsage(usage)).toStrictEqual({
      inputTokens: 3,
      outputTokens: 0,
      cacheReadTokens: 8,
      cacheCreationTokens: 0,
    });
  });
});

describe(tokenCount.name, () => {
  it.each([
    [0, 0],
    [12, 12],
    [12.99, 12],
    [0.5, 0],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    [1e21, undefined],
    [-1, undefined],
    [-0.5, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    ['12', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('%j -> %s', (value, expected) => {
    expect(tokenCount(value)).toBe(expected);
  });
});

describe(foldUsage.name, () => {
  it('takes the latest non-zero value of each field; a later 0 or an absent field is no news', () => {
    const sut: UsagePatch = {};
    expect(foldUsage(sut, { inputTokens: 100, cacheReadTokens: 50, outputTokens: 1 })).toBe(true);
    expect(foldUsage(sut, { inputTokens: 0, cacheReadTokens: 0, outputTokens: 42, reasoningTokens: 9 })).toBe(
      true,
    );
    expect(foldUsage(sut, { outputTokens: 42 })).toBe(false);
    expect(sut).toStrictEqual({
      inputTokens: 100,
      cacheReadTokens: 50,
      outputTokens: 42,
      reasoningTokens: 9,
    });
  });

  it('keeps the latest service tier reported; a report without one is no news', () => {
    const sut: UsagePatch = {};
    expect(foldUsage(sut, { inputTokens: 5, serviceTier: 'standard' })).toBe(true);
    expect(foldUsage(sut, { outputTokens: 3 })).toBe(true);
    expect(sut.serviceTier).toBe('standard');
    expect(foldUsage(sut, { serviceTier: 'standard' })).toBe(false);
    expect(foldUsage(sut, { serviceTier: 'priority' })).toBe(true);
    expect(sut).toStrictEqual({ inputTokens: 5, outputTokens: 3, serviceTier: 'priority' });
  });

  it.each(USAGE_FIELDS)('folds %s, as every usage field', (field) => {
    const sut: UsagePatch = {};
    expect(foldUsage(sut, { [field]: 7 })).toBe(true);
    expect(sut).toStrictEqual({ [field]: 7 });
  });
});

describe(responsesResponseUsage.name, () => {
  it('reads a Responses API usage: input without cached tokens, cache reads, output, reasoning, and tool call items', () => {
    const response = {
      object: 'response',
      status: 'completed',
      output: [
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'function_call', id: 'fc_1', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'custom_tool_call', id: 'ctc_1', call_id: 'c2', name: 'apply_patch', input: '' },
        { type: 'message', id: 'msg_1', role: 'assistant', content: [] },
      ],
      usage: { input_tokens: 500, input_tokens_details: { cached_tokens: 300 }, output_tokens: 90, output_tokens_details: { reasoning_tokens: 64 }, total_tokens: 590 },
    };
    expect(responsesResponseUsage(response)).toStrictEqual({ inputTokens: 200, cacheReadTokens: 300, outputTokens: 90, reasoningTokens: 64, toolCallCount: 2 });
  });

  it('reads the tier the response was served at', () => {
    const response = { object: 'response', status: 'completed', service_tier: 'flex', output: [], usage: { input_tokens: 10, output_tokens: 2 } };
    expect(responsesResponseUsage(response)).toStrictEqual({ inputTokens: 10, outputTokens: 2, toolCallCount: 0, serviceTier: 'flex' });
  });

  it('caps cached tokens at input and ignores odd values', () => {
    expect(responsesResponseUsage({ usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 50 }, output_tokens: -1 } })).toStrictEqual({ inputTokens: 0, cacheReadTokens: 10 });
    expect(responsesResponseUsage(null)).toStrictEqual({});
  });
});

describe(embeddingsUsage.name, () => {
  it('counts prompt tokens as input', () => {
    expect(embeddingsUsage({ object: 'list', data: [], usage: { prompt_tokens: 8, total_tokens: 8 } })).toStrictEqual({ inputTokens: 8 });
    expect(embeddingsUsage({ usage: null })).toStrictEqual({});
  });
});
