import { describe, expect, it } from 'vitest';
import { coalesceWindowMs } from './active-requests.hub';

describe(coalesceWindowMs.name, () => {
  it('is a few milliseconds for a few clients and widens with many, up to a second', () => {
    expect(coalesceWindowMs(0)).toBe(5);
    expect(coalesceWindowMs(10)).toBe(5);
    expect(coalesceWindowMs(1000)).toBe(100);
    expect(coalesceWindowMs(10_000)).toBe(1000);
    expect(coalesceWindowMs(100_000)).toBe(1000);
  });
});
