import type { BudgetRule, LimitsFile, Period, RateLimitRule } from '../config/limits-file';
import { Glob } from '../core/glob';
import type { Claim, CounterKind } from './ledger';
import { windowOf, type Window } from './windows';

/** What a request is, as far as the rules look at it. */
export interface RequestFacts {
  client: string;
  /** The user the client named; a request naming none is the user "". */
  user: string;
  provider: string;
  model: string;
  /** Epoch ms the request started: the windows it falls in. */
  at: number;
}

/** A counter's identity: which rule, and which client and user instance of it ("*" where the rule does not split). */
export interface CounterName {
  kind: 'budget' | 'rpm' | 'tpm' | 'conc';
  rule: string;
  client: string;
  user: string;
}

/** Counter keys are JSON arrays: unambiguous for any client or user string, and free of NUL for PostgreSQL. */
export const counterKey = (n: CounterName): string => JSON.stringify([n.kind, n.rule, n.client, n.user]);

export function parseCounter(key: string): CounterName | undefined {
  try {
    const parsed: unknown = JSON.parse(key);
    if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((p) => typeof p === 'string')) return undefined;
    const [kind, rule, client, user] = parsed;
    if (kind !== 'budget' && kind !== 'rpm' && kind !== 'tpm' && kind !== 'conc') return undefined;
    return { kind, rule, client, user };
  } catch {
    return undefined;
  }
}

const ALL = '*';

interface Compiled<R> {
  rule: R;
  client?: Glob;
  user?: Glob;
  provider?: Glob;
  model?: Glob;
}

const glob = (pattern: string | undefined): Glob | undefined => (pattern === undefined || pattern === ALL ? undefined : new Glob(pattern));

/** One rule that applies to a request: its claim (amount to be filled in) and what it is. */
export interface Applying {
  name: CounterName;
  claim: Omit<Claim, 'amount'>;
  /** Budgets: the rule; rate limits: the rule and which of its numbers this counter is. */
  budget?: BudgetRule;
  limit?: RateLimitRule;
}

/** Counter keys kept per rule instance (the same clients and users come back on every request); cleared when full. */
const KEY_CACHE_LIMIT = 10_000;

/** The rules of one limits file, compiled once per load: which counters a request draws on. */
export class Rules {
  readonly budgets: readonly Compiled<BudgetRule>[];
  readonly limits: readonly Compiled<RateLimitRule>[];
  /** The current window of each period, computed again once `at` leaves it. */
  private readonly windows = new Map<string, Window>();
  private readonly keys = new Map<string, string>();

  constructor(readonly file: LimitsFile | undefined) {
    this.budgets = (file?.budgets ?? []).map((rule) => ({
      rule,
      client: glob(rule.client),
      user: glob(rule.user),
      provider: glob(rule.provider),
      model: glob(rule.model),
    }));
    this.limits = (file?.limits ?? []).map((rule) => ({ rule, client: glob(rule.client), user: glob(rule.user) }));
  }

  get empty(): boolean {
    return this.budgets.length === 0 && this.limits.length === 0;
  }

  private window(period: Period | 'minute', at: number): Window {
    const w = this.windows.get(period);
    if (w !== undefined && at >= w.start && at < w.end) return w;
    const next = windowOf(period, at);
    this.windows.set(period, next);
    return next;
  }

  private key(n: CounterName): string {
    // Client and user are bounded (names 64-128 characters), and NUL separates them unambiguously from the kind and rule.
    const id = `${n.kind}\u0000${n.rule}\u0000${n.client}\u0000${n.user}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.clear();
      key = counterKey(n);
      this.keys.set(id, key);
    }
    return key;
  }

  /** The budget counters a request draws on, in the file's order. */
  budgetsFor(facts: RequestFacts): Applying[] {
    const out: Applying[] = [];
    for (const c of this.budgets) {
      if (!matches(c, facts)) continue;
      const rule = c.rule;
      const w = this.window(rule.period, facts.at);
      const name: CounterName = {
        kind: 'budget',
        rule: rule.name,
        client: rule.shared ? ALL : facts.client,
        user: rule.shared || rule.user === undefined ? ALL : facts.user,
      };
      out.push({ name, budget: rule, claim: { counter: this.key(name), kind: 'usd', windowStart: w.start, windowEnd: w.end, limit: rule.limitNano } });
    }
    return out;
  }

  /** The rate-limit counters a request draws on: requests and tokens in its minute, and a concurrency slot. */
  limitsFor(facts: RequestFacts): Applying[] {
    const out: Applying[] = [];
    let minute: Window | undefined;
    for (const c of this.limits) {
      if (!matches(c, facts)) continue;
      const rule = c.rule;
      const who = { rule: rule.name, client: facts.client, user: rule.user === undefined ? ALL : facts.user };
      const add = (kind: 'rpm' | 'tpm' | 'conc', counterKind: CounterKind, limit: number | undefined): void => {
        if (limit === undefined) return;
        const name: CounterName = { kind, ...who };
        minute ??= this.window('minute', facts.at);
        const w = kind === 'conc' ? { start: 0, end: 0 } : minute;
        out.push({ name, limit: rule, claim: { counter: this.key(name), kind: counterKind, windowStart: w.start, windowEnd: w.end, limit } });
      };
      add('rpm', 'requests', rule.requestsPerMinute);
      add('tpm', 'tokens', rule.tokensPerMinute);
      add('conc', 'concurrent', rule.concurrent);
    }
    return out;
  }
}

function matches(c: Compiled<unknown>, facts: RequestFacts): boolean {
  return (
    (c.client?.test(facts.client) ?? true) &&
    (c.user?.test(facts.user) ?? true) &&
    (c.provider?.test(facts.provider) ?? true) &&
    (c.model?.test(facts.model) ?? true)
  );
}
