import { describe, expect, it } from 'vitest';
import { Glob } from '../../core/glob';
import { matchesFilter } from './wildcard';

describe(matchesFilter.name, () => {
  it('never lets a model filter exclude an entry with no model', () => {
    expect(matchesFilter({ model: new Glob('gpt-*') }, 'openai', undefined)).toBe(true);
    expect(matchesFilter({ model: new Glob('gpt-*') }, 'openai', 'o1')).toBe(false);
  });
  it('applies the provider filter to every entry', () => {
    expect(matchesFilter({ provider: new Glob('open*') }, 'anthropic', undefined)).toBe(false);
  });
});
