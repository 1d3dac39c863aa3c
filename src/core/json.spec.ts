import { describe, expect, it } from 'vitest';
import { isRecord } from './json';

describe(isRecord.name, () => {
  it.each([
    [{}, true],
    [{ a: 1 }, true],
    [[], false],
    [null, false],
    ['x', false],
    [3, false],
    [undefined, false],
  ])('%j -> %s', (value, expected) => {
    expect(isRecord(value)).toBe(expected);
  });
});
