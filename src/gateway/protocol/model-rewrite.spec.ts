import { describe, expect, it } from 'vitest';
import { createModelRewriter } from './model-rewrite';

describe(createModelRewriter.name, () => {
  it('replaces the first "model" member and keeps the rest', () => {
    const sut = createModelRewriter('gpt-4o', 'fast');
    expect(sut('data: {"id":"1","model":"gpt-4o","x":"model"}\n\n')).toBe(
      'data: {"id":"1","model":"fast","x":"model"}\n\n',
    );
  });

  it('tolerates whitespace around the colon', () => {
    const sut = createModelRewriter('m', 'n');
    expect(sut('{"model" :  "m"}')).toBe('{"model" :  "n"}');
  });

  it('matches names with regex metacharacters literally and escapes the replacement', () => {
    const sut = createModelRewriter('openrouter/a.b+c (x)', '$& "q" \\');
    expect(sut('{"model":"openrouter/a.b+c (x)"}')).toBe('{"model":"$& \\"q\\" \\\\"}');
    expect(sut('{"model":"openrouter/aXb+c (x)"}')).toBeUndefined();
  });

  it('does not match a prefix of a longer name', () => {
    expect(createModelRewriter('gpt-4o', 'x')('{"model":"gpt-4o-mini"}')).toBeUndefined();
  });

  it('does not match an escaped mention inside a string', () => {
    expect(createModelRewriter('gpt-4o', 'x')('{"content":"\\"model\\":\\"gpt-4o\\""}')).toBeUndefined();
  });
});
