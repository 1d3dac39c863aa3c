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
import { StatementCache, writeBatch, type QueuedRow } from './write-batch';

const SUMMED = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'tool_calls', 'cost_nano'] as const;

function queued(n: number, key: string): QueuedRow {
  const record = makeRecord({
    requestId: `req-${n}`,
    startTime: 1_795_000_000 + n * 600,
    endTime: 1_795_000_001 + n * 600,
    durationMs: 1000,
    provider: 'anthropic',
    openaiModel: n % 2 === 0 ? 'claude-sonnet-4-5' : 'claude-opus-4-1',
    inputTokens: 100 + n,
    outputTokens: 10 * n,
    cacheReadTokens: n,
    toolCallCount: n % 3,
    costNano: n % 4 === 0 ? null : 1_000_000 + n,
    ...(n % 5 === 0 ? { errorType: 'rate_limit' as const, error: 'slow down' } : {}),
  });
  return { row: rowOf(record, 'gw-w', key), record };
}

async function sums(db: Kysely<StoreSchema>): Promise<{ rows: Record<string, number>; rollups: Record<string, number> }> {
  const of = async (table: 'usage_requests' | 'usage_hourly', requests: string): Promise<Record<string, number>> => {
    const r = await sql<Record<string, unknown>>`select ${sql.raw(requests)} as requests, ${sql.raw(SUMMED.map((k) => `coalesce(sum(${k}), 0) as ${k}`).join(', '))} from ${sql.table(table)}`.execute(db);
    return Object.fromEntries(Object.entries(r.rows[0]).map(([k, v]) => [k, Number(v)]));
  };
  return { rows: await of('usage_requests', 'count(*)'), rollups: await of('usage_hourly', 'coalesce(sum(requests), 0)') };
}

describe(writeBatch.name, () => {
  let dir: string;
  let db: Kysely<StoreSchema>;
  const migrate = async (provider: MigrationProvider): Promise<void> => {
    const { error } = await new Migrator({ db, provider }).migrateToLatest();
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
    // A row as the first schema had it: no row key and no service tier.
    const { row_key: _key, service_tier: _tier, ...old } = queued(1, 'unused').row;
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
});
