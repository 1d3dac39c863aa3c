import { describe, expect, it } from 'vitest';
import { isRecord, positiveCount, tokenCount } from './json-fields';

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

describe(tokenCount.name, () => {
  it.each([
    [0, 0],
    [12, 12],
    [-1, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    ['12', undefined],
    [null, undefined],
  ])('%j -> %s', (value, expected) => {
    expect(tokenCount(value)).toBe(expected);
  });
});

describe(positiveCount.name, () => {
  it.each([
    [0, undefined],
    [5, 5],
    [-5, undefined],
    ['5', undefined],
  ])('%j -> %s', (value, expected) => {
    expect(positiveCount(value)).toBe(expected);
  });
});
