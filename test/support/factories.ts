import type { RequestRecord } from '../../src/metrics/model/request-record';
import type { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/app-config';
import type { Clock } from '../../src/metrics/tracker.service';

export function makeRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: 'req-1',
    startTime: 1_795_000_000,
    startMono: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    messageCount: 0,
    requestSize: 0,
    responseSize: 0,
    isStreaming: false,
    toolUseCount: 0,
    toolResultCount: 0,
    toolCallCount: 0,
    outputChars: 0,
    outputChunks: 0,
    ...overrides,
  };
}

export function makeConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ LOG_LEVEL: 'silent', ...env });
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  unix = 1_795_000_000;
  mono = 1_000;
  nowUnix(): number {
    return this.unix;
  }
  nowMono(): number {
    return this.mono;
  }
  advance(ms: number): void {
    this.unix += ms / 1000;
    this.mono += ms;
  }
}
