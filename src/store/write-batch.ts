import { CompiledQuery, type Compilable, type Insertable, type Kysely } from 'kysely';
import type { RequestRecord } from '../metrics/model/request-record';
import { rollupsOf } from './rows';
import { ROLLUP_KEYS, ROLLUP_SUMS, type RequestRow, type StoreSchema } from './schema';

/** A finished request waiting to be written: its row (with its unique row_key) and the record its rollup is summed from. */
export interface QueuedRow {
  row: Insertable<RequestRow> & { row_key: string };
  record: Readonly<RequestRecord>;
}

/** Built statements by table and row count: compiling a 200-row insert costs far more than running it. */
export class StatementCache {
  private readonly templates = new Map<string, CompiledQuery>();

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
 * One transaction: the rows whose row_key is not stored yet, and the hourly rollups of exactly those
 * rows. Writing a batch again (a retry after a commit whose reply was lost) therefore adds nothing.
 * Returns how many rows were new.
 */
export async function writeBatch(db: Kysely<StoreSchema>, batch: readonly QueuedRow[], statements: StatementCache): Promise<number> {
  const rows = batch.map((q) => q.row);
  return db.transaction().execute(async (trx) => {
    const inserted = await trx.executeQuery<{ row_key: string }>(
      statements.get('rows', rows, () =>
        trx
          .insertInto('usage_requests')
          .values(rows)
          .onConflict((oc) => oc.column('row_key').doNothing())
          .returning('row_key'),
      ),
    );
    const keys = new Set(inserted.rows.map((r) => r.row_key));
    const fresh = batch.filter((q) => keys.has(q.row.row_key));
    if (fresh.length === 0) return 0;
    const rollups = rollupsOf(
      fresh.map((q) => q.row),
      fresh.map((q) => q.record),
    );
    // One statement for the batch's rollups: their keys are unique, as both engines require.
    const upsert = (): Compilable =>
      trx
        .insertInto('usage_hourly')
        .values(rollups)
        .onConflict((oc) =>
          oc.columns([...ROLLUP_KEYS]).doUpdateSet((eb) => ({
            ...Object.fromEntries(ROLLUP_SUMS.map((k) => [k, eb(eb.ref(`usage_hourly.${k}`), '+', eb.ref(`excluded.${k}`))])),
            last_start: eb
              .case()
              .when(eb.ref('excluded.last_start'), '>', eb.ref('usage_hourly.last_start'))
              .then(eb.ref('excluded.last_start'))
              .else(eb.ref('usage_hourly.last_start'))
              .end(),
          })),
        );
    await trx.executeQuery(statements.get('rollups', rollups, upsert));
    return fresh.length;
  });
}
