import type { RequestRecord, RequestStart } from '../../src/metrics/model/request-record';
import type { UsagePatch } from '../../src/core/usage';
import type { ErrorType } from '../../src/core/error-type';
import type { RequestMetrics } from '../../src/metrics/request-metrics';
import type { TrackerService } from '../../src/metrics/tracker.service';
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
    reasoningTokens: 0,
    messageCount: 0,
    requestSize: 0,
    responseSize: 0,
    isStreaming: false,
    toolUseCount: 0,
    toolResultCount: 0,
    toolCallCount: 0,
    outputChars: 0,
    outputChunks: 0,
    cacheWrite1hTokens: 0,
    webSearchRequests: 0,
    client: 'anonymous',
    ...overrides,
  };
}

export function makeConfig(env: Record<string, string> = {}): AppConfig {
  return loadConfig({ LOG_LEVEL: 'silent', VDM_STORE: 'none', ...env });
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

type Outcome = { errorType?: ErrorType; error?: string };

/** A tracker driven by request id through its one API, the record handles, the way the request path holds them. */
export interface TrackerById {
  start(start: RequestStart): RequestRecord;
  update(requestId: string, patch: UsagePatch): void;
  end(requestId: string, outcome?: Outcome): void;
  /** The in-flight record, undefined once finalized. */
  get(requestId: string): RequestRecord | undefined;
}

const drivers = new WeakMap<TrackerService, TrackerById>();

export function ids(tracker: TrackerService): TrackerById {
  let driver = drivers.get(tracker);
  if (driver) return driver;
  const handles = new Map<string, RequestMetrics>();
  driver = {
    start(start) {
      const handle = tracker.begin(start);
      handles.set(start.requestId, handle);
      return handle.record;
    },
    update(requestId, patch) {
      handles.get(requestId)?.usage(patch);
    },
    end(requestId, outcome = {}) {
      const handle = handles.get(requestId);
      if (!handle) return;
      if (outcome.errorType !== undefined) handle.fail(outcome.errorType, outcome.error ?? outcome.errorType);
      handle.finalize();
    },
    get(requestId) {
      const handle = handles.get(requestId);
      return handle && !handle.finalized ? handle.record : undefined;
    },
  };
  drivers.set(tracker, driver);
  return driver;
}
