import type { Period } from '../config/limits-file';
import { Glob } from '../core/glob';
import type { CounterState } from './ledger';
import { counterKey, parseCounter, type CounterName, type Rules } from './rules';
import { windowOf } from './windows';

/** One budget instance in GET /metrics/budgets (contract section 15). */
export interface WireBudget {
  name: string;
  client: string | null;
  user: string | null;
  provider: string | null;
  model: string | null;
  period: Period;
  window_start: string;
  window_end: string;
  limit_usd: number;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
  requests: number;
  refused: number;
  overshoot_usd: number;
  forecast: { usd_per_hour: number; exhausted_at: string | null };
}

/** One rate-limit instance in GET /metrics/budgets. */
export interface WireLimit {
  client: string | null;
  user: string | null;
  requests_per_minute: number | null;
  requests_used: number;
  tokens_per_minute: number | null;
  tokens_used: number;
  concurrent: number | null;
  in_flight: number;
  refused: number;
}

export interface BudgetReport {
  budgets: WireBudget[];
  limits: WireLimit[];
}

const HOUR = 3_600_000;
/** The burn rate is measured over at least this much of the window, so its first seconds do not forecast wildly. */
const MIN_ELAPSED_MS = 60_000;

const star = (v: string): string | null => (v === '*' ? null : v);

/**
 * The budgets and rate limits in force with their current windows: every instance the ledger holds,
 * plus, at zero, the instances known before any traffic (shared budgets, and budgets naming one
 * client by a literal name). `client` set: only instances of that client, and shared budgets whose
 * client glob matches it.
 */
export function budgetReport(rules: Rules, states: readonly CounterState[], now: number, client?: string): BudgetReport {
  const byCounter = new Map<string, CounterState>();
  for (const s of states) byCounter.set(s.counter, s);
  const sees = (name: CounterName, glob?: string): boolean => {
    if (client === undefined) return true;
    if (name.client !== '*') return name.client === client;
    return glob === undefined || glob === '*' || new Glob(glob).test(client);
  };

  const budgets: WireBudget[] = [];
  for (const { rule } of rules.budgets) {
    const w = windowOf(rule.period, now);
    const instances = new Map<string, CounterName>();
    if (rule.shared) instances.set('', { kind: 'budget', rule: rule.name, client: '*', user: '*' });
    else if (rule.user === undefined && rule.client !== undefined && !/[*?]/.test(rule.client)) {
      instances.set('', { kind: 'budget', rule: rule.name, client: rule.client, user: '*' });
    }
    for (const s of states) {
      if (s.windowStart !== w.start) continue;
      const name = parseCounter(s.counter);
      if (name?.kind === 'budget' && name.rule === rule.name) instances.set(s.counter, name);
    }
    const seen = new Set<string>();
    for (const name of instances.values()) {
      const key = counterKey(name);
      if (seen.has(key) || !sees(name, rule.client)) continue;
      seen.add(key);
      const s = byCounter.get(key);
      const current = s !== undefined && s.windowStart === w.start ? s : undefined;
      const limit = rule.limitNano;
      const spent = current?.spent ?? 0;
      const reserved = current?.reserved ?? 0;
      const remaining = Math.max(0, limit - spent - reserved);
      const elapsed = Math.max(MIN_ELAPSED_MS, now - w.start);
      const perMs = spent / elapsed;
      let exhaustedAt: string | null = null;
      if (remaining === 0) exhaustedAt = new Date(now).toISOString();
      else if (perMs > 0) {
        const at = now + (limit - spent) / perMs;
        if (at < w.end) exhaustedAt = new Date(Math.ceil(at)).toISOString();
      }
      budgets.push({
        name: rule.name,
        client: star(name.client),
        user: star(name.user),
        provider: rule.provider ?? null,
        model: rule.model ?? null,
        period: rule.period,
        window_start: new Date(w.start).toISOString(),
        window_end: new Date(w.end).toISOString(),
        limit_usd: limit / 1e9,
        spent_usd: spent / 1e9,
        reserved_usd: reserved / 1e9,
        remaining_usd: remaining / 1e9,
        requests: current?.requests ?? 0,
        refused: current?.refused ?? 0,
        overshoot_usd: (current?.overshoot ?? 0) / 1e9,
        forecast: { usd_per_hour: (perMs * HOUR) / 1e9, exhausted_at: exhaustedAt },
      });
    }
  }

  const minute = windowOf('minute', now);
  const limits = new Map<string, WireLimit>();
  for (const s of states) {
    const name = parseCounter(s.counter);
    if (name === undefined || name.kind === 'budget' || !sees(name)) continue;
    if (name.kind !== 'conc' && s.windowStart !== minute.start) continue;
    const rule = rules.limits.find((l) => l.rule.name === name.rule)?.rule;
    if (rule === undefined) continue;
    const key = JSON.stringify([name.rule, name.client, name.user]);
    let row = limits.get(key);
    if (!row) {
      row = {
        client: star(name.client),
        user: star(name.user),
        requests_per_minute: rule.requestsPerMinute ?? null,
        requests_used: 0,
        tokens_per_minute: rule.tokensPerMinute ?? null,
        tokens_used: 0,
        concurrent: rule.concurrent ?? null,
        in_flight: 0,
        refused: 0,
      };
      limits.set(key, row);
    }
    row.refused += s.refused;
    if (name.kind === 'rpm') row.requests_used += s.spent + s.reserved;
    else if (name.kind === 'tpm') row.tokens_used += s.spent + s.reserved;
    else row.in_flight += s.reserved;
  }
  return { budgets, limits: [...limits.values()] };
}
