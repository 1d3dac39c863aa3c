import { describe, expect, it } from 'vitest';
import { averageMs, isoSeconds } from './duration';

describe(averageMs.name, () => {
  it('is an integer, and 0 with no finished requests', () => {
    expect(averageMs(1000, 3)).toBe(333);
    expect(averageMs(0, 0)).toBe(0);
  });
});

describe(isoSeconds.name, () => {
  it('formats UTC with second precision and Z', () => {
    expect(isoSeconds(1_795_000_000.987)).toBe('2026-11-18T11:06:40Z');
  });
});
