import { describe, expect, it } from 'vitest';
import { resetDuration, usdText } from './headers';

describe('rate-limit header values', () => {
  it('writes a reset in OpenAI duration format', () => {
    expect(resetDuration(0)).toBe('0ms');
    expect(resetDuration(250.2)).toBe('251ms');
    expect(resetDuration(1000)).toBe('1s');
    expect(resetDuration(59_001)).toBe('1m0s');
    expect(resetDuration(6 * 60_000 + 500)).toBe('6m1s');
    expect(resetDuration(3_600_000 + 61_000)).toBe('1h1m1s');
  });

  it('writes nanodollars as an exact dollar string', () => {
    expect(usdText(1)).toBe('0.000000001');
    expect(usdText(12_500_000_000)).toBe('12.5');
  });
});
