import { describe, expect, it } from 'vitest';
import { anthropicDeltaText, openaiDeltaText } from './output-chars';

const chars = (collect: (delta: unknown, into: string[]) => void, delta: unknown): number => {
  const pieces: string[] = [];
  collect(delta, pieces);
  expect(pieces.every((p) => p.length > 0)).toBe(true);
  return pieces.join('').length;
};

describe(anthropicDeltaText.name, () => {
  it.each([
    [{ type: 'text_delta', text: 'Hello wörld' }, 11],
    [{ type: 'input_json_delta', partial_json: '{"city":' }, 8],
    [{ type: 'thinking_delta', thinking: 'Let me see' }, 10],
    [{ type: 'signature_delta', signature: 'EqQBCgIYAh' }, 0],
    [{ type: 'text_delta', text: 42 }, 0],
    [{}, 0],
    [null, 0],
    ['text', 0],
  ])('%j has %i characters', (delta, n) => {
    expect(chars(anthropicDeltaText, delta)).toBe(n);
  });
});

describe(openaiDeltaText.name, () => {
  it.each([
    [{ role: 'assistant', content: '', refusal: null }, 0],
    [{ content: 'Hello' }, 5],
    [{ refusal: 'No.' }, 3],
    [{ reasoning_content: 'Think' }, 5],
    [{ reasoning: 'Hmm' }, 3],
    [{ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, 0],
    [{ tool_calls: [{ index: 0, function: { arguments: '{"lo' } }, { index: 1, function: { arguments: 'cat' } }] }, 7],
    [{ content: 'a', tool_calls: [null, 'x', { function: null }, { function: { arguments: 5 } }] }, 1],
    [{ tool_calls: 'nope' }, 0],
    [[], 0],
    [undefined, 0],
  ])('%j has %i characters', (delta, n) => {
    expect(chars(openaiDeltaText, delta)).toBe(n);
  });
});

describe('output pieces', () => {
  it('keeps each text apart, in order, for the estimate', () => {
    const pieces: string[] = [];
    openaiDeltaText({ content: 'Hi', reasoning: 'hmm', tool_calls: [{ function: { arguments: '{"a":1}' } }] }, pieces);
    anthropicDeltaText({ type: 'text_delta', text: ' there' }, pieces);
    expect(pieces).toEqual(['Hi', 'hmm', '{"a":1}', ' there']);
  });
});
