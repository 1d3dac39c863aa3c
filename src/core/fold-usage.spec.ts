import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../test/support/factories';
import { foldUsage } from './usage';

describe(foldUsage.name, () => {
  it('keeps what message_start said when message_delta carries zeros or omits fields', () => {
    const sut = makeRecord();
    expect(foldUsage(sut, { inputTokens: 100, cacheReadTokens: 50, cacheCreationTokens: 10, outputTokens: 1 })).toBe(true);
    expect(foldUsage(sut, { inputTokens: 0, outputTokens: 42 })).toBe(true);
    expect(sut).toMatchObject({ inputTokens: 100, cacheReadTokens: 50, cacheCreationTokens: 10, outputTokens: 42 });
  });
  it('reports no change when nothing new arrived', () => {
    const sut = makeRecord({ outputTokens: 5 });
    expect(foldUsage(sut, { outputTokens: 5 })).toBe(false);
    expect(foldUsage(sut, {})).toBe(false);
  });
  it('takes the latest tool call count', () => {
    const sut = makeRecord();
    foldUsage(sut, { toolCallCount: 1 });
    foldUsage(sut, { toolCallCount: 2 });
    expect(sut.toolCallCount).toBe(2);
  });
});
