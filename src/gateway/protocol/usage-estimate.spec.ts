import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { anthropicAnswerText, chatAnswerText, estimateRequestInput, responsesAnswerText } from './usage-estimate';

describe('the output of an answer, for an estimate', () => {
  it('Anthropic: text, thinking and tool inputs', () => {
    const body = { content: [{ type: 'thinking', thinking: 'Hmm.' }, { type: 'text', text: 'Sunny.' }, { type: 'tool_use', name: 'w', input: { city: 'Paris' } }, null, 'x'] };
    expect(anthropicAnswerText(body)).toEqual(['Hmm.', 'Sunny.', '{"city":"Paris"}']);
    expect(anthropicAnswerText({ content: 'nope' })).toEqual([]);
  });

  it('chat: every choice, refusals, reasoning and tool arguments', () => {
    const body = {
      choices: [
        { message: { content: 'Hi', reasoning_content: 'think', tool_calls: [{ function: { name: 'w', arguments: '{"a":1}' } }, null] } },
        { message: { content: null, refusal: 'No.' } },
        'x',
      ],
    };
    expect(chatAnswerText(body)).toEqual(['Hi', 'think', '{"a":1}', 'No.']);
  });

  it('Responses: output text, refusals, reasoning summaries, function arguments and custom tool inputs', () => {
    const body = {
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Plan.' }] },
        { type: 'message', content: [{ type: 'output_text', text: 'Done.' }, { type: 'refusal', refusal: 'Not that.' }] },
        { type: 'function_call', name: 'w', arguments: '{"b":2}' },
        { type: 'custom_tool_call', name: 'sh', input: 'ls' },
      ],
    };
    expect(responsesAnswerText(body)).toEqual(['Plan.', 'Done.', 'Not that.', '{"b":2}', 'ls']);
  });
});

describe(estimateRequestInput.name, () => {
  const text = 'How should the gateway account for a client that leaves early?';
  it('reads each API\'s own shape the way count_tokens reads a Messages body, 4 tokens a message', () => {
    const n = countTokens(text);
    expect(estimateRequestInput('anthropic_messages', { messages: [{ role: 'user', content: text }] })).toBe(n + 4);
    expect(estimateRequestInput('openai_chat', { messages: [{ role: 'user', content: [{ type: 'text', text }] }] })).toBe(n + 4);
    expect(estimateRequestInput('openai_responses', { input: text })).toBe(n + 4);
    expect(estimateRequestInput('openai_responses', { instructions: text, input: [{ type: 'function_call_output', call_id: 'c', output: text }] })).toBe(2 * n + 4);
    expect(estimateRequestInput('openai_chat', { messages: [{ role: 'assistant', content: null, tool_calls: [{ function: { name: 'f', arguments: text } }] }] })).toBeGreaterThanOrEqual(n + 4);
  });

  it('embeddings: texts tokenized, token arrays counted by their length', () => {
    expect(estimateRequestInput('openai_embeddings', { input: text })).toBe(countTokens(text));
    expect(estimateRequestInput('openai_embeddings', { input: [text, text] })).toBe(2 * countTokens(text));
    expect(estimateRequestInput('openai_embeddings', { input: [[1, 2, 3], [4]] })).toBe(4);
    expect(estimateRequestInput('openai_embeddings', { input: [1, 2, 3] })).toBe(3);
    expect(estimateRequestInput('openai_embeddings', {})).toBe(0);
  });
});
