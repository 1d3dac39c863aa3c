import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ConfigError } from '../config/config-error';
import { loadLimitsFile, type LimitsFile } from '../config/limits-file';
import { GatewayErrors, withHeaders, type GatewayError } from '../core/errors';
import type { RequestRecord } from '../metrics/model/request-record';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import { RejectionCounter, type LimitRejection } from '../metrics/rejections';
import type { RequestMetrics } from '../metrics/request-metrics';
import { CLOCK, TrackerService, type Clock } from '../metrics/tracker.service';
import { UsageStore } from '../store/usage-store.service';
import { BudgetAlerts } from './alerts';
import { budgetReport, type BudgetReport } from './budget-report';
import { limitHeaders, refusalMessage, retryAfter, usdText, type Level } from './headers';
import { MemoryLedger, type Claim, type CounterState, type Ledger, type Reservation } from './ledger';
import { PostgresLedger, type SettledCounter } from './postgres-ledger';
import { restoreWindowSpend } from './restore';
import { parseCounter, Rules, type Applying, type RequestFacts } from './rules';
import { upperBoundNano } from './upper-bound';

/** What the request path tells the limits about one request, after routing and before the upstream call. */
export interface AdmitRequest {
  metrics: RequestMetrics;
  provider: string;
  model: string;
  /** The input tokens, estimated from the body (called only when a rule needs them). */
  inputTokens: () => number;
  /** The output cap the client set, or undefined for none. */
  outputCap: number | undefined;
  /** False for an API whose answers have no output (embeddings). */
  hasOutput: boolean;
  /** Sets headers on the answer, whatever it turns out to be. */
  setHeaders: (headers: Record<string, string>) => void;
}

export interface Admission {
  /** The output cap to set in the upstream request: the client set none and a budget applies. */
  setOutputCap?: number;
}

const NOTHING: Admission = {};
/** A changed file is read once it has been quiet this long (editors write in several steps). */
const RELOAD_SETTLE_MS = 100;

/**
 * Budgets and rate limits (contract section 15): every rule a request matches reserves before the
 * upstream call, all or none, and the reservation is settled with the real cost exactly once, when
 * the request is finalized. Counters live in the ledger (in memory here, with the window's spend
 * restored from the usage store at start-up).
 */
@Injectable()
export class LimitsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Limits');
  private rules: Rules;
  private readonly ledger: Ledger;
  private readonly memory?: MemoryLedger;
  private readonly alerts: BudgetAlerts;
  private watcher?: FSWatcher;
  private reloadTimer?: NodeJS.Timeout;
  private readonly onHangup = (): void => void this.reload('SIGHUP');
  private hangupInstalled = false;
  private readonly now = (): number => Math.floor(this.clock.nowUnix() * 1000);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tracker: TrackerService,
    private readonly rejections: RejectionCounter,
    private readonly store: UsageStore,
    exporter: PrometheusExporter,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.rules = new Rules(config.limits);
    // A fleet on PostgreSQL shares its counters in the database (opened at bootstrap); one machine keeps them in memory.
    if (config.store.kind === 'postgres') {
      const leaseMs = config.reservationLeaseMs;
      // Its pool opens on the first call: a database down at start-up fails reservations (503), not the start-up.
      this.ledger = new PostgresLedger(config.store.location, {
        now: () => this.now(),
        sweepMs: Math.min(5000, Math.max(1, Math.floor(leaseMs / 2))),
        purgeAfterMs: leaseMs,
        onError: (error) => this.logger.warn(`Budget ledger: ${error.message}`),
      });
    } else {
      this.memory = new MemoryLedger(() => this.now());
      this.ledger = this.memory;
    }
    this.alerts = new BudgetAlerts(config.limits?.webhook);
    exporter.register(this.alerts.metric, ...this.gauges());
  }

  /** The rules in force (for /metrics/budgets and tests). */
  get file(): LimitsFile | undefined {
    return this.rules.file;
  }

  get enabled(): boolean {
    return !this.rules.empty;
  }

  async onApplicationBootstrap(): Promise<void> {
    const path = this.config.limits?.path;
    if (path === undefined) return;
    await this.restore();
    process.on('SIGHUP', this.onHangup);
    this.hangupInstalled = true;
    try {
      // The directory, not the file: an editor or `mv` replaces the file, and a watch on it would go stale.
      this.watcher = watch(dirname(path), (_event, name) => {
        if (name !== null && name !== basename(path)) return;
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => this.reload('the file changed'), RELOAD_SETTLE_MS);
        this.reloadTimer.unref();
      });
      this.watcher.unref();
      this.watcher.on('error', () => undefined);
    } catch (error) {
      this.logger.warn(`VDM_LIMITS_FILE is not watched for changes (${error instanceof Error ? error.message : String(error)}); reload it with SIGHUP`);
    }
  }

  /** After the drain (every request has settled): the ledger closes last. */
  async onApplicationShutdown(): Promise<void> {
    if (this.hangupInstalled) process.off('SIGHUP', this.onHangup);
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    this.alerts.close();
    await this.ledger.close().catch(() => undefined);
  }

  /** Reads the limits file again: a good file replaces the rules, a bad one leaves them in force with one error line. */
  reload(why: string): boolean {
    const path = this.config.limits?.path;
    if (path === undefined) return false;
    let file: LimitsFile;
    try {
      file = loadLimitsFile(path);
    } catch (error) {
      const line = error instanceof ConfigError ? error.problems[0] : error instanceof Error ? error.message : String(error);
      this.logger.error(`${line}; the rules loaded before stay in force`);
      return false;
    }
    this.rules = new Rules(file);
    this.alerts.setWebhook(file.webhook);
    this.logger.log(`VDM_LIMITS_FILE reloaded (${why}): ${file.budgets.length} budgets, ${file.limits.length} rate limits`);
    return true;
  }

  /**
   * Reserves what the request may cost on every rule it matches, all or none. Throws the 429 (in the
   * catalogue) when one does not fit, or when a USD budget applies to a model with no known price;
   * the request is then not usage. On success the settlement is bound to the request's finalization.
   */
  async admit(req: AdmitRequest): Promise<Admission> {
    const rules = this.rules;
    if (rules.empty) return NOTHING;
    const record = req.metrics.record;
    const facts: RequestFacts = { client: record.client, user: record.user ?? '', provider: req.provider, model: req.model, at: Math.floor(record.startTime * 1000) };
    const budgets = rules.budgetsFor(facts);
    const limits = rules.limitsFor(facts);
    if (budgets.length === 0 && limits.length === 0) return NOTHING;

    const setOutputCap = budgets.length > 0 && req.hasOutput && req.outputCap === undefined ? this.config.defaultMaxOutputTokens : undefined;
    const cap = req.hasOutput ? (req.outputCap ?? setOutputCap ?? this.config.defaultMaxOutputTokens) : 0;
    const needsTokens = budgets.length > 0 || limits.some((l) => l.name.kind === 'tpm');
    const input = needsTokens ? req.inputTokens() : 0;

    let usdAmount = 0;
    if (budgets.length > 0) {
      const price = this.tracker.prices.resolve(req.provider, req.model).price;
      if (price === undefined) throw this.refuseUnpriced(req, budgets[0]);
      usdAmount = upperBoundNano(price, input, cap);
    }
    const applying = [...budgets, ...limits];
    const claims: Claim[] = applying.map((a) => {
      const c = a.claim;
      return { counter: c.counter, kind: c.kind, windowStart: c.windowStart, windowEnd: c.windowEnd, limit: c.limit, amount: amountOf(a, usdAmount, input + cap) };
    });
    const ledger = this.ledger;
    let reservation: Reservation;
    try {
      reservation = await ledger.reserve(record.requestId, claims, this.config.reservationLeaseMs);
    } catch (error) {
      // Fail closed: a request a rule applies to is not sent unreserved.
      throw new GatewayErrors.VDM_LIMITS_UNAVAILABLE(`The budget ledger failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const now = this.now();
    if (!reservation.ok) {
      if (reservation.full === true) throw this.refuseFull(req);
      const i = claims.findIndex((c) => c.counter === reservation.refused.counter);
      const refused: Level = { applying: applying[i], limit: claims[i].limit, spent: reservation.spent, reserved: reservation.reserved };
      throw this.refuse(req, refused, claims[i].amount, now);
    }
    const id = reservation.id;
    req.metrics.whenFinalized((done) => void this.settle(ledger, id, done, req.metrics.tracked, claims, applying));
    if (reservation.levels) {
      const levels = reservation.levels.map((l, i): Level => ({ applying: applying[i], limit: claims[i].limit, spent: l.spent, reserved: l.reserved }));
      req.setHeaders(limitHeaders(levels, now));
    }
    return setOutputCap === undefined ? NOTHING : { setOutputCap };
  }

  /** Replaces the reservation by what the request really used (its cost with estimated usage; unknown: the reservation). */
  private async settle(ledger: Ledger, id: string, record: Readonly<RequestRecord>, tracked: boolean, claims: readonly Claim[], applying: readonly Applying[]): Promise<void> {
    const actual = new Map<string, number>();
    const tokens = record.inputTokens + record.outputTokens + record.cacheReadTokens + record.cacheCreationTokens;
    claims.forEach((claim, i) => {
      switch (applying[i].name.kind) {
        case 'budget':
          actual.set(claim.counter, tracked && typeof record.costNano === 'number' ? record.costNano : claim.amount);
          break;
        case 'rpm':
          actual.set(claim.counter, 1);
          break;
        case 'tpm':
          actual.set(claim.counter, tracked ? tokens : claim.amount);
          break;
        case 'conc':
          actual.set(claim.counter, 0);
          break;
      }
    });
    let settled: SettledCounter[] = [];
    try {
      if (ledger instanceof PostgresLedger) settled = await ledger.settleCounters(id, actual);
      else await ledger.settle(id, actual);
    } catch (error) {
      this.logger.error(`Settling reservation ${id} failed: ${error instanceof Error ? error.message : String(error)}; it is given back when its lease runs out`);
      return;
    }
    if (ledger instanceof PostgresLedger) {
      // Only the settlement that moved spent across a threshold fires it: once per window across the fleet.
      for (const { state, spentBefore } of settled) {
        const i = claims.findIndex((c) => c.counter === state.counter);
        const budget = i >= 0 ? applying[i].budget : undefined;
        if (!budget) continue;
        this.alerts.crossed(state, spentBefore, applying[i].name, budget);
      }
    } else if (this.memory) {
      claims.forEach((claim, i) => {
        const budget = applying[i].budget;
        const state = budget && this.memory!.peek(claim.counter, claim.windowStart);
        if (budget && state) this.alerts.check(state, applying[i].name, budget);
      });
    }
  }

  private refuse(req: AdmitRequest, refused: Level, amount: number, now: number): GatewayError {
    const kind = refused.applying.name.kind;
    const reason: LimitRejection = kind === 'budget' ? 'budget' : kind === 'conc' ? 'concurrency' : 'rate_limit';
    req.metrics.discard();
    this.rejections.count(reason);
    const headers = { 'retry-after': String(retryAfter(refused, now)), ...limitHeaders([refused], now) };
    const message = refusalMessage(refused, amount, now);
    const error =
      kind === 'budget'
        ? new GatewayErrors.VDM_BUDGET_EXCEEDED(message)
        : kind === 'conc'
          ? new GatewayErrors.VDM_CONCURRENCY_LIMITED(message)
          : new GatewayErrors.VDM_RATE_LIMITED(message);
    return withHeaders(error, headers);
  }

  /** The ledger keeps no more counters (a client naming ever new users): refused, as a rate limit, until windows end. */
  private refuseFull(req: AdmitRequest): GatewayError {
    req.metrics.discard();
    this.rejections.count('rate_limit');
    const error = new GatewayErrors.VDM_RATE_LIMITED(
      'The gateway keeps no more budget and rate-limit counters in this window (one per rule, client and user): a new client or user under a rule is refused until older windows end',
    );
    return withHeaders(error, { 'retry-after': '60' });
  }

  private refuseUnpriced(req: AdmitRequest, budget: Applying): GatewayError {
    req.metrics.discard();
    this.rejections.count('budget');
    return new GatewayErrors.VDM_BUDGET_UNPRICED(
      `Budget "${budget.budget!.name}" applies to provider ${req.provider} model ${req.model}, which has no known price, so its cost cannot be reserved: ` +
        `add a price for it to VDM_PRICES_FILE (or set ${req.provider.toUpperCase()}_PRICING)`,
    );
  }

  /** GET /metrics/budgets (contract section 15); `client` set: only what applies to that client. */
  async report(client?: string): Promise<BudgetReport> {
    let states: CounterState[];
    try {
      states = await this.ledger.read();
    } catch (error) {
      throw new GatewayErrors.VDM_LIMITS_UNAVAILABLE(`The budget ledger failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return budgetReport(this.rules, states, this.now(), client);
  }

  /** The window's spend from the usage store (SQLite; a PostgreSQL ledger keeps its own), before traffic. */
  private async restore(): Promise<void> {
    if (!this.memory || this.rules.budgets.length === 0 || this.store.engine !== 'sqlite') return;
    const db = this.store.db;
    if (!db) return;
    try {
      const seeded = await restoreWindowSpend(db, this.rules, this.memory, this.now());
      for (const s of this.memory.readNow()) {
        const name = parseCounter(s.counter);
        const rule = name && this.rules.budgets.find((b) => b.rule.name === name.rule)?.rule;
        if (name && rule) this.alerts.check(s, name, rule, true);
      }
      if (seeded.requests > 0) this.logger.log(`Budgets: restored $${usdText(seeded.nano)} spent by ${seeded.requests} requests in the current windows`);
    } catch (error) {
      this.logger.error(`Budgets: the current windows' spend could not be restored from the usage store: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** vdm_budget_{limit,spent,reserved,remaining}_usd{budget,client}: per-user instances are summed into their client. */
  private gauges(): Gauge[] {
    const families = ['limit', 'spent', 'reserved', 'remaining'] as const;
    const help = {
      limit: 'Budget limit in the current window (US dollars); per-user budgets: the sum over the users seen in it.',
      spent: 'Spent against the budget in the current window (US dollars, settled requests).',
      reserved: 'Reserved against the budget by requests in flight (US dollars).',
      remaining: 'Budget left in the current window: limit - spent - reserved (US dollars), never below 0 per instance.',
    } as const;
    const gauges = families.map(
      (f) => new Gauge<'budget' | 'client'>({ name: `vdm_budget_${f}_usd`, help: help[f], labelNames: ['budget', 'client'], registers: [] }),
    );
    const [limit, spent, reserved, remaining] = gauges;
    const fill = async (): Promise<void> => {
      let report: BudgetReport;
      try {
        report = await this.report();
      } catch {
        // The ledger is unreachable: the scrape keeps the last values rather than failing.
        return;
      }
      const sums = new Map<string, { budget: string; client: string; limit: number; spent: number; reserved: number; remaining: number }>();
      for (const b of report.budgets) {
        const key = JSON.stringify([b.name, b.client]);
        let s = sums.get(key);
        if (!s) {
          s = { budget: b.name, client: b.client ?? '*', limit: 0, spent: 0, reserved: 0, remaining: 0 };
          sums.set(key, s);
        }
        s.limit += b.limit_usd;
        s.spent += b.spent_usd;
        s.reserved += b.reserved_usd;
        s.remaining += b.remaining_usd;
      }
      for (const g of gauges) g.reset();
      for (const s of sums.values()) {
        const labels = { budget: s.budget, client: s.client };
        limit.set(labels, s.limit);
        spent.set(labels, s.spent);
        reserved.set(labels, s.reserved);
        remaining.set(labels, s.remaining);
      }
    };
    // Each family reads the ledger when scraped: four reads per scrape, each of memory or one query.
    for (const g of gauges) (g as unknown as { collect: () => Promise<void> }).collect = fill;
    return gauges;
  }

  /** For tests and the drain check: reservations held now (memory ledger). */
  get holding(): number {
    return this.memory?.holding ?? 0;
  }

  /** The in-memory counter states (tests). */
  states(): CounterState[] {
    return this.memory?.readNow() ?? [];
  }
}

function amountOf(a: Applying, usdAmount: number, tokens: number): number {
  switch (a.name.kind) {
    case 'budget':
      return usdAmount;
    case 'tpm':
      return tokens;
    case 'rpm':
    case 'conc':
      return 1;
  }
}
