import { CompiledQuery, type Compilable, type Insertable, type Kysely } from 'kysely';
import { boundedText } from '../core/bounded-text';
import type { RequestRecord } from '../metrics/model/request-record';
import { dailyRollupsOf, rollupsOf, sessionRollupsOf } from './rows';
import { DAILY_KEYS, ROLLUP_KEYS, ROLLUP_SUMS, SESSION_KEYS, type RequestRow, type StoreSchema } from './schema';

/** A finished request waiting to be written: its row (with its unique row_key) and the record its rollup is summed from. */
export interface QueuedRow {
  row: Insertable<RequestRow> & { row_key: string };
  record: Readonly<RequestRecord>;
}

/**
 * Splits `items` into runs whose lengths are powers of two, largest first (200 rows: 128, 64, 8), so
 * a table's statements come in at most nine shapes up to 256 rows: each is built once here and
 * prepared once by the database, instead of once for every batch size.
 */
export function powerOfTwoRuns<T>(items: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (let at = 0; at < items.length; ) {
    const size = 2 ** Math.floor(Math.log2(items.length - at));
    runs.push(items.slice(at, at + size));
    at += size;
  }
  return runs;
}

/** Built statements by table and row count: compiling a 200-row insert costs far more than running it. */
export class StatementCache {
  private readonly templates = new Map<string, CompiledQuery>();

  /** Distinct statements built so far. */
  get size(): number {
    return this.templates.size;
  }

  /** The statement for `rows` (every row has every column, in one key order): built once per count, then given fresh values. */
  get(table: string, rows: readonly object[], build: () => Compilable): CompiledQuery {
    const values: unknown[] = [];
    for (const r of rows) for (const v of Object.values(r) as unknown[]) values.push(v);
    const key = `${table}:${rows.length}`;
    let template = this.templates.get(key);
    if (!template) {
      template = build().compile();
      this.templates.set(key, template);
    }
    if (template.parameters.length !== values.length) return build().compile();
    return CompiledQuery.raw(template.sql, values);
  }
}

/**
 * One transaction: the rows whose row_key is not stored yet, and the hourly, daily and session-hour
 * rollups of exactly those rows. Writing a batch again (a retry after a commit whose reply was lost) therefore adds nothing.
 * Returns how many rows were new.
 */
export async function writeBatch(db: Kysely<StoreSchema>, batch: readonly QueuedRow[], statements: StatementCache): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const keys = new Set<string>();
    for (const run of powerOfTwoRuns(batch.map((q) => q.row))) {
      const inserted = await trx.executeQuery<{ row_key: string }>(
        statements.get('rows', run, () =>
          trx
            .insertInto('usage_requests')
            .values(run)
            .onConflict((oc) => oc.column('row_key').doNothing())
            .returning('row_key'),
        ),
      );
      for (const r of inserted.rows) keys.add(r.row_key);
    }
    const fresh = batch.filter((q) => keys.has(q.row.row_key));
    if (fresh.length === 0) return 0;
    const freshRows = fresh.map((q) => q.row);
    const hourly = rollupsOf(
      freshRows,
      fresh.map((q) => q.record),
    );
    // Each table's keys are unique within the batch (so within each run), as both engines require of one upsert.
    for (const run of powerOfTwoRuns(hourly)) await trx.executeQuery(statements.get('hourly', run, () => upsert(trx, 'usage_hourly', ROLLUP_KEYS, run)));
    for (const run of powerOfTwoRuns(dailyRollupsOf(hourly))) await trx.executeQuery(statements.get('daily', run, () => upsert(trx, 'usage_daily', DAILY_KEYS, run)));
    const sessions = sessionRollupsOf(
      freshRows,
      fresh.map((q) => q.record),
    );
    for (const run of powerOfTwoRuns(sessions)) await trx.executeQuery(statements.get('sessions', run, () => upsert(trx, 'usage_session_hourly', SESSION_KEYS, run)));
    return fresh.length;
  });
}

type RollupTable = 'usage_hourly' | 'usage_daily' | 'usage_session_hourly';

/** Adds `rollups` to `table`: new keys inserted, stored ones summed, last_start the later of the two. */
function upsert<T extends RollupTable>(trx: Kysely<StoreSchema>, table: T, keys: readonly string[], rollups: readonly Insertable<StoreSchema[T]>[]): Compilable {
  // The three tables share the sum columns; Kysely cannot type a builder generic over the table, so it is built on one of them.
  const t = table as 'usage_hourly';
  return trx
    .insertInto(t)
    .values(rollups as Insertable<StoreSchema['usage_hourly']>[])
    .onConflict((oc) =>
      oc.columns(keys as (typeof ROLLUP_KEYS)[number][]).doUpdateSet((eb) => ({
        ...Object.fromEntries(ROLLUP_SUMS.map((k) => [k, eb(eb.ref(`${t}.${k}`), '+', eb.ref(`excluded.${k}`))])),
        last_start: eb
          .case()
          .when(eb.ref('excluded.last_start'), '>', eb.ref(`${t}.last_start`))
          .then(eb.ref('excluded.last_start'))
          .else(eb.ref(`${t}.last_start`))
          .end(),
      })),
    );
}

/**
 * Whether the database refused a statement for the values in it (text it cannot hold, a number out
 * of range, an index row too large) rather than for the connection, the disk or a lock: such a batch
 * fails the same way every time it is written again.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // PostgreSQL SQLSTATE classes 22 (data exception), 23 (integrity constraint) and 54 (program limit exceeded).
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code)) return true;
  return code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH' || code === 'SQLITE_RANGE';
}

/** Stored text is cut to these lengths when a row is written cleaned. */
export const CLEAN_TEXT_MAX = 256;
export const CLEAN_ERROR_MAX = 1024;
const OPTIONAL_NUMBERS = new Set(['endTime', 'durationMs', 'ttftMs', 'upstreamMs']);

/**
 * A record as it can always be stored: control characters (NUL among them) removed, text cut
 * (CLEAN_TEXT_MAX, an error message CLEAN_ERROR_MAX), numbers that are not finite made 0, an
 * unknown cost null (never 0) and an optional measure absent.
 */
export function cleanRecord(record: Readonly<RequestRecord>): RequestRecord {
  const out: Record<string, unknown> = { ...record };
  for (const [key, value] of Object.entries(out)) {
    if (typeof value === 'string') {
      out[key] = boundedText(value, key === 'error' ? CLEAN_ERROR_MAX : CLEAN_TEXT_MAX);
    } else if (typeof value === 'number' && !Number.isFinite(value)) {
      out[key] = key === 'costNano' ? null : OPTIONAL_NUMBERS.has(key) ? undefined : 0;
    }
  }
  return out as unknown as RequestRecord;
}

/** What isolating a refused batch found: rows stored cleaned, and rows set aside with the database's reason. */
export interface Isolation {
  cleaned: QueuedRow[];
  quarantined: { queued: QueuedRow; reason: string }[];
}

/**
 * Writes `batch` with `write`. A batch the database refuses for its data (isDataError) is halved
 * until each refused row is alone; that row is written once more cleaned (`clean`), and set aside
 * (`found.quarantined`) if even that is refused, so one bad row never holds back the others. Any
 * other error is thrown; `settled` has then been told of every row already written or set aside,
 * and only the rest need writing again.
 */
export async function writeIsolating(
  batch: readonly QueuedRow[],
  write: (rows: readonly QueuedRow[]) => Promise<unknown>,
  clean: (queued: QueuedRow) => QueuedRow,
  settled: (rows: readonly QueuedRow[]) => void,
  found: Isolation,
): Promise<void> {
  try {
    await write(batch);
    settled(batch);
    return;
  } catch (error) {
    if (!isDataError(error) || batch.length === 0) throw error;
  }
  if (batch.length > 1) {
    const half = Math.ceil(batch.length / 2);
    await writeIsolating(batch.slice(0, half), write, clean, settled, found);
    await writeIsolating(batch.slice(half), write, clean, settled, found);
    return;
  }
  const cleaned = clean(batch[0]);
  try {
    await write([cleaned]);
    found.cleaned.push(cleaned);
  } catch (error) {
    if (!isDataError(error)) throw error;
    found.quarantined.push({ queued: batch[0], reason: error instanceof Error ? error.message : String(error) });
  }
  settled(batch);
}
