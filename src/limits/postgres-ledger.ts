import { randomUUID } from 'node:crypto';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import type { Pool, PoolClient } from 'pg';
import { storeMigrations } from '../store/migrations';
import type { Claim, CounterKind, CounterState, Ledger, Reservation } from './ledger';

/** Rows known to exist, kept so the common reserve is one statement; past this many the set starts over (a row missing again costs one insert). */
const KNOWN_ROWS_MAX = 100_000;
/** Counters whose lapsed reservations one sweep gives back. */
const SWEEP_COUNTERS = 500;

/** Marks the reservations `lr` selected as lapsed (`lapsed`), and sums what they held per counter (`back`). */
const LAPSE = `lapsed as (
  update budget_reservations r set expired = true from lr
  where r.id = lr.id and r.counter = lr.counter and r.window_start = lr.window_start and not r.expired
  returning r.counter, r.window_start, r.amount
),
back as (select counter, window_start, sum(amount)::bigint as amount from lapsed group by counter, window_start),`;

/**
 * One statement: locks every claimed counter row (in key order, so two reservations never deadlock), gives back the
 * reservations on them whose lease ran out, and then either reserves every claim (each fits: spent + reserved + amount
 * <= limit) or none, counting the refusal on the first claim that did not fit. A missing counter row reserves nothing
 * and answers present = false (the rows are created, then the statement runs again).
 */
const RESERVE_SQL = `
with c as (
  select * from unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[]) with ordinality
    as c(counter, window_start, window_end, kind, lim, amount, ord)
),
locked as (
  select b.counter, b.window_start, b.spent, b.reserved
  from budget_counters b join c on b.counter = c.counter and b.window_start = c.window_start
  order by b.counter, b.window_start
  for update of b
),
present as (select count(*) = $10 as ok from locked),
lr as (
  select r.id, r.counter, r.window_start
  from budget_reservations r join locked l on r.counter = l.counter and r.window_start = l.window_start
  where (select ok from present) and not r.expired and r.expires_at <= $8
  for update of r skip locked
),
${LAPSE}
chk as (
  select c.ord, c.counter, c.window_start, c.window_end, c.kind, c.lim, c.amount, l.spent,
    l.reserved - coalesce(k.amount, 0) as reserved, coalesce(k.amount, 0) as back,
    case when c.kind = 'concurrent' then l.reserved - coalesce(k.amount, 0) + c.amount <= c.lim
      else l.spent + l.reserved - coalesce(k.amount, 0) + c.amount <= c.lim end as fits
  from c join locked l on l.counter = c.counter and l.window_start = c.window_start
  left join back k on k.counter = c.counter and k.window_start = c.window_start
),
verdict as (
  select (select ok from present) as present,
    (select ok from present) and coalesce(bool_and(fits), true) as fits
  from chk
),
refusal as (select ord, spent, reserved from chk where not fits order by ord limit 1),
upd as (
  update budget_counters b set
    reserved = b.reserved - chk.back + case when v.fits then chk.amount else 0 end,
    refused = b.refused + case when chk.ord = (select ord from refusal) then 1 else 0 end,
    limit_amount = chk.lim, window_end = chk.window_end, kind = chk.kind
  from chk, verdict v
  where v.present and b.counter = chk.counter and b.window_start = chk.window_start
  returning b.counter
),
ins as (
  insert into budget_reservations (id, counter, window_start, amount, expires_at, request_id)
  select $7, chk.counter, chk.window_start, chk.amount, $9, $11 from chk, verdict v where v.fits
  returning 1
)
select v.present, v.fits, r.ord as refused_ord, r.spent as refused_spent, r.reserved as refused_reserved,
  chk.ord, chk.spent, chk.reserved + case when v.fits then chk.amount else 0 end as reserved
from verdict v left join refusal r on true left join chk on true order by chk.ord`;

const CREATE_SQL = `
insert into budget_counters (counter, window_start, window_end, kind, limit_amount)
select * from unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])
on conflict (counter, window_start) do nothing`;

/**
 * One statement, exactly once per reservation: the counters are locked in key order (as a reservation locks them), the
 * reservation's rows are deleted (a second settlement finds none and changes nothing), and each counter's reservation is
 * replaced by the actual amount. What a lapsed reservation no longer held, and any excess over what it held, is overshoot.
 * Answers each counter it settled, after, with its spent before: the settlements of a row are serialized by its lock,
 * so exactly one of them, on one replica, crosses each alert threshold.
 */
const SETTLE_SQL = `
with mine as (select counter, window_start from budget_reservations where id = $1),
lk as (
  select b.counter from budget_counters b join mine m on b.counter = m.counter and b.window_start = m.window_start
  order by b.counter, b.window_start
  for update of b
),
gone as (
  delete from budget_reservations r where r.id = $1 and (select count(*) from lk) >= 0
  returning r.counter, r.window_start, r.amount, r.expired
),
a as (select * from unnest($2::text[], $3::bigint[]) as a(counter, actual)),
g as (
  select gone.counter, gone.window_start, coalesce(a.actual, 0) as actual, case when gone.expired then 0 else gone.amount end as held
  from gone left join a on a.counter = gone.counter
),
upd as (
  update budget_counters b set reserved = b.reserved - g.held,
    spent = b.spent + case when b.kind = 'concurrent' then 0 else g.actual end,
    overshoot = b.overshoot + case when b.kind = 'concurrent' then 0 else greatest(g.actual - g.held, 0) end,
    requests = b.requests + case when b.kind = 'concurrent' then 0 else 1 end
  from g where b.counter = g.counter and b.window_start = g.window_start
  returning b.counter, b.kind, b.window_start, b.window_end, b.limit_amount, b.spent, b.reserved, b.requests, b.refused, b.overshoot,
    b.spent - case when b.kind = 'concurrent' then 0 else g.actual end as spent_before
)
select * from upd order by counter, window_start`;

/** Gives back the reservations whose lease ran out (their holder died), counter rows locked in key order. */
const SWEEP_SQL = `
with cand as (
  select distinct counter, window_start from budget_reservations where not expired and expires_at <= $1 limit ${SWEEP_COUNTERS}
),
lk as (
  select b.counter, b.window_start from budget_counters b join cand c on b.counter = c.counter and b.window_start = c.window_start
  order by b.counter, b.window_start
  for update of b
),
lr as (
  select r.id, r.counter, r.window_start from budget_reservations r join lk on r.counter = lk.counter and r.window_start = lk.window_start
  where not r.expired and r.expires_at <= $1
  for update of r skip locked
),
${LAPSE}
upd as (
  update budget_counters b set reserved = b.reserved - back.amount from back
  where b.counter = back.counter and b.window_start = back.window_start
  returning 1
)
select count(*)::int as n from lapsed`;

/** The counters of the windows not over yet; reserved leaves out reservations whose lease ran out but were not swept yet. */
const READ_SQL = `
select b.counter, b.kind, b.window_start, b.window_end, b.limit_amount, b.spent, b.requests, b.refused, b.overshoot,
  b.reserved - coalesce((select sum(r.amount) from budget_reservations r
    where r.counter = b.counter and r.window_start = b.window_start and not r.expired and r.expires_at <= $1), 0) as reserved
from budget_counters b where b.window_end = 0 or b.window_end > $1 order by b.counter, b.window_start`;

export interface PostgresLedgerOptions {
  /** Connections of the ledger's own pool (reservations never wait behind the usage store's batch writes). */
  poolMax?: number;
  /** The clock leases and windows are read against (epoch ms). */
  now?: () => number;
  /** How often lapsed leases are given back and old ones purged; 0: never on a timer (sweep() by hand). */
  sweepMs?: number;
  /** How long a lapsed reservation is kept before it is purged: a holder settling within it still adds its spend. */
  purgeAfterMs?: number;
  /** Errors of idle connections and of the timer's sweep (a server restart): never thrown at the process. */
  onError?: (error: Error) => void;
}

/** The verdict on every row, then one row per claim (in claim order) with its counter after the statement. */
interface ReserveRow {
  present: boolean;
  fits: boolean;
  refused_ord: string | null;
  refused_spent: string | null;
  refused_reserved: string | null;
  ord: string | null;
  spent: string | null;
  reserved: string | null;
}

/** A counter a settlement changed: its state after, and its spent before (an alert threshold between the two was crossed by it). */
export interface SettledCounter {
  state: CounterState;
  spentBefore: number;
}

function stateOf(r: Record<string, string>): CounterState {
  return {
    counter: r.counter,
    kind: r.kind as CounterKind,
    windowStart: Number(r.window_start),
    windowEnd: Number(r.window_end),
    limit: Number(r.limit_amount),
    spent: Number(r.spent),
    reserved: Number(r.reserved),
    requests: Number(r.requests),
    refused: Number(r.refused),
    overshoot: Number(r.overshoot),
  };
}

function checkAmount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`budget ledger: ${what} must be a non-negative integer, got ${n}`);
}

/**
 * The budget and rate-limit counters of a fleet, in the PostgreSQL usage store's database: every replica reserves on
 * the same rows, each reservation one atomic statement across all its claims, amounts in integers (nanodollars for usd).
 */
export class PostgresLedger implements Ledger {
  private readonly known = new Set<string>();
  private readonly now: () => number;
  private readonly purgeAfterMs: number;
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private closed = false;
  /** The store's migrations (0009 holds the ledger's tables), applied before the first statement; tried again after a failure. */
  private ready?: Promise<void>;
  private readonly pool: Pool;

  /**
   * A pool of its own on `url` (reservations never wait behind the usage store's batch writes). Nothing is sent
   * until the first call: a database unreachable at start-up fails the calls until it is back, not the start-up.
   */
  constructor(url: string, options: PostgresLedgerOptions = {}) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- pg loads only when PostgreSQL is the store, as the store itself loads it.
    const { Pool: PgPool } = require('pg') as typeof import('pg');
    const onError = options.onError ?? (() => undefined);
    this.pool = new PgPool({ connectionString: url, max: options.poolMax ?? 8, connectionTimeoutMillis: 5000 });
    // An idle client losing its server emits on the pool; a client in use, on itself (its query rejects).
    this.pool.on('error', onError);
    this.pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    this.now = options.now ?? Date.now;
    this.purgeAfterMs = options.purgeAfterMs ?? 10 * 60_000;
    const sweepMs = options.sweepMs ?? 5000;
    if (sweepMs > 0) {
      this.timer = setInterval(() => {
        // A replica that never used the ledger (no rule applies to its traffic) leaves the database alone.
        if (this.ready === undefined) return;
        this.sweeping ??= this.sweep()
          .then(() => this.purge())
          .then(
            () => undefined,
            (error: unknown) => onError(error instanceof Error ? error : new Error(String(error))),
          )
          .finally(() => (this.sweeping = undefined));
      }, sweepMs);
      this.timer.unref();
    }
  }

  /** A ledger whose tables are ready (the migrations applied): for tests and the bench. */
  static async open(url: string, options: PostgresLedgerOptions = {}): Promise<PostgresLedger> {
    const ledger = new PostgresLedger(url, options);
    try {
      await ledger.whenReady();
    } catch (error) {
      await ledger.close().catch(() => undefined);
      throw error;
    }
    return ledger;
  }

  /** Resolves once the ledger's tables exist; a failed attempt (the server down) is made again by the next call. */
  whenReady(): Promise<void> {
    this.ready ??= (async () => {
      // Kysely's Migrator holds a lock while it migrates: replicas and the usage store starting together apply each migration once.
      const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: this.pool }) });
      const { error } = await new Migrator({ db, provider: storeMigrations('postgres'), allowUnorderedMigrations: true }).migrateToLatest();
      if (error !== undefined) throw error instanceof Error ? error : new Error('budget ledger migration failed', { cause: error });
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  async reserve(requestId: string, claims: readonly Claim[], leaseMs: number): Promise<Reservation> {
    await this.whenReady();
    const id = randomUUID();
    // One claim per counter and window: a second names the same row, and one statement updates a row once.
    const byKey = new Map<string, Claim>();
    for (const claim of claims) {
      checkAmount('amount', claim.amount);
      checkAmount('limit', claim.limit);
      checkAmount('window start', claim.windowStart);
      checkAmount('window end', claim.windowEnd);
      const key = `${claim.counter}\u0000${claim.windowStart}`;
      const seen = byKey.get(key);
      byKey.set(key, seen ? { ...seen, amount: seen.amount + claim.amount, limit: Math.min(seen.limit, claim.limit) } : claim);
    }
    const list = [...byKey.values()];
    if (list.length === 0) return { ok: true, id };
    const columns = [
      list.map((c) => c.counter),
      list.map((c) => c.windowStart),
      list.map((c) => c.windowEnd),
      list.map((c) => c.kind),
      list.map((c) => c.limit),
      list.map((c) => c.amount),
    ];
    const now = this.now();
    const values = [...columns, id, now, now + Math.max(0, Math.round(leaseMs)), list.length, requestId.slice(0, 128)];
    for (let attempt = 0; ; attempt++) {
      if (list.some((c) => !this.known.has(`${c.counter}\u0000${c.windowStart}`))) await this.create(columns, list);
      const { rows } = await this.pool.query<ReserveRow>({ name: 'vdm_budget_reserve', text: RESERVE_SQL, values });
      const row = rows[0];
      if (row.present) {
        if (row.fits) {
          // Each claim's counter after the reservation, in the order the claims came (two claims on one row share it).
          const after = new Map(rows.map((r) => [`${list[Number(r.ord) - 1].counter}\u0000${list[Number(r.ord) - 1].windowStart}`, r]));
          const levels = claims.map((c) => {
            const r = after.get(`${c.counter}\u0000${c.windowStart}`);
            return { counter: c.counter, spent: Number(r?.spent ?? 0), reserved: Number(r?.reserved ?? 0) };
          });
          return { ok: true, id, levels };
        }
        const refused = list[Number(row.refused_ord) - 1];
        return { ok: false, refused, spent: Number(row.refused_spent), reserved: Number(row.refused_reserved) };
      }
      // A row went away (a window purged while this process still knew it): forget what is known and create again.
      this.known.clear();
      if (attempt >= 2) throw new Error('budget ledger: counter rows missing after creating them');
    }
  }

  private async create(columns: unknown[][], list: readonly Claim[]): Promise<void> {
    await this.pool.query({ name: 'vdm_budget_create', text: CREATE_SQL, values: columns.slice(0, 5) });
    if (this.known.size + list.length > KNOWN_ROWS_MAX) this.known.clear();
    for (const c of list) this.known.add(`${c.counter}\u0000${c.windowStart}`);
  }

  async settle(id: string, actual: ReadonlyMap<string, number>): Promise<void> {
    await this.settleCounters(id, actual);
  }

  /** `settle`, answering each counter it settled (none when `id` was settled already or purged), for the alerts. */
  async settleCounters(id: string, actual: ReadonlyMap<string, number>): Promise<SettledCounter[]> {
    const counters: string[] = [];
    const amounts: number[] = [];
    for (const [counter, amount] of actual) {
      // As the in-memory ledger: a negative actual settles at 0.
      const real = Math.max(0, amount);
      checkAmount('actual', real);
      counters.push(counter);
      amounts.push(real);
    }
    await this.whenReady();
    const { rows } = await this.pool.query<Record<string, string>>({ name: 'vdm_budget_settle', text: SETTLE_SQL, values: [id, counters, amounts] });
    return rows.map((r) => ({ state: stateOf(r), spentBefore: Number(r.spent_before) }));
  }

  async read(): Promise<CounterState[]> {
    await this.whenReady();
    const { rows } = await this.pool.query<Record<string, string>>({ name: 'vdm_budget_read', text: READ_SQL, values: [this.now()] });
    return rows.map(stateOf);
  }

  /** Gives back every reservation whose lease ran out; returns how many claims it gave back. */
  async sweep(): Promise<number> {
    await this.whenReady();
    let total = 0;
    for (;;) {
      const { rows } = await this.pool.query<{ n: number }>({ name: 'vdm_budget_sweep', text: SWEEP_SQL, values: [this.now()] });
      total += rows[0].n;
      if (rows[0].n === 0) return total;
    }
  }

  /** Deletes reservations that lapsed more than purgeAfterMs ago; returns how many rows went. */
  async purge(): Promise<number> {
    await this.whenReady();
    // Rows a late settlement holds are skipped (they go with it): the purge never waits on, nor deadlocks with, one.
    const result = await this.pool.query({
      name: 'vdm_budget_purge',
      text: `delete from budget_reservations where ctid = any(array(
          select ctid from budget_reservations where expired and expires_at <= $1 for update skip locked))`,
      values: [this.now() - this.purgeAfterMs],
    });
    return result.rowCount ?? 0;
  }

  /** A connection of the ledger's pool, for tests and the bench that look at the rows themselves. */
  connect(): Promise<PoolClient> {
    return this.pool.connect();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.sweeping;
    await this.ready?.catch(() => undefined);
    await this.pool.end();
  }
}
