import { Injectable } from '@nestjs/common';
import { sql, type AliasableExpression, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { isoSeconds } from '../metrics/calculations/duration';
import { HOUR_S } from './rows';
import type { StoreSchema } from './schema';
import { likePattern, type FilterName, type GroupBy, type TimeRange } from './usage-query';
import { UsageStore } from './usage-store.service';

const DAY_S = 86_400;
/** Groupings and filters the hourly rollups hold; user and session live in the rows only. */
const ROLLUP_GROUPS: ReadonlySet<GroupBy> = new Set(['hour', 'day', 'provider', 'model', 'client', 'api', 'instance']);
const ROLLUP_FILTERS: ReadonlySet<FilterName> = new Set(['provider', 'model', 'client']);

const SUM_KEYS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_creation_tokens',
  'reasoning_tokens',
  'tool_uses',
  'tool_results',
  'tool_calls',
  'cost_usd',
  'unpriced_requests',
  'total_duration_ms',
] as const;

/** One row's sums (or the totals): every summed key, and the average derived from them. */
export type UsageSums = Record<(typeof SUM_KEYS)[number] | 'average_duration_ms', number>;

export type UsageRow = Partial<Record<GroupBy, string | null>> & UsageSums;

export interface UsageDoc {
  from: string;
  to: string;
  group_by: GroupBy[];
  source: 'rollups' | 'rows' | 'rollups+rows';
  rows: UsageRow[];
  totals: UsageSums;
}

type Partial2 = Record<string, unknown>;
type Eb<T extends keyof StoreSchema> = ExpressionBuilder<StoreSchema, T>;

/** History queries over the store: hourly rollups for whole hours wherever the grouping allows, rows for the rest. */
@Injectable()
export class UsageHistory {
  constructor(private readonly store: UsageStore) {}

  get db(): Kysely<StoreSchema> | undefined {
    return this.store.db;
  }

  async usage(range: TimeRange, groupBy: GroupBy[], filters: Partial<Record<FilterName, string>>): Promise<UsageDoc> {
    const db = this.requireDb();
    const rollupable = groupBy.every((g) => ROLLUP_GROUPS.has(g)) && (Object.keys(filters) as FilterName[]).every((f) => ROLLUP_FILTERS.has(f));
    const parts: Partial2[][] = [];
    let source: UsageDoc['source'] = 'rows';
    if (rollupable) {
      const first = Math.ceil(range.from / HOUR_S) * HOUR_S;
      const last = Math.floor(range.to / HOUR_S) * HOUR_S;
      if (first < last) {
        parts.push(await this.fromRollups(db, { from: first, to: last }, groupBy, filters));
        if (range.from < first) parts.push(await this.fromRows(db, { from: range.from, to: first }, groupBy, filters));
        if (last < range.to) parts.push(await this.fromRows(db, { from: last, to: range.to }, groupBy, filters));
        source = range.from < first || last < range.to ? 'rollups+rows' : 'rollups';
      }
    }
    if (parts.length === 0) parts.push(await this.fromRows(db, range, groupBy, filters));

    const merged = new Map<string, UsageRow>();
    for (const r of parts.flat()) {
      const keys: Partial<Record<GroupBy, string | null>> = {};
      for (const g of groupBy) keys[g] = keyValue(g, r[g]);
      const id = JSON.stringify(groupBy.map((g) => keys[g]));
      let row = merged.get(id);
      if (!row) {
        row = { ...keys, ...zeroSums(), completed: 0 } as UsageRow;
        merged.set(id, row);
      }
      for (const k of SUM_KEYS) row[k] += Number(r[k] ?? 0);
      (row as unknown as { completed: number }).completed += Number(r.completed ?? 0);
    }
    const totals = { ...zeroSums(), completed: 0 };
    const rows = [...merged.values()].sort((a, b) => compareKeys(a, b, groupBy));
    for (const row of rows) {
      const completed = (row as unknown as { completed: number }).completed;
      for (const k of SUM_KEYS) totals[k] += row[k];
      totals.completed += completed;
      finish(row, completed);
      delete (row as unknown as { completed?: number }).completed;
    }
    const { completed, ...sums } = totals;
    finish(sums, completed);
    return { from: isoSeconds(range.from), to: isoSeconds(range.to), group_by: groupBy, source, rows, totals: sums };
  }

  private async fromRollups(db: Kysely<StoreSchema>, range: TimeRange, groupBy: GroupBy[], filters: Partial<Record<FilterName, string>>): Promise<Partial2[]> {
    let q = db
      .selectFrom('usage_hourly')
      .where('hour', '>=', range.from)
      .where('hour', '<', range.to)
      .select((eb) => [
        ...groupBy.map((g) => rollupKey(eb, g).as(g)),
        ...(['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'reasoning_tokens', 'tool_uses', 'tool_results', 'tool_calls', 'unpriced_requests', 'total_duration_ms', 'completed'] as const).map((k) =>
          eb.fn.sum(k).as(k),
        ),
        eb.fn.sum('cost_nano').as('cost_usd'),
      ]);
    for (const [name, glob] of Object.entries(filters) as [FilterName, string][]) {
      q = q.where((eb) => globMatch(eb.ref(name as 'provider'), glob));
    }
    if (groupBy.length > 0) q = q.groupBy(groupBy.map((g) => sql.ref(g)));
    return (await q.execute());
  }

  private async fromRows(db: Kysely<StoreSchema>, range: TimeRange, groupBy: GroupBy[], filters: Partial<Record<FilterName, string>>): Promise<Partial2[]> {
    let q = db
      .selectFrom('usage_requests')
      .where('start_time', '>=', range.from)
      .where('start_time', '<', range.to)
      .select((eb) => [
        ...groupBy.map((g) => rowKey(eb, g).as(g)),
        eb.fn.countAll().as('requests'),
        eb.fn.sum(eb.case().when('error_type', 'is not', null).then(1).else(0).end()).as('errors'),
        ...(['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'reasoning_tokens', 'tool_uses', 'tool_results', 'tool_calls'] as const).map((k) =>
          eb.fn.sum(k).as(k),
        ),
        eb.fn.sum('cost_nano').as('cost_usd'),
        eb.fn.sum(eb.case().when('cost_nano', 'is', null).then(1).else(0).end()).as('unpriced_requests'),
        // Math.round of a positive duration, as the tracker sums it, on both engines.
        eb.fn.sum(sql<number>`floor(duration_ms + 0.5)`).as('total_duration_ms'),
        eb.fn.countAll().as('completed'),
      ]);
    for (const [name, glob] of Object.entries(filters) as [FilterName, string][]) {
      q = q.where((eb) => globMatch(eb.ref(name), glob));
    }
    if (groupBy.length > 0) q = q.groupBy(groupBy.map((g) => sql.ref(g)));
    return (await q.execute());
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

/** Case-insensitive glob; one without `*` or `?` is an equality, which the `lower(session)` index answers. */
export function globMatch(ref: Expression<string | null>, glob: string): Expression<SqlBool> {
  if (!/[*?]/.test(glob)) return sql<SqlBool>`lower(${ref}) = ${glob.toLowerCase()}`;
  return sql<SqlBool>`lower(${ref}) like ${likePattern(glob)} escape '\\'`;
}

function rollupKey(eb: Eb<'usage_hourly'>, g: GroupBy): AliasableExpression<unknown> {
  if (g === 'hour') return eb.ref('hour');
  if (g === 'day') return sql`floor(hour / ${sql.lit(DAY_S)}) * ${sql.lit(DAY_S)}`;
  return eb.ref(g as 'provider');
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

function compareKeys(a: UsageRow, b: UsageRow, groupBy: GroupBy[]): number {
  for (const g of groupBy) {
    const x = a[g] ?? '';
    const y = b[g] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function zeroSums(): UsageSums {
  return {
    requests: 0,
    errors: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_creation_tokens: 0,
    reasoning_tokens: 0,
    tool_uses: 0,
    tool_results: 0,
    tool_calls: 0,
    cost_usd: 0,
    unpriced_requests: 0,
    total_duration_ms: 0,
    average_duration_ms: 0,
  };
}

function finish(s: UsageSums, completed: number): void {
  // Summed in nanodollars (exact), shown in dollars.
  s.cost_usd = s.cost_usd / 1e9;
  s.average_duration_ms = completed > 0 ? Math.round(s.total_duration_ms / completed) : 0;
}
