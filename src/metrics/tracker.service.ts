import { Inject, Injectable, Logger } from '@nestjs/common';
import { BehaviorSubject, filter, Subject, firstValueFrom, map, race, timer, type Observable } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { boundedText, ERROR_TEXT_MAX, MODEL_NAME_MAX, NAME_MAX } from '../core/bounded-text';
import { addRecordToClientCell, addRecordToSplit, addTotals, newClientCell, newSplit, newTotals } from './calculations/accumulation';
import { bucketKey, BucketKeys } from './calculations/bucket-key';
import { addBucketDistributions, newBucketDistributions } from './calculations/distributions';
import { buildRunningTotals, noteAccess, noteLatest, UNKNOWN, type LastAccessed, type RunningTotalsTree } from './calculations/hierarchical';
import { ModelCap, type ModelCapView } from './calculations/model-cap';
import { RingBuffer } from './calculations/ring-buffer';
import type { RunningTotalsFilter } from './calculations/wildcard';
import { wireActiveRow, wireSection, wireTrace, type WireActiveRow, type WireTrace } from './format/wire';
import { COUNTED_FIELDS } from './model/counted-fields';
import { RequestMetrics, noopRequestMetrics, type TrackerPort } from './request-metrics';
import { NOOP_SPAN, type RequestTracer } from './request-span';
import { isErrorType, type ErrorType } from '../core/error-type';
import { isClientApi } from '../core/api';
import { foldUsage } from '../core/usage';
import { newRecord, type RequestRecord, type RequestStart } from './model/request-record';
import type { Bucket, Totals } from './model/totals';
import { recordCost } from './pricing/cost';
import { PriceBook } from './pricing/price-book';

/** One stored sum of finished requests: its key (as stored; '' or absent for "not known") and its counts. */
export interface RestoredSums {
  provider?: string;
  model?: string;
  client?: string;
  api?: string;
  streaming: boolean;
  errorType?: string;
  /** The latest request start among them (unix s). */
  lastStart: number;
  totals: Totals;
}

/** Stored history an instance starts from (TrackerService.restore). */
export interface RestoredHistory {
  /** In the order their keys were first seen, so models are admitted under the cap as they first came. */
  sums: RestoredSums[];
  errorCounts: Partial<Record<ErrorType, number>>;
  traces: RequestRecord[];
  errors: RequestRecord[];
}

export const TRACE_CAPACITY = 200;
/** The summary log names this many models at most, the busiest, so the line stays short. */
export const SUMMARY_TOP_MODELS = 20;

function topEntries(counts: Map<string, number>, n: number): Record<string, number> {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const top: Record<string, number> = Object.fromEntries(sorted.slice(0, n));
  const rest = sorted.slice(n).reduce((sum, [, c]) => sum + c, 0);
  if (rest > 0) top[`(${sorted.length - n} others)`] = rest;
  return top;
}
export const ERROR_CAPACITY = 100;

/** The counts the summary log line names after its errors and average duration (COUNTED_FIELDS with `log`). */
const SUMMARY_LOG_FIELDS = COUNTED_FIELDS.filter((f) => f.log);

/** A stored name, bounded as a new one would be; undefined when nothing is left of it. */
function boundedName(name: string | undefined, max: number): string | undefined {
  return name === undefined ? undefined : boundedText(name, max) || undefined;
}

/** A restored record with its client-chosen text bounded as a new record's is. */
function boundedRecord(r: RequestRecord): RequestRecord {
  return {
    ...r,
    requestId: boundedText(r.requestId, 2 * NAME_MAX),
    requestedModel: boundedName(r.requestedModel, MODEL_NAME_MAX),
    resolvedModel: boundedName(r.resolvedModel, MODEL_NAME_MAX),
    provider: boundedName(r.provider, MODEL_NAME_MAX),
    client: boundedName(r.client, NAME_MAX) ?? 'anonymous',
    user: boundedName(r.user, NAME_MAX),
    session: boundedName(r.session, NAME_MAX),
    serviceTier: boundedName(r.serviceTier, NAME_MAX),
    api: r.api === undefined || isClientApi(r.api) ? r.api : undefined,
    errorType: r.errorType === undefined || isErrorType(r.errorType) ? r.errorType : 'unexpected_error',
    error: r.error === undefined || r.error.length <= ERROR_TEXT_MAX ? r.error : r.error.slice(0, ERROR_TEXT_MAX),
  };
}

/** A finished record and its place in the buffer's sequence; a finished record never changes again. */
interface TraceEntry {
  seq: number;
  record: Readonly<RequestRecord>;
}

const renderTrace = (e: TraceEntry): WireTrace => wireTrace(e.record, e.seq);

/** The newest `limit` entries of a buffer, of one client when given (the buffers are bounded, so the scan is too). */
function ofClient(buffer: RingBuffer<TraceEntry>, limit: number, client: string | undefined): TraceEntry[] {
  if (client === undefined) return buffer.newestFirst(limit);
  return buffer.newestFirst().filter((e) => e.record.client === client).slice(0, limit);
}

/** A change to the set of in-flight requests: `membership` (start, end, route) or `progress` (usage, output so far). */
export interface ActiveChange {
  version: number;
  kind: 'membership' | 'progress';
}

export interface Clock {
  nowUnix(): number;
  nowMono(): number;
}

export const SYSTEM_CLOCK: Clock = { nowUnix: () => Date.now() / 1000, nowMono: () => performance.now() };
export const CLOCK = Symbol('CLOCK');

/**
 * Process-local accounting of every request: the in-flight map, completed buckets keyed by
 * `provider:model`, last-accessed times, and the recent trace/error buffers. Start and finalize
 * are O(1); running totals cost O(buckets + in-flight), never O(requests served).
 */
@Injectable()
export class TrackerService {
  private readonly logger = new Logger('Metrics');
  readonly enabled: boolean;
  /** Prices per provider/model (VDM_PRICES_FILE, then the bundled catalog), resolved once each. */
  readonly prices: PriceBook;
  /** In-flight requests by id, through the same handle the request path holds. */
  private readonly active = new Map<string, RequestMetrics>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly modelCap: ModelCap;
  private readonly errorCounts = new Map<ErrorType, number>();
  private readonly lastAccessed: LastAccessed = { providers: new Map(), models: new Map(), clients: new Map() };
  /** Finished records, rendered for the wire only when read: most are never read before they are overwritten. */
  private readonly traces = new RingBuffer<TraceEntry>(TRACE_CAPACITY);
  private readonly errors = new RingBuffer<TraceEntry>(ERROR_CAPACITY);
  private readonly keys = new BucketKeys();
  private traceSeq = 0;
  private errorSeq = 0;
  private finishedCount = 0;
  private version = 0;
  private duplicateSeq = 0;
  private readonly changes = new BehaviorSubject<ActiveChange>({ version: 0, kind: 'membership' });
  private readonly finished = new Subject<Readonly<RequestRecord>>();
  /** Set by the telemetry feature when it is on; otherwise requests carry NOOP_SPAN. */
  private tracer?: RequestTracer;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.enabled = config.metricsEnabled;
    this.modelCap = new ModelCap(config.maxModelsPerProvider);
    this.prices = new PriceBook(config.providers, config.prices);
  }

  /** Active-request changes; a new subscriber gets the latest at once, so none can miss it. */
  get changes$(): Observable<ActiveChange> {
    return this.changes.asObservable();
  }

  /** Every finalized record, once, after it was counted (the usage store listens here). */
  get finished$(): Observable<Readonly<RequestRecord>> {
    return this.finished.asObservable();
  }

  /**
   * Seeds the completed state from stored history before traffic starts: the one place besides
   * begin() that writes tracker state. Traces and errors come oldest first.
   */
  restore(history: RestoredHistory): void {
    // Each stored model is admitted under the cap once, as a new one would be on its first request.
    const admitted = new Map<string, string | undefined>();
    for (const s of history.sums) {
      // A store written before names were bounded may hold any name: restored, it is bounded like a new one.
      const provider = boundedName(s.provider || undefined, MODEL_NAME_MAX);
      const named = boundedName(s.model || undefined, MODEL_NAME_MAX);
      const id = `${provider ?? ''}\u0000${named ?? ''}`;
      if (!admitted.has(id)) admitted.set(id, named === undefined ? undefined : this.modelCap.admit(provider ?? UNKNOWN, named));
      const model = admitted.get(id);
      const key = this.keys.of(provider, model);
      let bucket = this.buckets.get(key);
      if (!bucket) {
        bucket = { key, provider, model, split: newSplit(), distributions: newBucketDistributions(), clients: new Map() };
        this.buckets.set(key, bucket);
      }
      const client = boundedName(s.client || 'anonymous', NAME_MAX) ?? 'anonymous';
      let cell = bucket.clients.get(client);
      if (!cell) {
        cell = newClientCell();
        bucket.clients.set(client, cell);
      }
      cell.lastStart = Math.max(cell.lastStart ?? s.lastStart, s.lastStart);
      for (const split of [bucket.split, cell.split]) {
        addTotals(split.total, s.totals);
        addTotals(s.streaming ? split.streaming : split.nonStreaming, s.totals);
      }
      // Both become Prometheus labels: a stored value the gateway never writes is not restored as one.
      const api = s.api !== undefined && isClientApi(s.api) ? s.api : 'unknown';
      const byApi = s.streaming ? cell.streamingOutcomes : cell.nonStreamingOutcomes;
      let outcomes = byApi.get(api);
      if (!outcomes) {
        outcomes = new Map([['success', 0]]);
        byApi.set(api, outcomes);
      }
      const stored = s.errorType || 'success';
      const outcome = stored === 'success' || isErrorType(stored) ? stored : 'unexpected_error';
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + s.totals.requests);
      noteAccess(this.lastAccessed, s.lastStart, provider, model === undefined ? undefined : key);
      noteLatest(this.lastAccessed.clients, client, s.lastStart);
    }
    for (const [stored, count] of Object.entries(history.errorCounts)) {
      const type = isErrorType(stored) ? stored : 'unexpected_error';
      this.errorCounts.set(type, (this.errorCounts.get(type) ?? 0) + (count ?? 0));
    }
    for (const record of history.traces) this.traces.push({ seq: ++this.traceSeq, record: boundedRecord(record) });
    for (const record of history.errors) this.errors.push({ seq: ++this.errorSeq, record: boundedRecord(record) });
    this.emit('membership');
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Grows on every change of the tracked state; a scrape can reuse what it built for the same version. */
  get changeVersion(): number {
    return this.version;
  }

  /** Completed buckets in creation order (which never changes: buckets are never removed). */
  completedBuckets(): Iterable<Bucket> {
    return this.buckets.values();
  }

  *activeRecords(): Iterable<RequestRecord> {
    for (const handle of this.active.values()) yield handle.record;
  }

  /** Every client name counted so far, restored ones included. */
  clientNames(): Iterable<string> {
    return this.lastAccessed.clients.keys();
  }

  /** Which models have buckets of their own (VDM_MAX_MODELS_PER_PROVIDER), and how many requests folded into `other`. */
  get models(): ModelCapView {
    return this.modelCap;
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passes first. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.active.size === 0) return true;
    const idle$ = this.changes.pipe(filter(() => this.active.size === 0), map(() => true));
    return firstValueFrom(race(idle$, timer(timeoutMs).pipe(map(() => this.active.size === 0))));
  }

  /**
   * Finalizes every in-flight request as `cancelled` (shutdown after the grace period) through its
   * own handle, so nothing the request path reports later can change it; returns how many.
   */
  cancelActive(reason: string): number {
    const handles = [...this.active.values()];
    for (const handle of handles) {
      handle.fail('cancelled', reason);
      handle.finalize();
    }
    return handles.length;
  }

  /** Every request started from now on is traced through `tracer` (OpenTelemetry, when it is on). */
  traceWith(tracer: RequestTracer): void {
    this.tracer = tracer;
  }

  /**
   * Starts tracking and returns the request's handle (a no-op one when metrics are off): the one way in.
   * `incoming`: the client's request headers, whose `traceparent` the request's trace continues.
   */
  begin(start: RequestStart, incoming?: Readonly<Record<string, string | string[] | undefined>>): RequestMetrics {
    if (!this.enabled) return noopRequestMetrics(start);
    // Clients may reuse an x-request-id while the first request is in flight: both must count.
    const requestId = this.active.has(start.requestId) ? `${start.requestId}~${++this.duplicateSeq}` : start.requestId;
    const record = newRecord(start, this.clock.nowUnix(), this.clock.nowMono(), requestId);
    if (record.provider !== undefined && record.resolvedModel !== undefined) record.pricing = this.prices.resolve(record.provider, record.resolvedModel);
    const handle = new RequestMetrics(this.port, record, this.tracer === undefined ? NOOP_SPAN : this.tracer.begin(record, start.maxTokens, incoming));
    this.active.set(requestId, handle);
    this.touch(record);
    // The client is known from the start and never changes, so only begin records its last access.
    noteLatest(this.lastAccessed.clients, record.client, record.startTime);
    this.emit('membership');
    return handle;
  }

  /** What a handle tells the tracker; reachable only through a handle. */
  private readonly port: TrackerPort = {
    route: (record, provider, model) => {
      record.provider = provider;
      record.resolvedModel = model;
      record.pricing = this.prices.resolve(provider, model);
      this.touch(record);
      if (this.active.has(record.requestId)) this.emit('membership');
    },
    usage: (record, patch) => {
      if (foldUsage(record, patch) && this.active.has(record.requestId)) this.emit('progress');
    },
    progress: (record) => {
      if (this.active.has(record.requestId)) this.emit('progress');
    },
    finalize: (record) => this.finalize(record),
    discard: (record) => {
      if (this.active.get(record.requestId)?.record !== record) return;
      this.active.delete(record.requestId);
      this.emit('membership');
    },
  };

  private finalize(record: RequestRecord): void {
    if (this.active.get(record.requestId)?.record !== record) return;
    this.active.delete(record.requestId);
    const nowMono = this.clock.nowMono();
    record.durationMs = nowMono - record.startMono;
    record.endTime = record.startTime + record.durationMs / 1000;
    record.costNano = recordCost(record);

    const model = record.resolvedModel === undefined ? undefined : this.modelCap.admit(record.provider ?? UNKNOWN, record.resolvedModel);
    const key = this.keys.of(record.provider, model);
    if (model !== record.resolvedModel) this.touchFolded(record, key);
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { key, provider: record.provider, model, split: newSplit(), distributions: newBucketDistributions(), clients: new Map() };
      this.buckets.set(key, bucket);
    }
    addRecordToSplit(bucket.split, record);
    addRecordToClientCell(bucket.clients, record);
    addBucketDistributions(bucket.distributions, record);

    this.traces.push({ seq: ++this.traceSeq, record });
    if (record.errorType !== undefined) {
      this.errorCounts.set(record.errorType, (this.errorCounts.get(record.errorType) ?? 0) + 1);
      this.errors.push({ seq: ++this.errorSeq, record });
    }
    this.emit('membership');
    this.finished.next(record);

    this.finishedCount++;
    if (this.finishedCount % this.config.summaryInterval === 0) this.logSummary();
  }

  /** In-flight rows, newest first (contract section 4); given a client, that client's only. */
  activeSnapshot(client?: string): WireActiveRow[] {
    const nowMono = this.clock.nowMono();
    const rows: WireActiveRow[] = [];
    for (const r of this.activeRecords()) if (client === undefined || r.client === client) rows.push(wireActiveRow(r, nowMono));
    return rows.reverse();
  }

  runningTotals(filter: RunningTotalsFilter, includeActive: boolean): RunningTotalsTree {
    return buildRunningTotals({
      buckets: this.buckets.values(),
      active: this.activeRecords(),
      activeCount: this.active.size,
      includeActive,
      filter,
      lastAccessed: this.lastAccessed,
      models: this.modelCap,
    });
  }

  /** The newest traces, at most `limit`; given a client, that client's only. */
  recentTraces(limit: number, client?: string): WireTrace[] {
    return ofClient(this.traces, limit, client).map(renderTrace);
  }

  recentErrors(limit: number, client?: string): WireTrace[] {
    return ofClient(this.errors, limit, client).map(renderTrace);
  }

  errorDistribution(): Record<string, number> {
    return Object.fromEntries(this.errorCounts);
  }

  private touch(record: RequestRecord): void {
    const provider = record.provider || undefined;
    // Kept under the model the request will count as, so invented names add no entries.
    const modelKey = provider && record.resolvedModel ? this.keys.of(provider, this.modelCap.peek(provider, record.resolvedModel)) : undefined;
    noteAccess(this.lastAccessed, record.startTime, provider, modelKey);
  }

  /** A folded request's start counts for `other`; its own model, never admitted, keeps no entry. */
  private touchFolded(record: RequestRecord, otherKey: string): void {
    if (!record.provider || !record.resolvedModel) return;
    const la = this.lastAccessed;
    la.models.delete(bucketKey(record.provider, record.resolvedModel));
    noteLatest(la.models, otherKey, record.startTime);
  }

  private emit(kind: ActiveChange['kind']): void {
    this.changes.next({ version: ++this.version, kind });
  }

  /** Totals and model counts come from the buckets here, every interval, rather than per request. */
  private logSummary(): void {
    const t = newTotals();
    const modelCounts = new Map<string, number>();
    for (const bucket of this.buckets.values()) {
      addTotals(t, bucket.split.total);
      const model = bucket.model ?? UNKNOWN;
      modelCounts.set(model, (modelCounts.get(model) ?? 0) + bucket.split.total.requests);
    }
    const section = wireSection(t);
    const counts = SUMMARY_LOG_FIELDS.map((f) => `${f.wire}=${section[f.wire]}`);
    this.logger.log(`Summary after ${t.requests} requests: errors=${t.errors} avg_duration_ms=${section.average_duration_ms} ${counts.join(' ')}`);
    this.logger.log(`Model distribution: ${JSON.stringify(topEntries(modelCounts, SUMMARY_TOP_MODELS))}`);
    if (t.errors > 0) this.logger.warn(`Error distribution: ${JSON.stringify(this.errorDistribution())}`);
  }
}
