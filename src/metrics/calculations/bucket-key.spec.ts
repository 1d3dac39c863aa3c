import { describe, expect, it } from 'vitest';
import { bucketKey } from './bucket-key';

describe(bucketKey.name, () => {
  it.each([
    ['openai', 'gpt-4o', 'openai:gpt-4o'],
    ['openrouter', 'anthropic/claude-3-5-sonnet:context-flash', 'openrouter:anthropic/claude-3-5-sonnet:context-flash'],
    ['openai', undefined, 'openai'],
    [undefined, 'gpt-4o', 'gpt-4o'],
    [undefined, undefined, 'unknown'],
  ])('(%s, %s) -> %s', (provider, model, key) => {
    expect(bucketKey(provider, model)).toBe(key);
  });
});
