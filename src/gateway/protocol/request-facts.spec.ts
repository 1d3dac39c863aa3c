import { describe, expect, it } from 'vitest';
import { anthropicRequestFacts, openaiRequestFacts, responsesRequestFacts } from './request-facts';

describe(anthropicRequestFacts.name, () => {
  it('counts messages, a string system prompt, tool_use and tool_result blocks', () => {
    const body = {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      system: 'You are a helpful assistant.',
      messages: [
        { role: 'user', content: 'What is the weather in Paris and Berlin?' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check both.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_01B', name: 'get_weather', input: { city: 'Berlin' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01A', content: '18C, cloudy' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_01B',
              content: [{ type: 'text', text: '21C' }],
              is_error: false,
            },
          ],
        },
      ],
    };
    const sut = anthropicRequestFacts(body);
    expect(sut).toEqual({ messageCount: 4, toolUseCount: 2, toolResultCount: 2 });
  });

  it('counts each block of an array system prompt', () => {
    const body = {
      system: [
        { type: 'text', text: 'You are Claude Code.' },
        { type: 'text', text: 'Project rules...', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    };
    expect(anthropicRequestFacts(body)).toEqual({ messageCount: 3, toolUseCount: 0, toolResultCount: 0 });
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['an array', [1, 2]],
    ['an empty object', {}],
    ['messages not an array', { messages: 'nope', system: 42 }],
  ])('returns zeros for %s', (_label, body) => {
    expect(anthropicRequestFacts(body)).toEqual({ messageCount: 0, toolUseCount: 0, toolResultCount: 0 });
  });

  it('counts what is countable in malformed messages', () => {
    const body = {
      system: 'sys',
      messages: [
        null,
        'text',
        { role: 'user', content: [null, 7, { type: 'tool_result' }] },
        { content: { type: 'tool_use' } },
      ],
    };
    expect(anthropicRequestFacts(body)).toEqual({ messageCount: 5, toolUseCount: 0, toolResultCount: 1 });
  });
});

describe(openaiRequestFacts.name, () => {
  it('counts messages, assistant tool_calls entries and tool messages', () => {
    const body = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Weather in Paris and Berlin?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Berlin"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: '21C' },
        { role: 'assistant', content: 'Paris 18C, Berlin 21C.' },
      ],
    };
    expect(openaiRequestFacts(body)).toEqual({ messageCount: 6, toolUseCount: 2, toolResultCount: 2 });
  });

  it('ignores tool_calls on non-assistant messages', () => {
    const body = { messages: [{ role: 'user', tool_calls: [{ id: 'x' }] }] };
    expect(openaiRequestFacts(body)).toEqual({ messageCount: 1, toolUseCount: 0, toolResultCount: 0 });
  });

  it.each([
    ['undefined', undefined],
    ['a number', 3],
    ['messages missing', { model: 'gpt-4o' }],
    ['messages an object', { messages: { role: 'user' } }],
  ])('returns zeros for %s', (_label, body) => {
    expect(openaiRequestFacts(body)).toEqual({ messageCount: 0, toolUseCount: 0, toolResultCount: 0 });
  });

  it('counts what is countable in malformed messages', () => {
    const body = { messages: [null, { role: 'assistant', tool_calls: 'x' }, { role: 'tool' }] };
    expect(openaiRequestFacts(body)).toEqual({ messageCount: 3, toolUseCount: 0, toolResultCount: 1 });
  });
});

describe(responsesRequestFacts.name, () => {
  it('counts message items and instructions, function calls as tool uses and their outputs as tool results', () => {
    const body = {
      model: 'gpt-5',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'Weather?' },
        { type: 'reasoning', id: 'rs_1', summary: [] },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{}' },
        { type: 'custom_tool_call', call_id: 'c2', name: 'apply_patch', input: '' },
        { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
        { type: 'custom_tool_call_output', call_id: 'c2', output: 'ok' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Sunny.' }] },
        null,
      ],
    };
    expect(responsesRequestFacts(body)).toEqual({ messageCount: 3, toolUseCount: 2, toolResultCount: 2 });
  });

  it('counts a string input as one message', () => {
    expect(responsesRequestFacts({ input: 'hi' })).toEqual({ messageCount: 1, toolUseCount: 0, toolResultCount: 0 });
    expect(responsesRequestFacts('x')).toEqual({ messageCount: 0, toolUseCount: 0, toolResultCount: 0 });
  });
});
