/**
 * The budget and rate-limit ledger: the counters every matching rule draws on, reserved before the
 * upstream call and settled once when the request is finalized. Amounts are integers: nanodollars
 * for `usd`, counts otherwise. Two implementations share this seam: the in-memory ledger below (one
 * machine, SQLite or no store) and the PostgreSQL ledger (a fleet sharing one database).
 */

export type CounterKind = 'usd' | 'requests' | 'tokens' | 'concurrent';

/** One counter a request draws on in one window: a budget instance or a rate-limit instance. */
export interface Claim {
  /** Stable, bounded key, e.g. `budget:<rule>:<client>:<user>` or `rpm:<rule>:<client>:<user>`. */
  counter: string;
  kind: CounterKind;
  /** Epoch ms of the UTC calendar window (rate limits: the minute). Concurrency: 0 and 0. */
  windowStart: number;
  windowEnd: number;
  limit: number;
  /** What this request reserves: upper-bound nanodollars / tokens / 1 request / 1 slot. */
  amount: number;
}

/** A counter right after a reservation: for the response headers (remaining = limit - spent - reserved). */
export interface CounterLevel {
  counter: string;
  spent: number;
  reserved: number;
}

export type Reservation =
  /** `levels`: each claim's counter after the reservation, in claim order, when the ledger has them at no extra cost. */
  | { ok: true; id: string; levels?: readonly CounterLevel[] }
  /**
   * The first claim that did not fit, with its counter's spent and reserved at that moment; `full`:
   * it names a counter the ledger has no room to start (a bound on memory, not the rule's limit).
   */
  | { ok: false; refused: Claim; spent: number; reserved: number; full?: boolean };

export interface CounterState {
  counter: string;
  kind: CounterKind;
  windowStart: number;
  windowEnd: number;
  limit: number;
  spent: number;
  reserved: number;
  /** Requests settled against this counter in this window. */
  requests: number;
  /** Reservations refused because of this counter in this window. */
  refused: number;
  /** The sum of the excesses of settlements over their reservations in this window. */
  overshoot: number;
}

export interface Ledger {
  /** Every claim or none, atomically. An unsettled reservation expires after leaseMs (its holder died). */
  reserve(requestId: string, claims: readonly Claim[], leaseMs: number): Promise<Reservation>;
  /**
   * Exactly once per reservation: each claim's reservation is replaced by its actual amount (usd: the
   * real cost; tokens: real tokens; requests: 1; concurrent: 0). A counter missing from `actual`
   * settles at 0. Excess over the reservation adds to overshoot. An unknown or already settled id does
   * nothing; one whose lease ran out (its reservation given back) still adds its spend, all of it overshoot.
   */
  settle(id: string, actual: ReadonlyMap<string, number>): Promise<void>;
  /** Spent/reserved per counter for the current windows (for /metrics/budgets, headers, gauges). */
  read(): Promise<CounterState[]>;
  close(): Promise<void>;
}

/** Whether a claim of `amount` fits a counter at `spent` + `reserved` under `limit`. */
export function fits(kind: CounterKind, limit: number, spent: number, reserved: number, amount: number): boolean {
  if (kind === 'concurrent') return reserved + amount <= limit;
  return spent + reserved + amount <= limit;
}

/** Counter states one machine keeps at most (about 300 bytes each): rules times clients times users in their windows. */
export const DEFAULT_MAX_COUNTERS = 200_000;

interface Held {
  states: CounterState[];
  amounts: number[];
  leaseFrom: number;
  expiresAt: number;
}

/**
 * The one-machine ledger. Every call runs to completion on the event loop without awaiting, so a
 * reserve is atomic across its claims by construction. Windows that have ended are dropped as time
 * passes; an unsettled reservation is given back after its lease.
 */
export class MemoryLedger implements Ledger {
  /** By counter, then window start: a lookup builds no string. */
  private readonly states = new Map<string, Map<number, CounterState>>();
  /** Counter states held (every window): a client inventing users cannot grow them past maxCounters. */
  private count = 0;
  private readonly held = new Map<string, Held>();
  /** Reservations whose lease ran out (reserved amounts given back): a late settlement still counts its spend. */
  private readonly lapsed = new Map<string, Held>();
  private nextSweep = 0;
  private serial = 0;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxCounters = DEFAULT_MAX_COUNTERS,
  ) {}

  reserve(requestId: string, claims: readonly Claim[], leaseMs: number): Promise<Reservation> {
    return Promise.resolve(this.reserveNow(requestId, claims, leaseMs));
  }

  /** The synchronous form of `reserve`, for callers on the request path that need no await. */
  reserveNow(requestId: string, claims: readonly Claim[], leaseMs: number): Reservation {
    const now = this.now();
    this.sweep(now);
    const states: CounterState[] = [];
    for (const claim of claims) {
      const state = this.state(claim, true);
      if (state === undefined) return { ok: false, refused: claim, spent: 0, reserved: 0, full: true };
      if (!fits(claim.kind, claim.limit, state.spent, state.reserved, claim.amount)) {
        state.refused += 1;
        return { ok: false, refused: claim, spent: state.spent, reserved: state.reserved };
      }
      states.push(state);
    }
    const amounts = claims.map((c) => c.amount);
    states.forEach((state, i) => (state.reserved += amounts[i]));
    const id = `${requestId}#${++this.serial}`;
    this.held.set(id, { states, amounts, leaseFrom: now, expiresAt: now + leaseMs });
    return { ok: true, id, levels: states.map((s) => ({ counter: s.counter, spent: s.spent, reserved: s.reserved })) };
  }

  settle(id: string, actual: ReadonlyMap<string, number>): Promise<void> {
    this.settleNow(id, actual);
    return Promise.resolve();
  }

  /** The synchronous form of `settle`. */
  settleNow(id: string, actual: ReadonlyMap<string, number>): void {
    let held = this.held.get(id);
    let live = true;
    if (held) this.held.delete(id);
    else {
      held = this.lapsed.get(id);
      if (!held) return;
      this.lapsed.delete(id);
      live = false;
    }
    held.states.forEach((state, i) => {
      const reserved = live ? held.amounts[i] : 0;
      const real = Math.max(0, actual.get(state.counter) ?? 0);
      state.reserved -= reserved;
      if (state.kind === 'concurrent') return;
      state.spent += real;
      state.requests += 1;
      if (real > reserved) state.overshoot += real - reserved;
    });
  }

  read(): Promise<CounterState[]> {
    return Promise.resolve(this.readNow());
  }

  /** The synchronous form of `read`: copies of the states of the windows that have not ended. */
  readNow(): CounterState[] {
    const now = this.now();
    this.sweep(now);
    const out: CounterState[] = [];
    for (const windows of this.states.values()) for (const s of windows.values()) if (s.windowEnd === 0 || s.windowEnd > now) out.push({ ...s });
    return out;
  }

  /** The live state of one counter in one window, or undefined when nothing touched it. */
  peek(counter: string, windowStart: number): Readonly<CounterState> | undefined {
    return this.states.get(counter)?.get(windowStart);
  }

  /**
   * Spend already made in a window (restored from the usage store at start-up): added to the counter's
   * spent and requests. Seeding a window that has ended does nothing.
   */
  seed(claim: Omit<Claim, 'amount'>, spent: number, requests: number): void {
    if (claim.windowEnd !== 0 && claim.windowEnd <= this.now()) return;
    const state = this.state({ ...claim, amount: 0 });
    state.spent += spent;
    state.requests += requests;
  }

  /** Reservations held now (for tests and the drain check). */
  get holding(): number {
    return this.held.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private state(claim: Claim): CounterState;
  private state(claim: Claim, bounded: true): CounterState | undefined;
  private state(claim: Claim, bounded = false): CounterState | undefined {
    let windows = this.states.get(claim.counter);
    if (!windows) {
      windows = new Map();
      this.states.set(claim.counter, windows);
    }
    let state = windows.get(claim.windowStart);
    if (!state) {
      if (bounded && this.count >= this.maxCounters) {
        if (windows.size === 0) this.states.delete(claim.counter);
        return undefined;
      }
      this.count++;
      state = {
        counter: claim.counter,
        kind: claim.kind,
        windowStart: claim.windowStart,
        windowEnd: claim.windowEnd,
        limit: claim.limit,
        spent: 0,
        reserved: 0,
        requests: 0,
        refused: 0,
        overshoot: 0,
      };
      windows.set(claim.windowStart, state);
    }
    state.limit = claim.limit;
    return state;
  }

  /** At most once a second: give back expired reservations and drop ended windows nothing holds. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + 1000;
    for (const [id, held] of this.lapsed) if (held.expiresAt <= now) this.lapsed.delete(id);
    for (const [id, held] of this.held) {
      if (held.expiresAt > now) continue;
      this.held.delete(id);
      held.states.forEach((state, i) => (state.reserved -= held.amounts[i]));
      // Kept one more lease for a late settlement, then forgotten.
      this.lapsed.set(id, { ...held, expiresAt: now + (held.expiresAt - held.leaseFrom) });
    }
    for (const [counter, windows] of this.states) {
      for (const [start, state] of windows) {
        // A lapsed reservation settling late lands on its state object even when the window was dropped: harmless.
        const ended = state.windowEnd !== 0 && state.windowEnd <= now && state.reserved === 0;
        const idleSlot = state.windowEnd === 0 && state.reserved === 0 && state.refused === 0;
        if (ended || idleSlot) {
          windows.delete(start);
          this.count--;
        }
      }
      if (windows.size === 0) this.states.delete(counter);
    }
  }
}
