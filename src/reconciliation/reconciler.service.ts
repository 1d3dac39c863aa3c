import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig, type ReconciliationConfig } from '../config/app-config';
import type { BillingSettings } from '../config/provider';
import { Redactor } from '../core/redact';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import { UsageStore } from '../store/usage-store.service';
import { AdminApiError } from './admin-api';
import { reconcile, REPORTING_LAG_S, TOKEN_FIELDS, TOKEN_TYPES, type GatewayDay, type ProviderDay, type Pull, type ReconciliationRow, type UnattributedCost } from './compare';
import { DAY_S, pullReports, type DayRange, type ReportRow } from './reports';

/** The first wait after a failed pull; each further failure doubles it, up to the interval. */
export const FIRST_RETRY_MS = 30_000;
/** Rows per insert statement when a pull is stored. */
const INSERT_ROWS = 100;

/** The wait before the next pull: the interval after a success; after `failures` failed ones, a backoff from FIRST_RETRY_MS doubling up to the interval, never sooner than the provider's `retry-after`. */
export function nextPullDelay(failures: number, intervalMs: number, retryAfterMs?: number): number {
  if (failures === 0) return intervalMs;
  const backoff = Math.min(intervalMs, FIRST_RETRY_MS * 2 ** Math.min(failures - 1, 20));
  return Math.max(backoff, retryAfterMs ?? 0);
}

export type ReconciliationHealth = 'disabled' | 'pending' | 'ok' | 'degraded';

export interface ProviderPullState {
  provider: string;
  status: 'pending' | 'ok' | 'degraded';
  /** The last error, masked; set while degraded. */
  error?: string;
  last_success?: string;
  next_pull?: string;
}

interface Reconciled {
  name: string;
  billing: BillingSettings;
  state: ProviderPullState;
  failures: number;
  /** What the admin API's last `retry-after` asked for. */
  retryAfterMs?: number;
  /** A failed provider's next attempt (Date.now() ms). */
  nextAttemptAt?: number;
}

export interface ReconciliationDoc {
  from: string;
  to: string;
  tolerance: number;
  reporting_lag_hours: number;
  providers: ProviderPullState[];
  rows: ReconciliationRow[];
  unattributed_costs: UnattributedCost[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Pulls the providers' usage and cost reports (providers with `{NAME}_ADMIN_KEY`) every VDM_RECONCILE_INTERVAL
 * into the usage store, and compares them with the gateway's own accounting. A failing admin API degrades this
 * alone: pulls run off the request path, one provider at a time, and write a few rows in one short transaction.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciliation');
  private readonly settings: ReconciliationConfig;
  private readonly providers: Reconciled[];
  private readonly timeoutMs: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly warned = new Set<string>();
  private readonly deltaUsd = new Gauge({ name: 'vdm_reconciliation_delta_usd', help: "The provider's billed cost minus the gateway's, in USD, over the reconciled days (VDM_RECONCILE_DAYS).", labelNames: ['provider'], registers: [] });
  private readonly deltaTokens = new Gauge({
    name: 'vdm_reconciliation_delta_tokens_ratio',
    help: "(provider - gateway) / gateway tokens per token type over the reconciled days; 1 when only the provider counted any.",
    labelNames: ['provider', 'token_type'],
    registers: [],
  });

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: UsageStore,
    private readonly redactor: Redactor,
    exporter: PrometheusExporter,
  ) {
    this.settings = config.reconciliation;
    this.timeoutMs = config.requestTimeoutMs;
    this.providers = [...config.providers.providers.values()]
      .filter((p) => p.billing !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((p) => ({ name: p.name, billing: p.billing!, state: { provider: p.name, status: 'pending' }, failures: 0 }));
    if (this.enabled) exporter.register(this.deltaUsd, this.deltaTokens);
  }

  get enabled(): boolean {
    return this.providers.length > 0 && this.store.enabled;
  }

  /** VDM_RECONCILE_DAYS: the days each pull covers, today included. */
  get days(): number {
    return this.settings.days;
  }

  /** For /health: `degraded` when any provider's last pull failed, `pending` before the first pull ended. */
  get health(): { status: ReconciliationHealth; providers?: ProviderPullState[] } {
    if (!this.enabled) return { status: 'disabled' };
    const states = this.providers.map((p) => ({ ...p.state }));
    const status = states.some((s) => s.status === 'degraded') ? 'degraded' : states.some((s) => s.status === 'pending') ? 'pending' : 'ok';
    return { status, providers: states };
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.logger.log(
      `Reconciling ${this.providers.map((p) => `${p.name} (${p.billing.format} admin API at ${new URL(p.billing.baseUrl).origin})`).join(', ')} every ${this.settings.intervalMs / 1000} s over the last ${this.settings.days} days, tolerance ${this.settings.tolerance}`,
    );
    void this.pull(false);
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running?.catch(() => undefined);
  }

  /** Pulls every reconciled provider's reports now, backoff or not, after a pull under way; then schedules the next. */
  async pullNow(): Promise<void> {
    await this.settled();
    await this.pull(true);
  }

  /** A pull of the providers due (all of them when `all`), joined when one is under way. */
  private pull(all: boolean): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    this.running ??= this.pullAll(all).finally(() => {
      this.running = undefined;
      this.schedule();
    });
    return this.running;
  }

  /** Resolves when no pull is under way. */
  async settled(): Promise<void> {
    await this.running;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopping.signal.aborted) return;
    const now = Date.now();
    let delay = this.settings.intervalMs;
    for (const p of this.providers) {
      const d = p.failures > 0 && p.nextAttemptAt !== undefined ? Math.max(0, p.nextAttemptAt - now) : this.settings.intervalMs;
      p.state.next_pull = iso(now + d);
      delay = Math.min(delay, d);
    }
    this.timer = setTimeout(() => void this.pull(false), delay);
    this.timer.unref();
  }

  private async pullAll(all: boolean): Promise<void> {
    const now = Date.now();
    const to = Math.floor(now / 1000 / DAY_S) * DAY_S + DAY_S;
    const range: DayRange = { from: to - this.settings.days * DAY_S, to };
    for (const p of this.providers) {
      if (this.stopping.signal.aborted) return;
      // A provider waiting out its backoff or retry-after is left for its own time.
      if (!all && p.failures > 0 && p.nextAttemptAt !== undefined && now < p.nextAttemptAt) continue;
      try {
        const rows = await pullReports(p.billing, range, { timeoutMs: this.timeoutMs, signal: this.stopping.signal });
        await this.save(p.name, range, rows, Date.now() / 1000);
        if (p.state.status === 'degraded') this.logger.log(`Reconciliation with ${p.name}'s billing works again`);
        p.failures = 0;
        p.retryAfterMs = undefined;
        p.state = { provider: p.name, status: 'ok', last_success: iso(Date.now()) };
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        p.failures++;
        p.retryAfterMs = error instanceof AdminApiError ? error.retryAfterMs : undefined;
        const delay = nextPullDelay(p.failures, this.settings.intervalMs, p.retryAfterMs);
        p.nextAttemptAt = Date.now() + delay;
        const message = this.redactor.redact(error instanceof Error ? error.message : String(error)).slice(0, 500);
        if (p.state.status !== 'degraded' || p.state.error !== message) {
          this.logger.warn(`Reconciliation with ${p.name}'s billing failed: ${message}; requests are not affected; trying again in ${Math.round(delay / 1000)} s`);
        }
        p.state = { provider: p.name, status: 'degraded', error: message, ...(p.state.last_success ? { last_success: p.state.last_success } : {}) };
      }
    }
    await this.refresh(range).catch((error: unknown) => this.logger.warn(`Reconciliation: comparing with the store failed: ${this.redactor.redact((error as Error).message)}`));
  }

  /** One provider's reports for the range replace what was stored for it, in one transaction. */
  private async save(provider: string, range: DayRange, rows: readonly ReportRow[], fetchedAt: number): Promise<void> {
    const db = this.store.db;
    if (!db) throw new Error('the usage store is not reachable; the report is pulled again later');
    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('reconciliation_days').where('provider', '=', provider).where('day', '>=', range.from).where('day', '<', range.to).execute();
      // Replicas sharing a PostgreSQL store pull the same reports: a row another one wrote meanwhile is overwritten, not a conflict.
      for (let i = 0; i < rows.length; i += INSERT_ROWS) {
        await trx
          .insertInto('reconciliation_days')
          .values(rows.slice(i, i + INSERT_ROWS).map((r) => ({ provider, ...r, fetched_at: fetchedAt })))
          .onConflict((oc) =>
            oc.columns(['provider', 'day', 'model']).doUpdateSet((eb) => ({
              requests: eb.ref('excluded.requests'),
              input_tokens: eb.ref('excluded.input_tokens'),
              cache_read_tokens: eb.ref('excluded.cache_read_tokens'),
              cache_write_tokens: eb.ref('excluded.cache_write_tokens'),
              cache_write_1h_tokens: eb.ref('excluded.cache_write_1h_tokens'),
              output_tokens: eb.ref('excluded.output_tokens'),
              cost_nano: eb.ref('excluded.cost_nano'),
              fetched_at: eb.ref('excluded.fetched_at'),
            })),
          )
          .execute();
      }
      await trx
        .insertInto('reconciliation_pulls')
        .values({ provider, from_day: range.from, to_day: range.to, fetched_at: fetchedAt })
        .onConflict((oc) => oc.column('provider').doUpdateSet((eb) => ({ from_day: eb.ref('excluded.from_day'), to_day: eb.ref('excluded.to_day'), fetched_at: eb.ref('excluded.fetched_at') })))
        .execute();
    });
  }

  /** The comparison over a range of days (UTC midnights): the providers' stored reports against the gateway's daily rollups. */
  async compare(range: DayRange): Promise<ReconciliationDoc> {
    const db = this.store.reads;
    if (!db) throw new Error('the usage store is not reachable');
    const names = this.providers.map((p) => p.name);
    const reported = (await db.selectFrom('reconciliation_days').selectAll().where('provider', 'in', names).where('day', '>=', range.from).where('day', '<', range.to).execute()).map(
      (r): ProviderDay => ({
        provider: r.provider,
        day: Number(r.day),
        model: r.model,
        requests: r.requests === null ? null : Number(r.requests),
        input_tokens: Number(r.input_tokens),
        cache_read_tokens: Number(r.cache_read_tokens),
        cache_write_tokens: Number(r.cache_write_tokens),
        output_tokens: Number(r.output_tokens),
        cost_nano: r.cost_nano === null ? null : Number(r.cost_nano),
        fetched_at: Number(r.fetched_at),
      }),
    );
    const gateway = (
      await db
        .selectFrom('usage_daily')
        .select((eb) => [
          'provider',
          'day',
          'model',
          eb.fn.sum('requests').as('requests'),
          eb.fn.sum('errors').as('errors'),
          eb.fn.sum('input_tokens').as('input_tokens'),
          eb.fn.sum('cache_read_tokens').as('cache_read_tokens'),
          eb.fn.sum('cache_creation_tokens').as('cache_write_tokens'),
          eb.fn.sum('output_tokens').as('output_tokens'),
          eb.fn.sum('cost_nano').as('cost_nano'),
          eb.fn.sum('unpriced_requests').as('unpriced_requests'),
          eb.fn.sum('estimated_requests').as('estimated_requests'),
        ])
        .where('provider', 'in', names)
        .where('day', '>=', range.from)
        .where('day', '<', range.to)
        .groupBy(['provider', 'day', 'model'])
        .execute()
    ).map(
      (r): GatewayDay => ({
        provider: r.provider,
        day: Number(r.day),
        model: r.model,
        // The requests the provider answered: a failed request is not one it bills.
        requests: Number(r.requests) - Number(r.errors),
        input_tokens: Number(r.input_tokens),
        cache_read_tokens: Number(r.cache_read_tokens),
        cache_write_tokens: Number(r.cache_write_tokens),
        output_tokens: Number(r.output_tokens),
        cost_nano: Number(r.unpriced_requests) === Number(r.requests) ? null : Number(r.cost_nano),
        unpriced_requests: Number(r.unpriced_requests),
        estimated_requests: Number(r.estimated_requests),
      }),
    );
    const pulls = new Map<string, Pull>(
      (await db.selectFrom('reconciliation_pulls').selectAll().where('provider', 'in', names).execute()).map((p) => [
        p.provider,
        { provider: p.provider, from_day: Number(p.from_day), to_day: Number(p.to_day), fetched_at: Number(p.fetched_at) },
      ]),
    );
    const { rows, unattributed } = reconcile(reported, gateway, pulls, this.settings.tolerance);
    return {
      from: iso(range.from * 1000),
      to: iso(range.to * 1000),
      tolerance: this.settings.tolerance,
      reporting_lag_hours: REPORTING_LAG_S / 3600,
      providers: this.providers.map((p) => ({ ...p.state })),
      rows,
      unattributed_costs: unattributed,
    };
  }

  /** After a pull: the Prometheus gauges over the pulled days, and one warning per settled provider day outside tolerance. */
  private async refresh(range: DayRange): Promise<void> {
    if (!this.store.reads) return;
    const doc = await this.compare(range);
    for (const p of this.providers) {
      const rows = doc.rows.filter((r) => r.provider === p.name);
      const priced = rows.filter((r) => r.provider_report.cost_usd !== null && r.gateway.cost_usd !== null);
      this.deltaUsd.set({ provider: p.name }, priced.reduce((n, r) => n + r.provider_report.cost_usd! - r.gateway.cost_usd!, 0));
      for (const field of TOKEN_FIELDS) {
        const provider = rows.reduce((n, r) => n + r.provider_report[field], 0);
        const gateway = rows.reduce((n, r) => n + r.gateway[field], 0);
        this.deltaTokens.set({ provider: p.name, token_type: TOKEN_TYPES[field] }, gateway === 0 ? (provider === 0 ? 0 : 1) : (provider - gateway) / gateway);
      }
    }
    const nowS = Date.now() / 1000;
    const byDay = new Map<string, ReconciliationRow[]>();
    for (const r of doc.rows) {
      const settled = Date.parse(`${r.day}T00:00:00Z`) / 1000 + DAY_S + REPORTING_LAG_S <= nowS;
      if (!settled || r.status === 'match' || r.status === 'provider_lag') continue;
      const key = `${r.provider} ${r.day}`;
      byDay.set(key, [...(byDay.get(key) ?? []), r]);
    }
    for (const [key, rows] of byDay) {
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      const what = rows
        .slice(0, 5)
        .map((r) => `${r.model} ${r.status}${r.status === 'price_drift' ? ` (effective rate ${r.effective_rate ?? 'unknown'})` : ` (input ${signed(r.delta.input_tokens.ratio)}, output ${signed(r.delta.output_tokens.ratio)})`}`)
        .join(', ');
      this.logger.warn(`Reconciliation: ${key} differs from the provider's billing beyond the tolerance of ${this.settings.tolerance}: ${what}${rows.length > 5 ? `, and ${rows.length - 5} more models` : ''}; see GET /metrics/reconciliation`);
    }
  }
}

function signed(ratio: number | null): string {
  if (ratio === null) return 'new';
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
}

