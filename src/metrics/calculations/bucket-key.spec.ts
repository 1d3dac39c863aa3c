import { describe, expect, it } from 'vitest';
import { bucketKey, splitBucketKey } from './bucket-key';

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

describe(splitBucketKey.name, () => {
  it('splits on the first colon only', () => {
    expect(splitBucketKey('openrouter:kwaipilot/kat-coder-pro:free')).toEqual({ provider: 'openrouter', model: 'kwaipilot/kat-coder-pro:free' });
  });
  it('leaves a key without a colon as a provider', () => {
    expect(splitBucketKey('openai')).toEqual({ provider: 'openai' });
  });
});
