import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, Migrator, sql, type MigrationProvider } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeRecord } from '../../test/support/factories';
import { storeMigrations } from './migrations';
import { rowOf } from './rows';
import type { StoreSchema } from './schema';
import { SqliteWorkerDialect } from './sqlite-worker-dialect';
import { cleanRecord, isDataError, powerOfTwoRuns, StatementCache, writeBatch, writeIsolating, type Isolation, type QueuedRow } from './write-batch';

const SUMMED = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'tool_calls', 'cost_nano'] as const;

function queued(n: number, key: string): QueuedRow {
  const session = n % 3 === 0 ? undefined : `s-${n % 4}`;
  const record = makeRecord({
    requestId: `req-${n}`,
    // Ten-minute steps across several hours and past a UTC midnight (n = 78 on).
    startTime: 1_795_000_000 + n * 600,
    endTime: 1_795_000_001 + n * 600,
    durationMs: 1000,
    provider: 'anthropic',
    resolvedModel: n % 2 === 0 ? 'claude-sonnet-4-5' : 'claude-opus-4-1',
    inputTokens: 100 + n,
    outputTokens: 10 * n,
    cacheReadTokens: n,
    toolCallCount: n % 3,
    session,
    // Sessions of the same name from different clients.
    client: `c-${n % 3}`,
    ttftMs: n % 2 === 0 ? 100 + n : undefined,
    upstreamMs: n % 3 === 0 ? undefined : 990 - n,
    costNano: n % 4 === 0 ? null : 1_000_000 + n,
    ...(n % 5 === 0 ? { errorType: 'rate_limit' as const, error: 'slow down' } : {}),
  });
  return { row: rowOf(record, 'gw-w', key), record };
}

const ROLLUP_TABLES = ['usage_hourly', 'usage_daily', 'usage_session_hourly'] as const;

/** The rows' sums, and each rollup table's only when all three agree (else the table that differs shows). */
async function sums(db: Kysely<StoreSchema>): Promise<{ rows: Record<string, number>; rollups: Record<string, number> | string }> {
  const of = async (table: keyof StoreSchema, requests: string): Promise<Record<string, number>> => {
    const r = await sql<Record<string, unknown>>`select ${sql.raw(requests)} as requests, ${sql.raw(SUMMED.map((k) => `coalesce(sum(${k}), 0) as ${k}`).join(', '))} from ${sql.table(table)}`.execute(db);
    return Object.fromEntries(Object.entries(r.rows[0]).map(([k, v]) => [k, Number(v)]));
  };
  const rollups = await Promise.all(ROLLUP_TABLES.map((t) => of(t, 'coalesce(sum(requests), 0)')));
  const differs = ROLLUP_TABLES.find((_, i) => JSON.stringify(rollups[i]) !== JSON.stringify(rollups[0]));
  return { rows: await of('usage_requests', 'count(*)'), rollups: differs ?? rollups[0] };
}

/** Every rollup table's rows, in key order. */
async function rollupTables(db: Kysely<StoreSchema>): Promise<Record<string, unknown[]>> {
  return {
    usage_hourly: await db.selectFrom('usage_hourly').selectAll().orderBy(['hour', 'provider', 'model', 'client', 'api', 'streaming', 'error_type']).execute(),
    usage_daily: await db.selectFrom('usage_daily').selectAll().orderBy(['day', 'provider', 'model', 'client', 'api', 'streaming', 'error_type']).execute(),
    usage_session_hourly: await db.selectFrom('usage_session_hourly').selectAll().orderBy(['hour', 'client', 'session']).execute(),
  };
}

describe(powerOfTwoRuns.name, () => {
  it.each([0, 1, 2, 3, 7, 8, 200, 256])('splits %i items into runs of powers of two, largest first, in order', (n) => {
    const items = Array.from({ length: n }, (_, i) => i);
    const runs = powerOfTwoRuns(items);
    expect(runs.flat()).toEqual(items);
    for (const run of runs) expect(Math.log2(run.length) % 1).toBe(0);
    expect(runs.map((r) => r.length)).toEqual([...runs.map((r) => r.length)].sort((a, b) => b - a));
    expect(new Set(runs.map((r) => r.length)).size).toBe(runs.length);
  });
});

describe(writeBatch.name, () => {
  let dir: string;
  let db: Kysely<StoreSchema>;
  const migrate = async (provider: MigrationProvider): Promise<void> => {
    // As the store runs them: a migration missing from a database is applied even after later ones.
    const { error } = await new Migrator({ db, provider, allowUnorderedMigrations: true }).migrateToLatest();
    expect(error).toBeUndefined();
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vdm-write-batch-'));
    db = new Kysely<StoreSchema>({ dialect: new SqliteWorkerDialect(join(dir, 'usage.db')) });
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds nothing when a batch is written again (its commit reply lost): each row once, rollups equal to the rows', async () => {
    await migrate(storeMigrations('sqlite'));
    const batch = Array.from({ length: 12 }, (_, i) => queued(i, `p:${i}`));
    const statements = new StatementCache();
    expect(await writeBatch(db, batch, statements)).toBe(12);
    const once = await sums(db);
    expect(once.rows.requests).toBe(12);
    expect(once.rollups).toEqual(once.rows);

    expect(await writeBatch(db, batch, statements)).toBe(0);
    expect(await sums(db)).toEqual(once);
  });

  it('writes batches of every size from 1 to 256 with at most nine statement shapes per table, each row once', async () => {
    await migrate(storeMigrations('sqlite'));
    const statements = new StatementCache();
    let n = 0;
    for (let size = 1; size <= 256; size += 17) {
      const batch = Array.from({ length: size }, () => queued(n, `k:${n++}`));
      expect(await writeBatch(db, batch, statements)).toBe(size);
    }
    // rows, hourly, daily and session-hour statements, each in sizes 1, 2, 4, ... 256 at most.
    expect(statements.size).toBeLessThanOrEqual(4 * 9);
    const totals = await sums(db);
    expect(totals.rows.requests).toBe(n);
    expect(totals.rollups).toEqual(totals.rows);
  });

  it('adds only the new rows of a batch that overlaps one already written', async () => {
    await migrate(storeMigrations('sqlite'));
    const all = Array.from({ length: 10 }, (_, i) => queued(i, `p:${i}`));
    const statements = new StatementCache();
    expect(await writeBatch(db, all.slice(0, 6), statements)).toBe(6);
    expect(await writeBatch(db, all.slice(3), statements)).toBe(4);
    const { rows, rollups } = await sums(db);
    expect(rows.requests).toBe(10);
    expect(rollups).toEqual(rows);
    const ids = await db.selectFrom('usage_requests').select('request_id').orderBy('id').execute();
    expect(ids.map((r) => r.request_id)).toEqual(all.map((q) => q.record.requestId));
  });

  it('keeps the rows of a database made before row keys, and writes new ones beside them', async () => {
    const all = storeMigrations('sqlite');
    const first = await all.getMigrations();
    await migrate({ getMigrations: () => Promise.resolve({ '0001_usage': first['0001_usage'] }) });
    // A row as the first schema had it: no row key, no service tier, no usage source.
    const { row_key: _key, service_tier: _tier, usage_source: _source, ...old } = queued(1, 'unused').row;
    await db.insertInto('usage_requests').values(old).execute();

    await migrate(all);
    expect(await writeBatch(db, [queued(2, 'p:2'), queued(3, 'p:3')], new StatementCache())).toBe(2);
    const rows = await db.selectFrom('usage_requests').select(['request_id', 'row_key']).orderBy('id').execute();
    expect(rows).toEqual([
      { request_id: 'req-1', row_key: null },
      { request_id: 'req-2', row_key: 'p:2' },
      { request_id: 'req-3', row_key: 'p:3' },
    ]);
  });

  it('fills the daily and session-hour rollups of a database made before them with what writing the rows would have', async () => {
    const all = Array.from({ length: 150 }, (_, i) => queued(i, `p:${i}`));
    await migrate(storeMigrations('sqlite'));
    const statements = new StatementCache();
    for (let i = 0; i < all.length; i += 40) await writeBatch(db, all.slice(i, i + 40), statements);
    const written = await rollupTables(db);
    expect(written.usage_daily.length).toBeGreaterThan(1);
    expect(written.usage_session_hourly.length).toBeGreaterThan(written.usage_hourly.length / 2);

    // The same database as it was before 0004: rows and hourly rollups only (and none of what 0005 added);
    // 0007 then keys the session hours by client, as a database made then met it.
    await db.schema.dropTable('usage_daily').execute();
    await db.schema.dropTable('usage_session_hourly').execute();
    await db.schema.alterTable('usage_requests').dropColumn('usage_source').execute();
    await db.schema.alterTable('usage_hourly').dropColumn('estimated_requests').execute();
    await sql`delete from kysely_migration where name in ('0004_daily_session_rollups', '0005_usage_source', '0007_session_rollups_by_client')`.execute(db);
    await migrate(storeMigrations('sqlite'));
    expect(await rollupTables(db)).toEqual(written);
  });
});

describe(writeIsolating.name, () => {
  let dir: string;
  let db: Kysely<StoreSchema>;
  const statements = new StatementCache();
  const clean = (q: QueuedRow): QueuedRow => {
    const record = cleanRecord(q.record);
    return { row: rowOf(record, q.row.instance, q.row.row_key), record };
  };
  const stored = async (): Promise<string[]> => (await db.selectFrom('usage_requests').select('request_id').orderBy('id').execute()).map((r) => r.request_id);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vdm-isolate-'));
    db = new Kysely<StoreSchema>({ dialect: new SqliteWorkerDialect(join(dir, 'usage.db')) });
    const { error } = await new Migrator({ db, provider: storeMigrations('sqlite') }).migrateToLatest();
    expect(error).toBeUndefined();
    // A row the database refuses however it is cleaned.
    await sql`create trigger cursed before insert on usage_requests when new.request_id like 'cursed%' begin select raise(abort, 'cursed row'); end`.execute(db);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const batchOf = (n: number): QueuedRow[] =>
    Array.from({ length: n }, (_, i) => {
      const q = queued(i, `iso:${i}`);
      if (i === 5 || i === 30) return { ...q, row: { ...q.row, request_id: `cursed-${i}` }, record: { ...q.record, requestId: `cursed-${i}` } };
      if (i === 17) {
        const record = { ...q.record, inputTokens: NaN };
        return { row: rowOf(record, 'gw-w', q.row.row_key), record };
      }
      return q;
    });

  it('writes every other row, stores a refused row cleaned, and sets aside the one that cleaning cannot save', async () => {
    const batch = batchOf(40);
    const found: Isolation = { cleaned: [], quarantined: [] };
    const settled: QueuedRow[] = [];
    await writeIsolating(batch, (rows) => writeBatch(db, rows, statements), clean, (rows) => settled.push(...rows), found);
    expect(settled).toHaveLength(40);
    expect(new Set(settled).size).toBe(40);
    expect(found.cleaned.map((q) => q.record.requestId)).toEqual(['req-17']);
    expect(found.cleaned[0].row.input_tokens).toBe(0);
    expect(found.quarantined.map((q) => [q.queued.record.requestId, q.reason])).toEqual([
      ['cursed-5', 'cursed row'],
      ['cursed-30', 'cursed row'],
    ]);
    const ids = await stored();
    expect(ids).toHaveLength(38);
    expect(ids.filter((id) => id.startsWith('cursed'))).toEqual([]);
    const s = await sums(db);
    expect(s.rollups).toEqual(s.rows);
  });

  it('throws an error that is not about the data, having settled only the rows it wrote', async () => {
    const batch = batchOf(40);
    const found: Isolation = { cleaned: [], quarantined: [] };
    const settled = new Set<QueuedRow>();
    let calls = 0;
    const write = async (rows: readonly QueuedRow[]): Promise<number> => {
      // The connection goes once isolation has written some rows.
      if (++calls === 8) throw new Error('Connection terminated unexpectedly');
      return writeBatch(db, rows, statements);
    };
    await expect(writeIsolating(batch, write, clean, (rows) => rows.forEach((q) => settled.add(q)), found)).rejects.toThrow('Connection terminated');
    expect(settled.size).toBeGreaterThan(0);
    expect(settled.size).toBeLessThan(40);
    const written = new Set(await stored());
    for (const q of batch) if (!q.record.requestId.startsWith('cursed')) expect(written.has(q.record.requestId), q.record.requestId).toBe(settled.has(q));

    // The rest written again: every row once.
    await writeIsolating(batch.filter((q) => !settled.has(q)), (rows) => writeBatch(db, rows, statements), clean, () => undefined, found);
    expect(await stored()).toHaveLength(38);
  });
});

describe(isDataError.name, () => {
  it.each([
    ['22021', true],
    ['22P02', true],
    ['23502', true],
    ['54000', true],
    ['08006', false],
    ['57P01', false],
    ['28P01', false],
    ['SQLITE_CONSTRAINT_NOTNULL', true],
    ['SQLITE_TOOBIG', true],
    ['SQLITE_FULL', false],
    ['SQLITE_IOERR_WRITE', false],
    ['SQLITE_BUSY', false],
    [undefined, false],
  ])('code %s is a data error: %s', (code, expected) => {
    expect(isDataError(Object.assign(new Error('x'), { code }))).toBe(expected);
  });
});

describe(cleanRecord.name, () => {
  it('removes control characters, cuts long text without halving a surrogate pair, and makes numbers finite', () => {
    const r = cleanRecord(makeRecord({ resolvedModel: `a\u0000b\u001bc\u009f`, user: `${'x'.repeat(255)}😀`, error: 'e'.repeat(5000), inputTokens: NaN, costNano: Infinity, ttftMs: NaN }));
    expect(r.resolvedModel).toBe('abc');
    expect(r.user).toBe('x'.repeat(255));
    expect(r.error).toHaveLength(1024);
    expect(r.inputTokens).toBe(0);
    expect(r.costNano).toBeNull();
    expect(r.ttftMs).toBeUndefined();
  });
});
