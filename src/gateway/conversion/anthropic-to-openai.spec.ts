import { describe, expect, it } from 'vitest';
import { toOpenAIRequest, UnconvertibleRequestError } from './anthropic-to-openai';
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

  it('carries the system messages inside messages in place, as OpenAI system messages', () => {
    // What Claude Code (Claude Agent SDK) sends for a model that is not Claude's.
    const environment = '# Environment\nYou have been invoked in the following environment: \n - Primary working directory: /tmp/x';
    const body = odd({
      model: 'x',
      max_tokens: 10,
      system: [{ type: 'text', text: 'You are a Claude agent.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>hi</system-reminder>' }] },
        { role: 'system', content: [{ type: 'text', text: environment }, { type: 'text', text: 'more' }] },
        { role: 'user', content: 'task' },
        { role: 'system', content: 'plain string' },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([
      { role: 'system', content: 'You are a Claude agent.' },
      { role: 'user', content: '<system-reminder>hi</system-reminder>' },
      { role: 'system', content: `${environment}\n\nmore` },
      { role: 'user', content: 'task' },
      { role: 'system', content: 'plain string' },
    ]);
  });

  it('carries thinking as marked text before the answer of its turn', () => {
    const body = request({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'step 1', signature: 'sig' }, { type: 'text', text: 'answer' }] },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages[1]).toEqual({ role: 'assistant', content: '<thinking>\nstep 1\n</thinking>\n\nanswer' });
  });

  it('carries search results as text, and documents and search results inside tool results', () => {
    const body = odd({
      model: 'x',
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'find', input: {} }] },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [
                { type: 'search_result', title: 'Doc', source: 'https://d.example', content: [{ type: 'text', text: 'found it' }] },
                { type: 'document', title: 'notes', source: { type: 'text', media_type: 'text/plain', data: 'note text' } },
                { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } },
              ],
            },
            { type: 'search_result', title: 'T', source: 's', content: [{ type: 'text', text: 'body' }] },
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages.slice(1)).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'Doc\n\nhttps://d.example\n\nfound it\n\nnotes\n\nnote text\n(image output attached in the next user message)' },
      {
        role: 'user',
        content: [
          { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE' } },
          { type: 'text', text: 'T\n\ns\n\nbody' },
        ],
      },
    ]);
  });

  it.each<[string, unknown, RegExp]>([
    ['a message that is not an object', { messages: [null] }, /^messages\[0\]: a message must be an object/],
    ['an unknown role', { messages: [{ role: 'robot', content: 'x' }] }, /^messages\[0\]\.role: the role "robot"/],
    ['content that is neither a string nor blocks', { messages: [{ role: 'user', content: 7 }] }, /^messages\[0\]\.content: /],
    ['a block that is not an object', { messages: [{ role: 'user', content: [null] }] }, /^messages\[0\]\.content\[0\]: /],
    ['an unknown block type', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'mystery' }] }] }, /^messages\[0\]\.content\[1\]: "mystery" blocks in a user message/],
    ['a text block without text', { messages: [{ role: 'user', content: [{ type: 'text' }] }] }, /^messages\[0\]\.content\[0\]: a text block without text/],
    ['a redacted_thinking block', { messages: [{ role: 'assistant', content: [{ type: 'redacted_thinking', data: 'opaque' }] }] }, /^messages\[0\]\.content\[0\]: a redacted_thinking block/],
    ['a server tool call', { messages: [{ role: 'assistant', content: [{ type: 'server_tool_use', id: 's', name: 'web_search', input: {} }] }] }, /"server_tool_use", a block of a tool Anthropic runs on its servers/],
    ['a server tool result', { messages: [{ role: 'assistant', content: [{ type: 'web_search_tool_result', tool_use_id: 's', content: [] }] }] }, /"web_search_tool_result", a block of a tool Anthropic runs/],
    ['a tool_use block in a user message', { messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }] }, /"tool_use" blocks in a user message/],
    ['a tool_result block in an assistant message', { messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'a' }] }] }, /"tool_result" blocks in an assistant message/],
    ['thinking in a user message', { messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'x' }] }] }, /"thinking" blocks in a user message/],
    ['an image from the Files API', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f1' } }] }] }, /\.source: an image source of type "file"/],
    ['an image in a tool result it cannot read', { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }] }, /^messages\[0\]\.content\[0\]\.content\[0\]\.source: /],
    ['an unknown block in a tool result', { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'tool_reference', tool_name: 'x' }] }] }] }, /"tool_reference" blocks in a tool result/],
    ['a url document', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://e.example/a.pdf' } }] }] }, /a document source of type "url"/],
    ['a Files API document', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: 'f' } }] }] }, /a document source of type "file"/],
    ['an image block in a system message', { messages: [{ role: 'system', content: [{ type: 'image', source: {} }] }] }, /^messages\[0\]\.content\[0\]: "image" block in a system prompt/],
    ['a system prompt of another shape', { system: 42, messages: [] }, /^system: a system prompt must be/],
    ['an Anthropic-defined tool', { tools: [{ name: 'bash', type: 'bash_20250124' }], messages: [] }, /^tools\[0\]: the tool type "bash_20250124"/],
    ['a server tool', { tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }], messages: [] }, /^tools\[0\]: the tool type "web_search_20250305"/],
    ['a tool without a name', { tools: [{ input_schema: { type: 'object' } }], messages: [] }, /^tools\[0\]\.name: /],
    ['an unknown tool choice', { tools: [{ name: 'a' }], tool_choice: { type: 'sometimes' }, messages: [] }, /^tool_choice\.type: the tool choice "sometimes"/],
    ['a long client-chosen type, cut in the message', { messages: [{ role: 'user', content: [{ type: 'x'.repeat(5000) }] }] }, /"x{40}\.\.\." blocks/],
  ])('refuses %s with a 400 naming where it is', (_label, overrides, message) => {
    let thrown: unknown;
    try {
      toOpenAIRequest(odd({ model: 'x', max_tokens: 5, ...(overrides as object) }), 'm');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnconvertibleRequestError);
    const error = thrown as UnconvertibleRequestError;
    expect(error.getStatus()).toBe(400);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(/refused rather than sent without it/);
    expect(error.message.length).toBeLessThan(400);
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

  it('gives a client tool without input_schema an empty object schema, and keeps a typed tool that has one', () => {
    const body = request({
      tools: [
        { name: 'ping' },
        { name: 'custom_one', type: 'custom', input_schema: { type: 'object' } },
        { name: 'typed', type: 'mcp_tool', input_schema: { type: 'object' } },
      ],
    });
    expect(toOpenAIRequest(body, 'm').tools).toEqual([
      { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
      { type: 'function', function: { name: 'custom_one', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'typed', parameters: { type: 'object' } } },
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

  it('carries the context a client gave a document before its text, or before its file', () => {
    const body = request({
      messages: [
        {
          role: 'user',
          content: [
            odd({ type: 'document', title: 'T', context: 'From the 2024 audit.', source: { type: 'text', media_type: 'text/plain', data: 'body' } }) as never,
            odd({ type: 'document', context: 'Scanned.', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBE' } }) as never,
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages[0]).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'T\n\nFrom the 2024 audit.\n\nbody' },
        { type: 'text', text: 'Scanned.' },
        { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBE' } },
      ],
    });
  });

  it('sends text and content documents as text, with their titles', () => {
    const body = request({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc text' } },
            { type: 'document', title: 'Spec', source: { type: 'content', content: [{ type: 'text', text: 'inner' }] } },
            { type: 'text', text: 'question' },
          ],
        },
      ],
    });
    expect(toOpenAIRequest(body, 'm').messages).toEqual([{ role: 'user', content: 'doc text\n\nSpec\n\ninner\n\nquestion' }]);
  });

  it('does not send stream fields for a non-streaming request, nor empty stop lists', () => {
    const out = toOpenAIRequest(request({ stream: false, stop_sequences: [] }), 'm');
    expect(out).not.toHaveProperty('stream');
    expect(out).not.toHaveProperty('stream_options');
    expect(out).not.toHaveProperty('stop');
  });
});
