import { Injectable } from '@nestjs/common';
import { sql, type AliasableExpression, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { isoSeconds } from '../metrics/calculations/duration';
import { DAY_S, HOUR_S } from './rows';
import type { StoreSchema } from './schema';
import { HISTORY_FIELDS, type CountedColumn, type HistoryField } from '../metrics/model/counted-fields';
import { foldAscii, Glob, likePattern } from '../core/glob';
import { USAGE_LIMIT_MAX, type FilterName, type GroupBy, type TimeRange, type UsageOrder, type UsagePage } from './usage-query';
import { UsageStore } from './usage-store.service';

/** Groupings and filters the hourly and daily rollups hold; user and session live in the rows and the session rollups. */
const ROLLUP_GROUPS: ReadonlySet<GroupBy> = new Set(['hour', 'day', 'provider', 'model', 'client', 'api', 'instance']);
const ROLLUP_FILTERS: ReadonlySet<FilterName> = new Set(['provider', 'model', 'client']);
/** Groupings and filters the session-hour rollups hold. */
const SESSION_GROUPS: ReadonlySet<GroupBy> = new Set(['hour', 'day', 'instance', 'client', 'session']);
const SESSION_FILTERS: ReadonlySet<FilterName> = new Set(['client', 'session']);

type RollupTable = 'usage_daily' | 'usage_hourly' | 'usage_session_hourly';
type Source = RollupTable | 'rows';
const SOURCE_NAMES: Record<Source, string> = { usage_daily: 'daily', usage_hourly: 'hourly', usage_session_hourly: 'session_hourly', rows: 'rows' };

/**
 * Which table answers which part of the range: whole UTC days from the daily rollups (unless grouped
 * by hour), the other whole hours from the hourly or session-hour rollups, the partial hours at
 * either end from the rows; everything from the rows when no rollup holds the grouping and filters.
 */
export function readPlan(range: TimeRange, groupBy: readonly GroupBy[], filters: Partial<Record<FilterName, string>>): { table: Source; from: number; to: number }[] {
  const names = Object.keys(filters) as FilterName[];
  const byKeys = groupBy.every((g) => ROLLUP_GROUPS.has(g)) && names.every((f) => ROLLUP_FILTERS.has(f));
  const bySession = !byKeys && groupBy.every((g) => SESSION_GROUPS.has(g)) && names.every((f) => SESSION_FILTERS.has(f));
  const firstHour = Math.ceil(range.from / HOUR_S) * HOUR_S;
  const lastHour = Math.floor(range.to / HOUR_S) * HOUR_S;
  if (!(byKeys || bySession) || firstHour >= lastHour) return [{ table: 'rows', ...range }];
  const hours: RollupTable = byKeys ? 'usage_hourly' : 'usage_session_hourly';
  const plan: { table: Source; from: number; to: number }[] = [];
  const firstDay = Math.ceil(firstHour / DAY_S) * DAY_S;
  const lastDay = Math.floor(lastHour / DAY_S) * DAY_S;
  if (byKeys && !groupBy.includes('hour') && firstDay < lastDay) {
    plan.push({ table: 'usage_daily', from: firstDay, to: lastDay });
    if (firstHour < firstDay) plan.push({ table: hours, from: firstHour, to: firstDay });
    if (lastDay < lastHour) plan.push({ table: hours, from: lastDay, to: lastHour });
  } else {
    plan.push({ table: hours, from: firstHour, to: lastHour });
  }
  if (range.from < firstHour) plan.push({ table: 'rows', from: range.from, to: firstHour });
  if (lastHour < range.to) plan.push({ table: 'rows', from: lastHour, to: range.to });
  return plan;
}

/** The summed keys of the usage history, in its column order (COUNTED_FIELDS with `history`). */
const SUM_KEYS: readonly HistoryField['wire'][] = HISTORY_FIELDS.map((f) => f.wire);

/** One row's sums (or the totals): every summed key, and the average derived from them. */
export type UsageSums = Record<HistoryField['wire'] | 'average_duration_ms', number>;

export type UsageRow = Partial<Record<GroupBy, string | null>> & UsageSums;

export interface UsageDoc {
  from: string;
  to: string;
  group_by: GroupBy[];
  /** The tables read, joined by `+`: `daily`, `hourly`, `session_hourly`, `rows`. */
  source: string;
  rows: UsageRow[];
  totals: UsageSums;
  /** Rows before paging, and the page: `rows` holds `limit` of them from `offset`, in `order`. */
  total_rows: number;
  offset: number;
  limit: number;
  order: UsageOrder;
  /** Whether rows were left out of this page, and the offset of the next page (null on the last). */
  truncated: boolean;
  next_offset: number | null;
}

/** One part of a usage query (a table over part of the range), its columns: the group keys, then PART_SUMS. */
type Part = SelectQueryBuilder<StoreSchema, keyof StoreSchema, Record<string, unknown>>;

/** The sums each part selects, in this order (UNION ALL matches columns by position): the history's, then the denominator of its average. */
const PART_SUMS: readonly { key: HistoryField['wire'] | 'completed'; column: CountedColumn }[] = [
  ...HISTORY_FIELDS.map((f) => ({ key: f.wire, column: f.column })),
  { key: 'completed', column: 'completed' },
];

/**
 * Each part sum over the rows, where it is not the sum of the column of its name: the tracker's
 * arithmetic (addRecord) in SQL.
 */
const FROM_ROWS: Partial<Record<(typeof PART_SUMS)[number]['key'], (eb: Eb<'usage_requests'>) => AliasableExpression<unknown>>> = {
  requests: (eb) => eb.fn.countAll(),
  errors: (eb) => eb.fn.sum(eb.case().when('error_type', 'is not', null).then(1).else(0).end()),
  cost_usd: (eb) => eb.fn.sum('cost_nano'),
  unpriced_requests: (eb) => eb.fn.sum(eb.case().when('cost_nano', 'is', null).then(1).else(0).end()),
  estimated_requests: (eb) => eb.fn.sum(eb.case().when('usage_source', 'in', ['estimated', 'partial']).then(1).else(0).end()),
  // Math.round of a positive duration, as the tracker sums it, on both engines.
  total_duration_ms: (eb) => eb.fn.sum(sql<number>`floor(duration_ms + 0.5)`),
  completed: (eb) => eb.fn.countAll(),
};

type Eb<T extends keyof StoreSchema> = ExpressionBuilder<StoreSchema, T>;

/** History queries over the store: daily, hourly and session-hour rollups wherever the grouping allows (readPlan), rows for the rest. */
@Injectable()
export class UsageHistory {
  constructor(private readonly store: UsageStore) {}

  /** History reads go through the store's read connection: a long one never holds up the writes. */
  get db(): Kysely<StoreSchema> | undefined {
    return this.store.reads;
  }

  /** `ownClient`: a client key's own view, matched exactly, beside the filters' globs (contract section 13). */
  async usage(
    range: TimeRange,
    groupBy: GroupBy[],
    filters: Partial<Record<FilterName, string>>,
    page: UsagePage = { limit: USAGE_LIMIT_MAX, offset: 0, order: 'keys' },
    ownClient?: string,
  ): Promise<UsageDoc> {
    const db = this.requireDb();
    const plan = readPlan(range, groupBy, filters);
    const source = [...new Set(plan.map((p) => SOURCE_NAMES[p.table]))].join('+');
    // The parts (rollups of whole days and hours, rows for the rest) are summed, sorted and cut in the
    // database, in one statement: only the page travels, however many groups the range makes.
    const parts = plan.map(({ table, from, to }) => {
      const part = table === 'rows' ? this.fromRows(db, { from, to }, groupBy, filters) : this.fromRollups(db, table, { from, to }, groupBy, filters);
      return ownClient === undefined ? part : part.where(sql.ref('client'), '=', ownClient);
    });
    const union = parts.slice(1).reduce((all, part) => all.unionAll(part), parts[0]);
    const ref = (column: string) => sql.ref(`p.${column}`);
    // '' stands for "none" in a rollup key, where the rows hold null: both are null here.
    const key = (g: GroupBy) => (g === 'hour' || g === 'day' ? ref(g) : sql`nullif(${ref(g)}, '')`);
    // Key order as JavaScript compares strings, none first, on both engines (PostgreSQL's own follows its locale).
    const keyOrder = groupBy.map((g) => (this.engine === 'postgres' && g !== 'hour' && g !== 'day' ? sql`${key(g)} collate "C" asc nulls first` : sql`${key(g)} asc nulls first`));
    const summed = (k: string) => sql`coalesce(sum(${ref(k)}), 0)`;
    const order = page.order === 'keys' ? keyOrder : [sql`${summed(page.order === 'cost' ? 'cost_usd' : 'requests')} desc`, sql`${summed('requests')} desc`, ...keyOrder];
    const run = (limit: number, offset: number) =>
      sql<Record<string, unknown>>`select ${sql.join([
        ...groupBy.map((g) => sql`${key(g)} as ${sql.ref(g)}`),
        ...PART_SUMS.map(({ key: k }) => sql`${summed(k)} as ${sql.ref(k)}`),
        // Over every group, before the page is cut: the totals and how many groups there are.
        ...PART_SUMS.map(({ key: k }) => sql`sum(${summed(k)}) over () as ${sql.ref(`all_${k}`)}`),
        sql`count(*) over () as all_groups`,
      ])} from (${union}) as p
      ${groupBy.length > 0 ? sql`group by ${sql.join(groupBy.map(key))}` : sql``}
      ${order.length > 0 ? sql`order by ${sql.join(order)}` : sql``}
      limit ${limit} offset ${offset}`.execute(db);
    const found = (await run(page.limit, page.offset)).rows;
    // A page past the last group still answers the totals.
    const first = found[0] ?? (page.offset > 0 ? (await run(1, 0)).rows[0] : undefined);
    const rows = found.map((r) => {
      const row: Record<string, unknown> = {};
      for (const g of groupBy) row[g] = keyValue(g, r[g]);
      for (const k of SUM_KEYS) row[k] = Number(r[k] ?? 0);
      finish(row as UsageSums, Number(r.completed ?? 0));
      return row as UsageRow;
    });
    const totals = zeroSums();
    for (const k of SUM_KEYS) totals[k] = Number(first?.[`all_${k}`] ?? 0);
    finish(totals, Number(first?.all_completed ?? 0));
    const total = Number(first?.all_groups ?? 0);
    const end = page.offset + rows.length;
    return {
      from: isoSeconds(range.from),
      to: isoSeconds(range.to),
      group_by: groupBy,
      source,
      rows,
      totals,
      total_rows: total,
      offset: page.offset,
      limit: page.limit,
      order: page.order,
      truncated: rows.length < total,
      next_offset: end < total ? end : null,
    };
  }

  private fromRollups(db: Kysely<StoreSchema>, table: RollupTable, range: TimeRange, groupBy: GroupBy[], filters: Partial<Record<FilterName, string>>): Part {
    // The three tables share the sum columns and the keys queried here; Kysely cannot type a query generic over the table.
    const t = table as 'usage_hourly';
    const time = table === 'usage_daily' ? 'day' : 'hour';
    let q = db
      .selectFrom(t)
      .where(sql.ref(time), '>=', range.from)
      .where(sql.ref(time), '<', range.to)
      .select((eb) => [
        ...groupBy.map((g) => rollupKey(eb, table, g).as(g)),
        // In PART_SUMS order: the parts are joined by UNION ALL, which matches columns by position.
        ...PART_SUMS.map(({ key, column }) => eb.fn.sum(column).as(key)),
      ]);
    for (const [name, glob] of Object.entries(filters) as [FilterName, string][]) {
      const ref = sql.ref<string>(name);
      q = q.where(globMatch(this.engine, ref, glob));
      // '' stands for "none" in a rollup key, where the rows hold null, which no glob matches.
      q = q.where(ref, '<>', '');
    }
    if (groupBy.length > 0) q = q.groupBy(groupBy.map((g) => sql.ref(g)));
    return q;
  }

  private fromRows(db: Kysely<StoreSchema>, range: TimeRange, groupBy: GroupBy[], filters: Partial<Record<FilterName, string>>): Part {
    let q = db
      .selectFrom('usage_requests')
      .where('start_time', '>=', range.from)
      .where('start_time', '<', range.to)
      .select((eb) => [
        ...groupBy.map((g) => rowKey(eb, g).as(g)),
        // In PART_SUMS order: the parts are joined by UNION ALL, which matches columns by position.
        ...PART_SUMS.map(({ key }) => (FROM_ROWS[key]?.(eb) ?? eb.fn.sum(sql.ref<number>(key))).as(key)),
      ]);
    for (const [name, glob] of Object.entries(filters) as [FilterName, string][]) {
      q = q.where((eb) => globMatch(this.engine, eb.ref(name), glob));
    }
    if (groupBy.length > 0) q = q.groupBy(groupBy.map((g) => sql.ref(g)));
    return q;
  }

  get engine(): StoreEngine {
    return this.store.engine ?? 'sqlite';
  }

  requireDb(): Kysely<StoreSchema> {
    const db = this.db;
    if (!db) throw new StoreUnavailable();
    return db;
  }
}

export class StoreUnavailable extends Error {
  constructor() {
    super('The usage store is not reachable right now');
  }
}

export type StoreEngine = 'sqlite' | 'postgres';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The column with its ASCII letters lower-cased, as the glob (src/core/glob.ts) compares names:
 * SQLite's lower() does exactly that; PostgreSQL's folds by the database's locale (`Ü` to `ü` in
 * most), so there translate() folds A-Z alone.
 */
function folded(engine: StoreEngine, ref: Expression<string | null>): Expression<string | null> {
  return engine === 'sqlite' ? sql`lower(${ref})` : sql`translate(${ref}, ${sql.lit(UPPER)}, ${sql.lit(LOWER)})`;
}

/**
 * The store's twin of `Glob.test` (held to the same answers by src/core/glob.spec.ts). One without
 * `*` or `?` is an equality, which the `lower(session)` index answers: on PostgreSQL the exact
 * comparison comes with `lower(column) = lower(name)`, which it implies, so the index still applies.
 */
export function globMatch(engine: StoreEngine, ref: Expression<string | null>, glob: string): Expression<SqlBool> {
  const name = foldAscii(glob);
  if (new Glob(glob).literal) {
    if (engine === 'sqlite') return sql<SqlBool>`lower(${ref}) = ${name}`;
    return sql<SqlBool>`lower(${ref}) = lower(${name}) and ${folded(engine, ref)} = ${name}`;
  }
  return sql<SqlBool>`${folded(engine, ref)} like ${likePattern(glob)} escape '\\'`;
}

function rollupKey(eb: Eb<'usage_hourly'>, table: RollupTable, g: GroupBy): AliasableExpression<unknown> {
  if (g === 'day') return table === 'usage_daily' ? sql.ref('day') : sql`floor(hour / ${sql.lit(DAY_S)}) * ${sql.lit(DAY_S)}`;
  return sql.ref(g);
}

function rowKey(eb: Eb<'usage_requests'>, g: GroupBy): AliasableExpression<unknown> {
  if (g === 'hour') return sql`floor(start_time / ${sql.lit(HOUR_S)}) * ${sql.lit(HOUR_S)}`;
  if (g === 'day') return sql`floor(start_time / ${sql.lit(DAY_S)}) * ${sql.lit(DAY_S)}`;
  return eb.ref(g);
}

function keyValue(g: GroupBy, v: unknown): string | null {
  if (g === 'hour' || g === 'day') return isoSeconds(Number(v));
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function zeroSums(): UsageSums {
  const sums = {} as UsageSums;
  for (const k of SUM_KEYS) sums[k] = 0;
  sums.average_duration_ms = 0;
  return sums;
}

function finish(s: UsageSums, completed: number): void {
  // Summed in nanodollars (exact), shown in dollars.
  s.cost_usd = s.cost_usd / 1e9;
  s.average_duration_ms = completed > 0 ? Math.round(s.total_duration_ms / completed) : 0;
}
