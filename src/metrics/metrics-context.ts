import { ERROR_TEXT_MAX } from '../core/bounded-text';
import type { UsagePatch } from '../core/usage';
import type { ErrorType } from '../core/error-type';
import { newRecord, type RequestRecord, type RequestStart } from './model/request-record';

/** What the request path can tell the tracker about one request. */
export interface TrackerPort {
  route(record: RequestRecord, provider: string, model: string): void;
  usage(record: RequestRecord, patch: UsagePatch): void;
  /** The record's in-flight progress (output characters) moved. */
  progress(record: RequestRecord): void;
  finalize(record: RequestRecord): void;
}

/**
 * One request's handle on the tracker. Once finalized, nothing it is told changes the record: the
 * totals, the stored row and the traces all show the record as it was counted. Callers never branch on "metrics enabled": when metrics
 * are off they get NOOP_CONTEXT, whose every method does nothing.
 */
export class MetricsContext {
  private done = false;
  private upstreamStart?: number;

  constructor(
    private readonly tracker: TrackerPort,
    readonly record: RequestRecord,
  ) {}

  get requestId(): string {
    return this.record.requestId;
  }

  /** False when metrics are off: usage and routing are then not recorded, so not known. */
  get tracked(): boolean {
    return this.tracker !== NOOP_PORT;
  }

  get finalized(): boolean {
    return this.done;
  }

  /** Provider and resolved model, as soon as routing knows them, so in-flight rows never show an alias. */
  route(provider: string, model: string): void {
    if (!this.done) this.tracker.route(this.record, provider, model);
  }

  usage(patch: UsagePatch): void {
    if (!this.done) this.tracker.usage(this.record, patch);
  }

  /** A streamed content delta: counted as it arrives, shown while the upstream has not reported output tokens yet. */
  output(chars: number): void {
    if (this.done) return;
    this.record.outputChars += chars;
    this.record.outputChunks++;
    this.tracker.progress(this.record);
  }

  upstreamStarted(nowMono = performance.now()): void {
    this.upstreamStart ??= nowMono;
  }

  upstreamFinished(nowMono = performance.now()): void {
    if (!this.done && this.upstreamStart !== undefined && this.record.upstreamMs === undefined) {
      this.record.upstreamMs = nowMono - this.upstreamStart;
    }
  }

  /** First content byte from the upstream (time to first token). */
  firstToken(nowMono = performance.now()): void {
    if (this.record.ttftMs !== undefined || this.done) return;
    this.record.ttftMs = nowMono - this.record.startMono;
  }

  addResponseBytes(n: number): void {
    if (!this.done) this.record.responseSize += n;
  }

  /** Records the first failure (its message cut to 1,000 characters); later ones (say, a disconnect after a timeout) keep the original cause. */
  fail(errorType: ErrorType, error: string): void {
    if (this.done || this.record.errorType !== undefined) return;
    this.record.errorType = errorType;
    this.record.error = error.length > ERROR_TEXT_MAX ? error.slice(0, ERROR_TEXT_MAX) : error;
  }

  /** Ends the request exactly once; later calls are no-ops. */
  finalize(): void {
    if (this.done) return;
    this.done = true;
    this.tracker.finalize(this.record);
  }
}

const NOOP_PORT: TrackerPort = { route: () => undefined, usage: () => undefined, progress: () => undefined, finalize: () => undefined };

/** Metrics off: the record holds what the request said and how it failed, and goes nowhere. */
export function noopContext(start: RequestStart): MetricsContext {
  return new MetricsContext(NOOP_PORT, newRecord(start, 0, 0));
}
