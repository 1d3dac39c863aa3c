import type { Applying } from './rules';

/** One counter a request drew on, with its level after the reservation. */
export interface Level {
  applying: Applying;
  limit: number;
  spent: number;
  reserved: number;
}

const remaining = (l: Level): number => Math.max(0, l.limit - l.spent - l.reserved);

/** A duration as OpenAI's x-ratelimit-reset-* give it: `20ms`, `6s`, `1m30s`, `2h5m0s`. */
export function resetDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Nanodollars as a dollar string for a header: exact to the nanodollar, no trailing zeros. */
export function usdText(nano: number): string {
  const sign = nano < 0 ? '-' : '';
  const n = Math.abs(Math.trunc(nano));
  const whole = Math.floor(n / 1e9);
  const frac = String(n % 1e9).padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac === '' ? '' : `.${frac}`}`;
}

/** The tightest of each kind: the one with the least left. */
function tightest(levels: readonly Level[], kind: Applying['name']['kind']): Level | undefined {
  let best: Level | undefined;
  for (const l of levels) if (l.applying.name.kind === kind && (best === undefined || remaining(l) < remaining(best))) best = l;
  return best;
}

/**
 * The headers of an answer rules applied to (contract section 15): OpenAI's x-ratelimit-* for the
 * tightest requests and tokens limits, x-vdm-budget-* for the tightest budget.
 */
export function limitHeaders(levels: readonly Level[], now: number): Record<string, string> {
  const out: Record<string, string> = {};
  const requests = tightest(levels, 'rpm');
  if (requests) {
    out['x-ratelimit-limit-requests'] = String(requests.limit);
    out['x-ratelimit-remaining-requests'] = String(remaining(requests));
    out['x-ratelimit-reset-requests'] = resetDuration(requests.applying.claim.windowEnd - now);
  }
  const tokens = tightest(levels, 'tpm');
  if (tokens) {
    out['x-ratelimit-limit-tokens'] = String(tokens.limit);
    out['x-ratelimit-remaining-tokens'] = String(remaining(tokens));
    out['x-ratelimit-reset-tokens'] = resetDuration(tokens.applying.claim.windowEnd - now);
  }
  const budget = tightest(levels, 'budget');
  if (budget) {
    out['x-vdm-budget-remaining-usd'] = usdText(remaining(budget));
    out['x-vdm-budget-reset'] = new Date(budget.applying.claim.windowEnd).toISOString();
  }
  return out;
}

const ADJECTIVE = { hour: 'hourly', day: 'daily', week: 'weekly', month: 'monthly' } as const;

/** Who a counter is for, as a refusal message names it. */
function whose(a: Applying): string {
  const parts: string[] = [];
  if (a.name.client !== '*') parts.push(`client ${a.name.client}`);
  if (a.name.user !== '*') parts.push(a.name.user === '' ? 'no user' : `user ${a.name.user}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** The refusal's message: the rule, where it stands, and when its window resets. */
export function refusalMessage(refused: Level, amount: number, now: number): string {
  const a = refused.applying;
  const resets = new Date(a.claim.windowEnd).toISOString();
  const inSeconds = Math.max(1, Math.ceil((a.claim.windowEnd - now) / 1000));
  const when = `the window resets at ${resets} (in ${inSeconds} s)`;
  switch (a.name.kind) {
    case 'budget': {
      const b = a.budget!;
      return (
        `Budget "${b.name}"${whose(a)} would be exceeded: ${ADJECTIVE[b.period]} limit $${usdText(refused.limit)}, spent $${usdText(refused.spent)}, ` +
        `reserved by requests in flight $${usdText(refused.reserved)}, this request may cost up to $${usdText(amount)}; ${when}`
      );
    }
    case 'rpm':
      return `Rate limit "${a.limit!.name}"${whose(a)}: ${refused.limit} requests per minute reached; ${when}`;
    case 'tpm':
      return (
        `Rate limit "${a.limit!.name}"${whose(a)}: ${refused.limit} tokens per minute, ${refused.spent + refused.reserved} used or reserved, ` +
        `this request may use up to ${amount}; ${when}`
      );
    case 'conc':
      return `Concurrency limit "${a.limit!.name}"${whose(a)}: ${refused.limit} requests in flight; retry when one finishes`;
  }
}

/** Seconds a refused client should wait: to the window's reset, or 1 for a concurrency slot. */
export function retryAfter(refused: Level, now: number): number {
  if (refused.applying.name.kind === 'conc') return 1;
  return Math.max(1, Math.ceil((refused.applying.claim.windowEnd - now) / 1000));
}
