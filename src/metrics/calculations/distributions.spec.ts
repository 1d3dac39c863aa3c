import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../../test/support/factories';
import { addToDistributions, newDistributions } from './distributions';

describe(addToDistributions.name, () => {
  it('observes duration, the four token kinds, overhead and the error type of a finished request', () => {
    const sut = newDistributions();
    addToDistributions(sut, makeRecord({ durationMs: 1500, upstreamMs: 1499.5, inputTokens: 100, outputTokens: 7, cacheReadTokens: 3, errorType: 'rate_limit' }));
    expect(sut.duration).toMatchObject({ count: 1, sum: 1.5 });
    expect(sut.overhead.sum).toBeCloseTo(0.0005, 9);
    expect([sut.tokens.input.sum, sut.tokens.output.sum, sut.tokens.cache_read.sum, sut.tokens.cache_creation.sum]).toEqual([100, 7, 3, 0]);
    expect(sut.tokens.cache_creation.count).toBe(1);
    expect(sut.errorsByType.get('rate_limit')).toBe(1);
    expect(sut.timeToFirstToken.count).toBe(0);
  });

  it('derives inter-token latency and output rate from a successful stream', () => {
    const sut = newDistributions();
    addToDistributions(sut, makeRecord({ isStreaming: true, durationMs: 1200, ttftMs: 200, outputTokens: 11 }));
    expect(sut.timeToFirstToken.sum).toBeCloseTo(0.2, 9);
    expect(sut.timePerOutputToken.sum).toBeCloseTo(0.1, 9);
    expect(sut.outputTokensPerSecond.sum).toBeCloseTo(11, 9);
  });

  it('leaves token pace out for failed streams and streams without output', () => {
    const sut = newDistributions();
    addToDistributions(sut, makeRecord({ isStreaming: true, durationMs: 1200, ttftMs: 200, outputTokens: 0 }));
    addToDistributions(sut, makeRecord({ isStreaming: true, durationMs: 1200, ttftMs: 200, outputTokens: 5, errorType: 'streaming_error' }));
    expect(sut.timeToFirstToken.count).toBe(2);
    expect(sut.timePerOutputToken.count).toBe(0);
    expect(sut.outputTokensPerSecond.count).toBe(0);
  });
});
