import { describe, expect, it } from 'vitest';
import { addHistogram, cumulativeCounts, exponentialBounds, newHistogram, observe } from './histogram';

const BOUNDS = [0.01, 0.1, 1];

describe(observe.name, () => {
  it('puts a value in the first bucket whose bound is >= the value, and beyond the last in +Inf', () => {
    const sut = newHistogram(BOUNDS);
    for (const v of [0.005, 0.01, 0.011, 1, 5]) observe(sut, BOUNDS, v);
    expect(sut.counts).toEqual([2, 1, 1, 1]);
    expect(sut.count).toBe(5);
    expect(sut.sum).toBeCloseTo(6.026, 9);
  });
});

describe(cumulativeCounts.name, () => {
  it('accumulates, ending at the total count', () => {
    const sut = newHistogram(BOUNDS);
    for (const v of [0.5, 0.5, 2]) observe(sut, BOUNDS, v);
    expect(cumulativeCounts(sut)).toEqual([0, 0, 2, 3]);
  });
});

describe(addHistogram.name, () => {
  it('adds bucket by bucket, with sum and count', () => {
    const a = newHistogram(BOUNDS);
    const b = newHistogram(BOUNDS);
    observe(a, BOUNDS, 0.0625);
    observe(b, BOUNDS, 0.0625);
    observe(b, BOUNDS, 3);
    addHistogram(a, b);
    expect(a).toEqual({ counts: [0, 2, 0, 1], sum: 3.125, count: 3 });
  });
});

describe(exponentialBounds.name, () => {
  it('doubles from 10 ms, printing as short decimals', () => {
    expect(exponentialBounds(0.01, 2, 5)).toEqual([0.01, 0.02, 0.04, 0.08, 0.16]);
    expect(exponentialBounds(0.01, 2, 15).at(-1)).toBe(163.84);
  });
});
