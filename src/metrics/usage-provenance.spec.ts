import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer';
import { makeConfig, ManualClock } from '../../test/support/factories';
import { wireRunningTotals } from './format/wire';
import type { UsageEstimator } from './request-metrics';
import { recordCost } from './pricing/cost';
import { TrackerService } from './tracker.service';

const ANSWER = ['The provider bills', ' every answer it', ' generates, whether or not the client stays.'];
const input = (n: number): UsageEstimator => ({ input: () => n, hasOutput: true });

function begin() {
  const sut = new TrackerService(makeConfig({ OPENAI_API_KEY: 'k' }), new ManualClock());
  const handle = sut.begin({ requestId: 'r', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true });
  return { sut, handle };
}

describe('usage provenance (contract section 14)', () => {
  it('a request that never got an answer has nothing to count: none, zero tokens, not estimated', () => {
    const { sut, handle } = begin();
    handle.estimateWith(input(100));
    handle.fail('upstream_error', 'refused');
    handle.finalize();
    expect(handle.record).toMatchObject({ usageSource: 'none', inputTokens: 0, outputTokens: 0 });
    expect(wireRunningTotals(sut.runningTotals({}, true)).summary.total_estimated_requests).toBe(0);
  });

  it('counts the upstream reported stay reported and are never replaced', () => {
    const { handle } = begin();
    handle.estimateWith(input(100));
    handle.upstreamAnswered();
    handle.output(ANSWER);
    handle.usage({ inputTokens: 7, outputTokens: 0 });
    handle.finalize();
    expect(handle.record).toMatchObject({ usageSource: 'reported', inputTokens: 7, outputTokens: 0 });
  });

  it('an answer without usage is estimated: input by the estimator, output from the text relayed, and priced', () => {
    const { sut, handle } = begin();
    handle.estimateWith(input(120));
    handle.upstreamAnswered();
    handle.output(ANSWER.slice(0, 2));
    handle.output(ANSWER.slice(2));
    handle.fail('client_disconnect', 'left');
    handle.finalize();
    expect(handle.record).toMatchObject({ usageSource: 'estimated', inputTokens: 120, outputTokens: countTokens(ANSWER.join('')) });
    expect(handle.record.costNano).toBe(recordCost(handle.record));
    expect(handle.record.costNano).toBeGreaterThan(0);
    const summary = wireRunningTotals(sut.runningTotals({}, true)).summary;
    expect(summary.total_estimated_requests).toBe(1);
    expect(summary.total_output_tokens).toBe(handle.record.outputTokens);
  });

  it('some counts reported, the rest estimated: partial, the reported ones kept', () => {
    const { handle } = begin();
    handle.estimateWith(input(999));
    handle.upstreamAnswered();
    handle.usage({ inputTokens: 40, cacheReadTokens: 8 });
    handle.output(ANSWER);
    handle.finalize();
    expect(handle.record).toMatchObject({ usageSource: 'partial', inputTokens: 40, cacheReadTokens: 8, outputTokens: countTokens(ANSWER.join('')) });
  });

  it('an API without output (embeddings) is reported by its input alone, estimated without it', () => {
    const reported = begin().handle;
    reported.estimateWith({ input: () => 50, hasOutput: false });
    reported.upstreamAnswered();
    reported.usage({ inputTokens: 9 });
    reported.finalize();
    expect(reported.record).toMatchObject({ usageSource: 'reported', inputTokens: 9, outputTokens: 0 });

    const estimated = begin().handle;
    estimated.estimateWith({ input: () => 50, hasOutput: false });
    estimated.upstreamAnswered();
    estimated.finalize();
    expect(estimated.record).toMatchObject({ usageSource: 'estimated', inputTokens: 50, outputTokens: 0 });
  });

  it('a request cancelled at shutdown after its answer started is estimated too', () => {
    const { sut, handle } = begin();
    handle.estimateWith(input(30));
    handle.upstreamAnswered();
    handle.output(ANSWER);
    expect(sut.cancelActive('shutdown')).toBe(1);
    expect(handle.record).toMatchObject({ errorType: 'cancelled', usageSource: 'estimated', inputTokens: 30 });
    expect(handle.record.outputTokens).toBeGreaterThan(0);
  });

  it('keeps only the first characters of a huge answer, and counts the rest at their rate', () => {
    const { handle } = begin();
    handle.estimateWith(input(1));
    handle.upstreamAnswered();
    const piece = 'word '.repeat(1000);
    for (let i = 0; i < 200; i++) handle.output([piece]);
    handle.finalize();
    expect(handle.record.outputChars).toBe(piece.length * 200);
    // The sample ends mid-word: within a token or so per thousand of the exact count.
    expect(Math.abs(handle.record.outputTokens - countTokens(piece) * 200)).toBeLessThan(200);
  });
});
