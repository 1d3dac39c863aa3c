import { Logger } from '@nestjs/common';
import { Counter } from 'prom-client';
import { request } from 'undici';
import type { BudgetRule } from '../config/limits-file';
import type { CounterState } from './ledger';
import type { CounterName } from './rules';

/** What a webhook receives when a budget crosses a threshold (contract section 15). */
export interface BudgetAlert {
  budget: string;
  client: string | null;
  user: string | null;
  threshold: number;
  spent_usd: number;
  limit_usd: number;
  window_start: string;
  window_end: string;
}

/** Attempts per alert, and the first wait between them (doubled each time). */
const ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 1000;
const WEBHOOK_TIMEOUT_MS = 10_000;
/** Alerts waiting to be posted; past this the oldest are dropped (a dead webhook must not grow memory). */
const MAX_PENDING = 1000;

/**
 * Budget alerts: each `alert_at` threshold fires once per window per budget instance, as one
 * warning line, `vdm_budget_alerts_total{budget,threshold}` and a webhook POST retried with backoff.
 * Posting never blocks or fails a request: it runs on its own, after the settlement that crossed it.
 */
export class BudgetAlerts {
  private readonly logger = new Logger('Budgets');
  /** `counter|windowStart|threshold` already fired. */
  private readonly fired = new Set<string>();
  private pending = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly metric = new Counter<'budget' | 'threshold'>({
    name: 'vdm_budget_alerts_total',
    help: 'Budget alert thresholds crossed (each fires once per window per budget instance), by budget and threshold.',
    labelNames: ['budget', 'threshold'],
    registers: [],
  });

  constructor(private webhook: string | undefined) {}

  setWebhook(webhook: string | undefined): void {
    this.webhook = webhook;
  }

  /**
   * Fires the thresholds a budget counter has crossed and not fired yet in its window. `silent`
   * marks them fired without alerting (spend restored at start-up was alerted on before).
   */
  check(state: CounterState, name: CounterName, rule: BudgetRule, silent = false): void {
    if (rule.alertAt.length === 0 || state.limit <= 0) return;
    for (const threshold of rule.alertAt) {
      if (state.spent < threshold * state.limit) break;
      const key = `${state.counter}|${state.windowStart}|${threshold}`;
      if (this.fired.has(key)) continue;
      this.fired.add(key);
      if (!silent) this.fire(state, name, rule, threshold);
    }
  }

  /**
   * Fires the thresholds one settlement moved `spent` across (from `spentBefore` to `state.spent`), whatever this
   * process fired before: with a shared ledger each crossing belongs to exactly one settlement, and the answers of
   * concurrent settlements may arrive out of their order.
   */
  crossed(state: CounterState, spentBefore: number, name: CounterName, rule: BudgetRule): void {
    if (state.limit <= 0) return;
    for (const threshold of rule.alertAt) {
      const at = threshold * state.limit;
      if (spentBefore >= at || state.spent < at) continue;
      this.fired.add(`${state.counter}|${state.windowStart}|${threshold}`);
      this.fire(state, name, rule, threshold);
    }
  }

  /** Forgets the fired thresholds of windows that have ended. */
  prune(now: number, windowEndOf: (counter: string, windowStart: number) => number | undefined): void {
    for (const key of this.fired) {
      const [counter, start] = key.split('|');
      const end = windowEndOf(counter, Number(start));
      if (end === undefined || end <= now) this.fired.delete(key);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private fire(state: CounterState, name: CounterName, rule: BudgetRule, threshold: number): void {
    const alert: BudgetAlert = {
      budget: rule.name,
      client: name.client === '*' ? null : name.client,
      user: name.user === '*' ? null : name.user,
      threshold,
      spent_usd: state.spent / 1e9,
      limit_usd: state.limit / 1e9,
      window_start: new Date(state.windowStart).toISOString(),
      window_end: new Date(state.windowEnd).toISOString(),
    };
    this.metric.inc({ budget: rule.name, threshold: String(threshold) });
    this.logger.warn(
      `Budget "${rule.name}"${alert.client === null ? '' : ` client ${alert.client}`}${alert.user === null ? '' : ` user ${alert.user}`} ` +
        `reached ${Math.round(threshold * 100)}% of its limit: $${alert.spent_usd} of $${alert.limit_usd} (window ${alert.window_start} to ${alert.window_end})`,
    );
    if (this.webhook !== undefined && this.pending < MAX_PENDING) {
      this.pending++;
      void this.post(this.webhook, alert, 1);
    }
  }

  private async post(url: string, alert: BudgetAlert, attempt: number): Promise<void> {
    let failure: string | undefined;
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        headersTimeout: WEBHOOK_TIMEOUT_MS,
        bodyTimeout: WEBHOOK_TIMEOUT_MS,
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) {
        this.pending--;
        return;
      }
      failure = `answered ${response.statusCode}`;
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (attempt >= ATTEMPTS || this.closed) {
      this.pending--;
      this.logger.error(`Budget alert webhook failed ${attempt} times (${failure}); alert for "${alert.budget}" at ${alert.threshold} not delivered`);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.post(url, alert, attempt + 1);
    }, FIRST_BACKOFF_MS * 2 ** (attempt - 1));
    timer.unref();
    this.timers.add(timer);
  }
}
