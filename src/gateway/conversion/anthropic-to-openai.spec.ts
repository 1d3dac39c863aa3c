import { describe, expect, it } from 'vitest';
import { toOpenAIRequest } from './anthropic-to-openai';
import type { AnthropicMessagesRequest } from './wire-types';

function request(overrides: Partial<AnthropicMessagesRequest> = {}): AnthropicMessagesRequest {
  return { model: 'sonnet', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...overrides };
}

/** Client input the types do not allow but clients send anyway. */
function odd(value: unknown): AnthropicMessagesRequest {
  return value as AnthropicMessagesRequest;
}

describe(toOpenAIRequest.name, () => {
  it('uses the upstream model name, never the client alias', () => {
    expect(toOpenAIRequest(request(), 'gpt-4o').model).toBe('gpt-4o');
  });

  it('converts structurally odd bodies without throwing', () => {
    expect(toOpenAIRequest(odd({ model: 'x' }), 'm')).toEqual({ model: 'm', messages: [] });
    expect(
      toOpenAIRequest(
        odd({
          model: 'x',
          max_tokens: 'many',
          system: 42,
          tools: 'none',
          metadata: { user_id: null },
          messages: [
            null,
            'text',
            { role: 'robot', content: 'x' },
            { role: 'user', content: [null, 7, { type: 'text' }, { type: 'mystery' }] },
          ],
        }),
        'm',
      ),
    ).toEqual({ model: 'm', messages: [{ role: 'user', content: '' }] });
  });

  it('joins string and block system prompts into one leading system message, skipping empty ones', () => {
    expect(toOpenAIRequest(request({ system: 'Be brief.' }), 'm').messages[0]).toEqual({
      role: 'system',
      content: 'Be brief.',
    });
    expect(toOpenAIRequest(request({ system: '' }), 'm').messages[0]).toEqual({
      role: 'user',
      content: 'hi',
    });
    expect(toOpenAIRequest(request({ system: [{ type: 'text', text: '' }] }), 'm').messages).toHaveLength(1);
  });

  it('marks an errored tool result even when it has no content', () => {
    const body = request({
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'run', input: { cmd: 'ls' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', is_error: true }] },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'run', arguments: '{"cmd":"ls"}' } }],
      },
      { role: 'tool', tool_call_id: 't1', content: 'Error: ' },
    ]);
  });

  it('puts tool messages before the user text of the same turn, whatever the block order', () => {
    const body = request({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'first' },
            { type: 'tool_result', tool_use_id: 'a', content: 'A' },
            {
              type: 'tool_result',
              tool_use_id: 'b',
              content: [
                { type: 'text', text: 'B1' },
                { type: 'text', text: 'B2' },
              ],
            },
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([
      { role: 'tool', tool_call_id: 'a', content: 'A' },
      { role: 'tool', tool_call_id: 'b', content: 'B1\n\nB2' },
      { role: 'user', content: 'first' },
    ]);
  });

  it('sends tool_choice and parallel_tool_calls only together with tools', () => {
    const noTools = toOpenAIRequest(
      request({ tool_choice: { type: 'tool', name: 'x', disable_parallel_tool_use: true } }),
      'm',
    );
    expect(noTools).not.toHaveProperty('tool_choice');
    expect(noTools).not.toHaveProperty('parallel_tool_calls');
  });

  it('gives a client tool without input_schema an empty object schema and drops server tools', () => {
    const body = request({
      tools: [
        { name: 'ping' },
        { name: 'bash', type: 'bash_20250124' },
        { name: 'custom_one', type: 'custom', input_schema: { type: 'object' } },
      ],
    });
    expect(toOpenAIRequest(body, 'm').tools).toEqual([
      { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
      { type: 'function', function: { name: 'custom_one', parameters: { type: 'object' } } },
    ]);
  });

  it('keeps an assistant string turn and an assistant text-only block turn as plain content', () => {
    const body = request({
      messages: [
        { role: 'assistant', content: 'plain' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([
      { role: 'assistant', content: 'plain' },
      { role: 'assistant', content: 'a\n\nb' },
    ]);
  });

  it('sends text documents as text and skips url documents and images it cannot read', () => {
    const body = request({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc text' } },
            { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
            { type: 'document', source: { type: 'content', content: [{ type: 'text', text: 'inner' }] } },
            odd({ type: 'image', source: { type: 'file', file_id: 'f1' } }) as never,
            { type: 'text', text: 'question' },
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([
      { role: 'user', content: 'doc text\n\ninner\n\nquestion' },
    ]);
  });

  it('does not send stream fields for a non-streaming request, nor empty stop lists', () => {
    const out = toOpenAIRequest(request({ stream: false, stop_sequences: [] }), 'm');
    expect(out).not.toHaveProperty('stream');
    expect(out).not.toHaveProperty('stream_options');
    expect(out).not.toHaveProperty('stop');
  });
});
