import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Migrator, type Kysely } from 'kysely';
import type { Subscription } from 'rxjs';
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig, type StoreConfig } from '../config/app-config';
import { Counter, Gauge, Histogram } from 'prom-client';
import { exponentialBounds } from '../metrics/calculations/histogram';
import type { RequestRecord } from '../metrics/model/request-record';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import {
  TrackerService,
  TRACE_CAPACITY,
  ERROR_CAPACITY,
  type RestoredSums,
} from '../metrics/tracker.service';
import type { ErrorType } from '../core/error-type';
import { openStore, type OpenStore } from './database';
import { storeMigrations } from './migrations';
import { recordOf, rowOf, totalsOf, HOUR_S } from './rows';
import { ROLLUP_SUMS, type StoreSchema } from './schema';
import { cleanRecord, StatementCache, writeBatch, writeIsolating, type Isolation, type QueuedRow } from './write-batch';

/** Rows per transaction: a short transaction keeps the database free for history queries in between; a power of two, so a full batch is one statement per table (powerOfTwoRuns). */
const BATCH_ROWS = 256;
/** Rows deleted per retention statement, so a large purge never holds the writer for long. */
const RETENTION_BATCH = 1000;
const RETENTION_EVERY_MS = 10 * 60 * 1000;
const WRITE_BOUNDS = exponentialBounds(0.0005, 2, 16);
/** The longest wait between two attempts on a store that keeps failing (a wrong password, a server down). */
export const RETRY_CEILING_MS = 30_000;

/** The wait before the next attempt after `failures` (1 or more) failed ones in a row: the flush interval, doubled after each further failure, at most RETRY_CEILING_MS. */
export function retryDelay(failures: number, flushMs: number): number {
  return Math.min(RETRY_CEILING_MS, flushMs * 2 ** Math.min(failures - 1, 30));
}

export type StoreStatus = 'disabled' | 'ok' | 'degraded';

/** The SQLite file is held by another process: start-up stops with this message. */
export class StoreInUseError extends Error {
  override readonly name = 'StoreInUseError';
}

/**
 * The usage store: finished records are queued (bounded, oldest dropped first) and written in
 * batches every VDM_STORE_FLUSH_MS, with hourly, daily and session-hour rollups beside the rows; at start-up the tracker is
 * restored from this instance's hourly rollups and rows.
 */
@Injectable()
export class UsageStore implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Store');
  private readonly settings: StoreConfig;
  private store?: OpenStore;
  private ready = false;
  private queue: QueuedRow[] = [];
  private writing = 0;
  private dropped = 0;
  private written = 0;
  private dropping = false;
  private lastError?: string;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private lastRetention = 0;
  /** Failed attempts in a row: each doubles the wait before the next (retryDelay). */
  private failures = 0;
  private closed = false;
  private readonly droppedRows = new Counter({ name: 'vdm_store_dropped_rows_total', help: 'Rows dropped because the usage store queue was full (VDM_STORE_QUEUE_MAX).', registers: [] });
  private readonly cleanedRows = new Counter({
    name: 'vdm_store_cleaned_rows_total',
    help: 'Rows the database refused as sent, stored with control characters removed and long text cut.',
    registers: [],
  });
  private readonly quarantinedRows = new Counter({
    name: 'vdm_store_quarantined_rows_total',
    help: 'Rows the database refused even cleaned: set aside (not stored) and logged, so the rows after them are written.',
    registers: [],
  });
  private readonly writeSeconds = new Histogram({ name: 'vdm_store_write_seconds', help: 'Time to write one batch to the usage store.', buckets: WRITE_BOUNDS, registers: [] });
  private readonly statements = new StatementCache();
  /** Row keys are this process's random prefix and a sequence: unique across instances and restarts. */
  private readonly keyPrefix = randomBytes(12).toString('base64url');
  private keySeq = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly tracker: TrackerService,
    exporter: PrometheusExporter,
  ) {
    this.settings = config.store;
    if (!this.enabled) return;
    const queue: Gauge = new Gauge({
      name: 'vdm_store_queue_rows',
      help: 'Finished requests waiting to be written to the usage store.',
      registers: [],
      collect: () => queue.set(this.waiting),
    });
    exporter.register(queue, this.droppedRows, this.cleanedRows, this.quarantinedRows, this.writeSeconds);
  }

  /** Rows not written yet: the queue, and the batch being written now (it goes back to the queue if that fails). */
  private get waiting(): number {
    return this.queue.length + this.writing;
  }

  /** Rows written since start, and rows not written yet: for the lines logged at shutdown. */
  get rowCounts(): { written: number; waiting: number } {
    return { written: this.written, waiting: this.waiting };
  }

  get enabled(): boolean {
    return this.settings.kind !== 'none' && this.tracker.enabled;
  }

  get db(): Kysely<StoreSchema> | undefined {
    return this.ready ? this.store?.db : undefined;
  }

  /** The connection of history queries (its own, time-limited; see openStore). */
  get reads(): Kysely<StoreSchema> | undefined {
    return this.ready ? this.store?.reads : undefined;
  }

  /** The engine VDM_STORE names (undefined when the store is off). */
  get engine(): 'sqlite' | 'postgres' | undefined {
    return this.settings.kind === 'none' ? undefined : this.settings.kind;
  }

  get instanceId(): string {
    return this.settings.instanceId;
  }

  get status(): { status: StoreStatus; queued_rows: number; dropped_rows: number; error?: string } {
    if (!this.enabled) return { status: 'disabled', queued_rows: 0, dropped_rows: 0 };
    const degraded = !this.ready || this.lastError !== undefined;
    return {
      status: degraded ? 'degraded' : 'ok',
      queued_rows: this.waiting,
      dropped_rows: this.dropped,
      ...(this.lastError === undefined ? {} : { error: this.lastError }),
    };
  }

  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    this.subscription = this.tracker.finished$.subscribe((record) => this.enqueue(record));
    try {
      await this.connect();
      await this.restore();
    } catch (error) {
      // Another process on the same SQLite file: a configuration to fix, not a fault to wait out.
      if ((error as { code?: unknown }).code === 'VDM_STORE_IN_USE') {
        this.subscription.unsubscribe();
        await this.store?.reads.destroy().catch(() => undefined);
        await this.store?.db.destroy().catch(() => undefined);
        throw new StoreInUseError((error as Error).message);
      }
      this.fail('start-up', error);
    }
    this.schedule();
  }

  /** After the graceful drain (it runs before close()): every queued row is written, then the store closes; rowCounts tells what was left behind. */
  async onApplicationShutdown(): Promise<void> {
    if (!this.enabled || this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.subscription?.unsubscribe();
    await this.flushing;
    try {
      if (!this.ready) await this.connect();
      await this.flushAll();
    } catch (error) {
      this.fail('shutdown flush', error);
    }
    await this.store?.reads.destroy().catch(() => undefined);
    await this.store?.db.destroy().catch(() => undefined);
  }

  /** Writes everything queued now (tests and shutdown). */
  async flush(): Promise<void> {
    await this.flushing;
    await this.flushAll();
  }

  /** Queues a finished request's row (every record the tracker finishes comes here). */
  enqueue(record: Readonly<RequestRecord>): void {
    this.queue.push({ row: rowOf(record, this.settings.instanceId, `${this.keyPrefix}:${(++this.keySeq).toString(36)}`), record });
    this.trim();
  }

  private trim(): void {
    const over = this.queue.length - this.settings.queueMax;
    if (over <= 0) return;
    this.queue.splice(0, over);
    this.dropped += over;
    this.droppedRows.inc(over);
    if (!this.dropping) {
      this.dropping = true;
      this.logger.warn(
        `Usage store queue full (VDM_STORE_QUEUE_MAX=${this.settings.queueMax}): dropping the oldest rows`,
      );
    }
  }

  private async connect(): Promise<void> {
    if (this.ready) return;
    this.store ??= await openStore(this.settings, (error) => this.fail('connection', error));
    const { error, results } = await new Migrator({
      db: this.store.db,
      provider: storeMigrations(this.store.engine),
      // A database migrated by a build that had a later migration but not an earlier one still starts.
      allowUnorderedMigrations: true,
    }).migrateToLatest();
    if (error !== undefined)
      throw error instanceof Error ? error : new Error('usage store migration failed', { cause: error });
    for (const r of results ?? [])
      if (r.status === 'Success') this.logger.log(`Usage store migration ${r.migrationName} applied`);
    this.ready = true;
  }

  /** The next flush: every VDM_STORE_FLUSH_MS, or, while the store fails, after twice the previous wait, up to RETRY_CEILING_MS. */
  private schedule(): void {
    if (this.closed) return;
    const delay = this.failures === 0 ? this.settings.flushMs : retryDelay(this.failures, this.settings.flushMs);
    this.timer = setTimeout(() => {
      this.flushing = this.tick().finally(() => {
        this.flushing = undefined;
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.connect();
      await this.flushAll();
      if (Date.now() - this.lastRetention > RETENTION_EVERY_MS) {
        this.lastRetention = Date.now();
        await this.applyRetention();
      }
      this.failures = 0;
      if (this.lastError !== undefined) this.logger.log('Usage store reachable again');
      this.lastError = undefined;
    } catch (error) {
      this.fail('write', error);
    }
  }

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_ROWS);
      const pending = new Set(batch);
      const found: Isolation = { cleaned: [], quarantined: [] };
      this.writing += batch.length;
      try {
        // A batch refused for one row's data is split until that row is found: the others are written, it never blocks the queue.
        await writeIsolating(
          batch,
          (rows) => this.write(rows),
          (q) => {
            const record = cleanRecord(q.record);
            return { row: rowOf(record, q.row.instance, q.row.row_key), record };
          },
          (rows) => rows.forEach((q) => pending.delete(q)),
          found,
        );
      } catch (error) {
        // What is not written yet goes back to the front, in order; a full queue then drops the oldest, counted.
        this.queue.unshift(...batch.filter((q) => pending.has(q)));
        this.trim();
        throw error;
      } finally {
        this.writing -= batch.length;
        this.report(found);
      }
      await yieldToLoop();
    }
  }

  /** One line per refused batch: which requests were stored cleaned, which were set aside and why. */
  private report({ cleaned, quarantined }: Isolation): void {
    if (cleaned.length === 0 && quarantined.length === 0) return;
    this.cleanedRows.inc(cleaned.length);
    this.quarantinedRows.inc(quarantined.length);
    const ids = (rows: QueuedRow[]): string => rows.slice(0, 5).map((q) => JSON.stringify(q.record.requestId.slice(0, 64))).join(', ') + (rows.length > 5 ? ', ...' : '');
    const parts: string[] = [];
    if (cleaned.length > 0) parts.push(`${cleaned.length} stored with control characters removed and long text cut (${ids(cleaned)})`);
    if (quarantined.length > 0)
      parts.push(`${quarantined.length} set aside, not stored (${ids(quarantined.map((q) => q.queued))}): ${quarantined[0].reason.slice(0, 200)}`);
    this.logger.warn(`Usage store: rows refused by the database for their data; ${parts.join('; ')}`);
  }

  private async write(batch: readonly QueuedRow[]): Promise<void> {
    const db = this.store?.db;
    if (!db || !this.ready) throw new Error('usage store not connected');
    const started = performance.now();
    await writeBatch(db, batch, this.statements);
    this.written += batch.length;
    this.writeSeconds.observe((performance.now() - started) / 1000);
    if (this.lastError !== undefined) this.logger.log('Usage store writing again');
    this.lastError = undefined;
    this.dropping = false;
  }

  /** Deletes rows past VDM_STORE_RETENTION_DAYS in small batches; the hourly, daily and session-hour rollups stay. */
  async applyRetention(nowUnix = Date.now() / 1000): Promise<number> {
    const db = this.db;
    if (!db) return 0;
    const cutoff = nowUnix - this.settings.retentionDays * 86_400;
    let deleted = 0;
    for (;;) {
      const ids = db
        .selectFrom('usage_requests')
        .select('id')
        .where('start_time', '<', cutoff)
        .limit(RETENTION_BATCH);
      const result = await db.deleteFrom('usage_requests').where('id', 'in', ids).executeTakeFirst();
      const n = Number(result.numDeletedRows);
      deleted += n;
      if (n < RETENTION_BATCH) return deleted;
      await yieldToLoop();
    }
  }

  /** This instance's own totals, traces and errors into the tracker, before traffic. */
  private async restore(): Promise<void> {
    const db = this.db;
    if (!db) return;
    const instance = this.settings.instanceId;
    const sums = await db
      .selectFrom('usage_hourly')
      .select((eb) => [
        'provider',
        'model',
        'streaming',
        'client',
        'api',
        'error_type',
        eb.fn.max('last_start').as('last_start'),
        eb.fn.min('hour').as('first_hour'),
        ...ROLLUP_SUMS.map((k) => eb.fn.sum(k).as(k)),
      ])
      .where('instance', '=', instance)
      .groupBy(['provider', 'model', 'streaming', 'client', 'api', 'error_type'])
      .orderBy('first_hour')
      .execute();
    const restoredSums: RestoredSums[] = sums.map((s) => ({
      provider: s.provider,
      model: s.model,
      client: s.client,
      api: s.api,
      streaming: Number(s.streaming) === 1,
      errorType: s.error_type,
      lastStart: Number(s.last_start),
      totals: totalsOf(s),
    }));
    const errorRows = await db
      .selectFrom('usage_hourly')
      .select((eb) => ['error_type', eb.fn.sum('requests').as('n')])
      .where('instance', '=', instance)
      .where('error_type', '<>', '')
      .groupBy('error_type')
      .execute();
    const errorCounts: Partial<Record<ErrorType, number>> = {};
    for (const e of errorRows) errorCounts[e.error_type as ErrorType] = Number(e.n);
    const recent = (errorsOnly: boolean, limit: number) => {
      let q = db.selectFrom('usage_requests').selectAll().where('instance', '=', instance);
      if (errorsOnly) q = q.where('error_type', 'is not', null);
      return q.orderBy('id', 'desc').limit(limit).execute();
    };
    const traces = (await recent(false, TRACE_CAPACITY)).reverse().map(recordOf);
    const errors = (await recent(true, ERROR_CAPACITY)).reverse().map(recordOf);
    this.tracker.restore({ sums: restoredSums, errorCounts, traces, errors });
    const restored = restoredSums.reduce((n, s) => n + s.totals.requests, 0);
    if (restored > 0) this.logger.log(`Usage store: restored ${restored} requests of instance ${instance}`);
  }

  private fail(what: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.failures++;
    if (this.lastError === undefined)
      this.logger.error(
        `Usage store ${what} failed: ${message}; rows wait in the queue, and the store is tried again after ${this.settings.flushMs} ms, then twice as long each time, up to ${RETRY_CEILING_MS / 1000} s`,
      );
    this.lastError = message;
  }
}

export { HOUR_S };
