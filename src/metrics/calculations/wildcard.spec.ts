import { describe, expect, it } from 'vitest';
import { compileGlob, matchesFilter } from './wildcard';

describe(compileGlob.name, () => {
  it.each([
    ['gpt-*', 'GPT-4o', true],
    ['gpt-?o', 'gpt-4o', true],
    ['gpt-?o', 'gpt-40o', false],
    ['*sonnet*', 'anthropic/claude-3-5-sonnet:context-flash', true],
    ['claude.3', 'claude-3', false],
    ['a+b', 'a+b', true],
    ['OpenAI', 'openai', true],
  ])('%s matches %s: %s', (pattern, value, expected) => {
    expect(compileGlob(pattern).test(value)).toBe(expected);
  });
});

describe(matchesFilter.name, () => {
  it('never lets a model filter exclude an entry with no model', () => {
    expect(matchesFilter({ model: compileGlob('gpt-*') }, 'openai', undefined)).toBe(true);
    expect(matchesFilter({ model: compileGlob('gpt-*') }, 'openai', 'o1')).toBe(false);
  });
  it('applies the provider filter to every entry', () => {
    expect(matchesFilter({ provider: compileGlob('open*') }, 'anthropic', undefined)).toBe(false);
  });
});
