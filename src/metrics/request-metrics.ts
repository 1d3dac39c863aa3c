import { ERROR_TEXT_MAX } from '../core/bounded-text';
import { countSampledTokens, TOKENIZE_CAP_CHARS } from '../core/token-count';
import type { UsagePatch, UsageSource } from '../core/usage';
import type { ErrorType } from '../core/error-type';
import { newRecord, type RequestRecord, type RequestStart } from './model/request-record';
import { NOOP_SPAN, type AnswerFacts, type RequestSpan, type TraceHeaders } from './request-span';

/** What the request path can tell the tracker about one request. */
export interface TrackerPort {
  route(record: RequestRecord, provider: string, model: string): void;
  usage(record: RequestRecord, patch: UsagePatch): void;
  /** The record's in-flight progress (output characters) moved. */
  progress(record: RequestRecord): void;
  finalize(record: RequestRecord): void;
  /** The request was refused before it became usage (a budget or rate limit): forgotten, counted nowhere. */
  discard(record: RequestRecord): void;
}

/** How a request's unreported usage is estimated (contract section 14). */
export interface UsageEstimator {
  /** The input tokens of the request body, estimated; called at most once, at finalization, and only when the upstream reported none. */
  input(): number;
  /** False for an API whose answers have no output tokens (embeddings): there is no output to report or estimate. */
  hasOutput: boolean;
}

/**
 * One request's handle on the tracker. Once finalized, nothing it is told changes the record: the
 * totals, the stored row and the traces all show the record as it was counted. Callers never branch on "metrics enabled": when metrics
 * are off they get NOOP_CONTEXT, whose every method does nothing.
 */
export class RequestMetrics {
  private done = false;
  private upstreamStart?: number;
  private estimator?: UsageEstimator;
  /** The upstream answered (a success status): from then on its usage is owed, and estimated if it never comes. */
  private answered = false;
  private inputReported = false;
  private outputReported = false;
  /** The first TOKENIZE_CAP_CHARS characters of the output relayed, tokenized only if the upstream never reports output. */
  private readonly outputSample: string[] = [];
  private sampledChars = 0;
  /** Called once, right after the record was finalized and counted (budget settlement). */
  private settlers?: ((record: Readonly<RequestRecord>) => void)[];

  constructor(
    private readonly tracker: TrackerPort,
    readonly record: RequestRecord,
    /** The request's trace (NOOP_SPAN when tracing is off): told what the record is told, ended with it. */
    private readonly span: RequestSpan = NOOP_SPAN,
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
    if (this.done) return;
    if (patch.inputTokens !== undefined) this.inputReported = true;
    if (patch.outputTokens !== undefined) this.outputReported = true;
    this.tracker.usage(this.record, patch);
  }

  /** How to estimate this request's usage should the upstream answer without reporting it. */
  estimateWith(estimator: UsageEstimator): void {
    this.estimator = estimator;
  }

  /** The upstream answered with a success status: its usage is owed from now on. */
  upstreamAnswered(): void {
    this.answered = true;
  }

  /**
   * Output the gateway relayed (one streamed delta, or the texts of an answer): text, reasoning,
   * tool arguments. Counted as it arrives, shown while the upstream has not reported output tokens
   * yet; the first characters are kept for an estimate, should the upstream never report them.
   */
  output(pieces: readonly string[]): void {
    if (this.done) return;
    for (const piece of pieces) {
      this.record.outputChars += piece.length;
      const room = TOKENIZE_CAP_CHARS - this.sampledChars;
      if (room <= 0 || piece.length === 0) continue;
      const kept = piece.length <= room ? piece : piece.slice(0, room);
      this.outputSample.push(kept);
      this.sampledChars += kept.length;
    }
    this.record.outputChunks++;
    this.tracker.progress(this.record);
  }

  /** The upstream call starts (to `url`): returns the headers that carry the request's trace upstream. */
  upstreamStarted(url = '', nowMono = performance.now()): TraceHeaders {
    if (!this.done) this.upstreamStart ??= nowMono;
    return this.span.upstreamStarted(url);
  }

  /** The status the upstream answered with (its headers arrived). */
  upstreamStatus(status: number): void {
    if (!this.done) this.span.upstreamStatus(status);
  }

  /** What the answer says about itself (id, model, finish reasons): traced, not counted. */
  answer(facts: AnswerFacts): void {
    if (!this.done) this.span.answer(facts);
  }

  upstreamFinished(nowMono = performance.now()): void {
    if (!this.done && this.upstreamStart !== undefined && this.record.upstreamMs === undefined) {
      this.record.upstreamMs = nowMono - this.upstreamStart;
      this.span.upstreamFinished();
    }
  }

  /** First content byte from the upstream (time to first token). */
  firstToken(nowMono = performance.now()): void {
    if (this.record.ttftMs !== undefined || this.done) return;
    this.record.ttftMs = nowMono - this.record.startMono;
    this.span.firstToken();
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

  /** Ends the request exactly once (`status`: the client's response status, when known); later calls are no-ops. */
  finalize(status?: number): void {
    if (this.done) return;
    this.done = true;
    if (this.tracked) this.settleUsage();
    this.tracker.finalize(this.record);
    this.span.end(this.record, status);
    const settlers = this.settlers;
    this.settlers = undefined;
    if (settlers) for (const settle of settlers) settle(this.record);
  }

  /**
   * Runs `settle` once with the finalized record: right after finalization, or at once when the
   * request is already finalized (it ended while its reservation was being made).
   */
  whenFinalized(settle: (record: Readonly<RequestRecord>) => void): void {
    if (this.done) settle(this.record);
    else (this.settlers ??= []).push(settle);
  }

  /** A refusal that is not usage (a budget or rate limit said no before the upstream call): the request ends uncounted. */
  discard(): void {
    if (this.done) return;
    this.done = true;
    this.settlers = undefined;
    this.tracker.discard(this.record);
    // Its trace still ends (a span left open would leak): the refusal, answered 429.
    this.span.end(this.record, 429);
  }

  /**
   * Where the counts came from, and an estimate of those the upstream owed but never reported: input
   * from the request body, output from what was relayed. A reported count is never replaced.
   */
  private settleUsage(): void {
    const record = this.record;
    const hasOutput = this.estimator?.hasOutput ?? true;
    const outputReported = this.outputReported && hasOutput;
    const anyReported = this.inputReported || outputReported;
    let source: UsageSource;
    if (!this.answered && !anyReported) {
      source = 'none';
    } else if (this.inputReported && (outputReported || !hasOutput)) {
      source = 'reported';
    } else {
      if (!this.inputReported) record.inputTokens = this.estimator?.input() ?? 0;
      if (!outputReported && hasOutput) record.outputTokens = countSampledTokens(this.outputSample, this.sampledChars, record.outputChars);
      source = anyReported ? 'partial' : 'estimated';
    }
    record.usageSource = source;
  }
}

const NOOP_PORT: TrackerPort = { route: () => undefined, usage: () => undefined, progress: () => undefined, finalize: () => undefined, discard: () => undefined };

/** Metrics off: the record holds what the request said and how it failed, and goes nowhere. */
export function noopRequestMetrics(start: RequestStart): RequestMetrics {
  return new RequestMetrics(NOOP_PORT, newRecord(start, 0, 0));
}
