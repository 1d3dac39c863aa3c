import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../../test/support/factories';
import { addRecord, addRecordToSplit, addSplit, addTotals, newSplit, newTotals } from './accumulation';

describe(addRecord.name, () => {
  it('adds every counter of a finished request, duration in whole ms', () => {
    const sut = newTotals();
    addRecord(sut, makeRecord({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 3, cacheCreationTokens: 2, toolUseCount: 1, toolResultCount: 2, toolCallCount: 3, durationMs: 120.6, errorType: 'rate_limit' }));
    expect(sut).toMatchObject({ requests: 1, errors: 1, inputTokens: 10, outputTokens: 5, cacheReadTokens: 3, cacheCreationTokens: 2, toolUses: 1, toolResults: 2, toolCalls: 3, completed: 1, totalDurationMs: 121 });
  });

  it('counts an in-flight request without a duration', () => {
    const sut = newTotals();
    addRecord(sut, makeRecord({ outputTokens: 7 }));
    expect(sut).toMatchObject({ requests: 1, completed: 0, totalDurationMs: 0, outputTokens: 7 });
  });

  it('accumulates time to first token and gateway overhead when known', () => {
    const sut = newTotals();
    addRecord(sut, makeRecord({ durationMs: 100, upstreamMs: 99.5, ttftMs: 40 }));
    expect(sut).toMatchObject({ ttftCount: 1, totalTtftMs: 40, overheadCount: 1, totalOverheadMs: 0.5 });
  });
});

describe(addRecordToSplit.name, () => {
  it('keeps streaming + non_streaming = total, field by field', () => {
    const sut = newSplit();
    addRecordToSplit(sut, makeRecord({ isStreaming: true, outputTokens: 4, durationMs: 10 }));
    addRecordToSplit(sut, makeRecord({ isStreaming: false, outputTokens: 6, durationMs: 30, errorType: 'timeout' }));
    for (const key of Object.keys(sut.total) as (keyof typeof sut.total)[]) {
      expect(sut.streaming[key] + sut.nonStreaming[key]).toBe(sut.total[key]);
    }
    expect(sut.streaming.requests).toBe(1);
    expect(sut.nonStreaming.errors).toBe(1);
    expect(sut.total.outputTokens).toBe(10);
  });
});

describe(addSplit.name, () => {
  it('adds section by section', () => {
    const a = newSplit();
    const b = newSplit();
    addRecordToSplit(b, makeRecord({ isStreaming: true, inputTokens: 3 }));
    addSplit(a, b);
    addSplit(a, b);
    expect(a.total.inputTokens).toBe(6);
    expect(a.streaming.requests).toBe(2);
    expect(a.nonStreaming.requests).toBe(0);
  });
});

describe(addTotals.name, () => {
  it('adds every field of Totals', () => {
    const source = newTotals();
    let i = 1;
    for (const key of Object.keys(source) as (keyof typeof source)[]) source[key] = i++;
    const sut = newTotals();
    addTotals(sut, source);
    addTotals(sut, source);
    for (const key of Object.keys(source) as (keyof typeof source)[]) expect(sut[key]).toBe(2 * source[key]);
  });
});
