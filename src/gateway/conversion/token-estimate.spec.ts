import { describe, expect, it } from 'vitest';
import { estimateInputTokens } from './token-estimate';

describe(estimateInputTokens.name, () => {
  it('grows with the text, the tool calls and the tool schemas', () => {
    const short = estimateInputTokens({ messages: [{ role: 'user', content: 'hi' }] });
    const long = estimateInputTokens({ system: 'You are terse.', messages: [{ role: 'user', content: 'hi '.repeat(200) }] });
    const tools = estimateInputTokens({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'sunny all week' }] }] },
      ],
      tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    expect(short).toBeGreaterThan(0);
    expect(long).toBeGreaterThan(short + 150);
    expect(tools).toBeGreaterThan(short + 20);
  });

  it('never throws on odd shapes', () => {
    expect(estimateInputTokens({ messages: [null, 3, { content: { weird: true } }] as unknown[] })).toBeGreaterThanOrEqual(0);
    expect(estimateInputTokens({})).toBe(0);
  });
});
