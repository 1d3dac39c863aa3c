import { describe, expect, it } from 'vitest';
import { boundedText, hasControlCharacters, MODEL_NAME_MAX, modelNameProblem } from './bounded-text';

describe(boundedText.name, () => {
  it('keeps a short clean text as it is', () => {
    expect(boundedText('claude-sonnet-4-5', 256)).toBe('claude-sonnet-4-5');
    expect(boundedText('modèle-日本', 256)).toBe('modèle-日本');
  });

  it('removes control characters and cuts to the bound', () => {
    expect(boundedText('a\u0000b\nc\u001bd\u0085e\u2028f', 256)).toBe('abcdef');
    expect(boundedText('x'.repeat(30_000_000), 256)).toBe('x'.repeat(256));
    expect(boundedText('\u0000'.repeat(10), 256)).toBe('');
  });

  it('never splits a surrogate pair', () => {
    expect(boundedText(`${'x'.repeat(255)}😀`, 256)).toBe('x'.repeat(255));
    expect(boundedText(`${'x'.repeat(254)}😀yy`, 256)).toBe(`${'x'.repeat(254)}😀`);
  });
});

describe(modelNameProblem.name, () => {
  it(`accepts names up to ${MODEL_NAME_MAX} characters without control characters`, () => {
    expect(modelNameProblem('openrouter:kwaipilot/kat-coder-pro:free')).toBeUndefined();
    expect(modelNameProblem('m'.repeat(MODEL_NAME_MAX))).toBeUndefined();
    expect(modelNameProblem('m'.repeat(MODEL_NAME_MAX + 1))).toBe('model: must be at most 256 characters');
    expect(modelNameProblem('gpt\u00004o')).toBe('model: must not contain control characters');
    expect(modelNameProblem('gpt\u20284o')).toBe('model: must not contain control characters');
    expect(hasControlCharacters('gpt-4o')).toBe(false);
  });
});
