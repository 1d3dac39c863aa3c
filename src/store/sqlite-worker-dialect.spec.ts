import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteWorkerDialect, SqliteWorkerError } from './sqlite-worker-dialect';

interface Schema {
  t: { id: number; v: string };
}

/**
 * Resolves once the worker's event loop has stopped idling for a whole turn of this thread's: it has
 * taken a message and is inside it (here: a statement waiting on a lock). The worker's loop times are
 * read from this thread (libuv counts an idle wait as idle while it lasts). Ends early, with its
 * outcome, if `unless` settles first.
 */
async function workerBusy(worker: Worker, unless: Promise<unknown>): Promise<void> {
  let settled = false;
  const watched = unless.finally(() => (settled = true));
  while (!settled) {
    const before = worker.performance.eventLoopUtilization();
    await setImmediate();
    if (worker.performance.eventLoopUtilization(before).idle === 0) return;
  }
  await watched;
}

describe(SqliteWorkerDialect.name, () => {
  let dir: string;
  let file: string;
  let dialect: SqliteWorkerDialect;
  let sut: Kysely<Schema>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vdm-sqlite-worker-'));
    file = join(dir, 'sub', 'w.db');
    dialect = new SqliteWorkerDialect(file);
    sut = new Kysely<Schema>({ dialect });
    await sut.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'text').execute();
  });
  afterEach(async () => {
    await sut.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the file (and its folder) in WAL mode, and runs Kysely queries and transactions', async () => {
    expect((await sql<{ journal_mode: string }>`pragma journal_mode`.execute(sut)).rows).toEqual([{ journal_mode: 'wal' }]);
    const insert = await sut.insertInto('t').values([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]).executeTakeFirst();
    expect(insert.numInsertedOrUpdatedRows).toBe(2n);
    await expect(
      sut.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 3, v: 'c' }).execute();
        await trx.insertInto('t').values({ id: 1, v: 'duplicate' }).execute();
      }),
    ).rejects.toMatchObject({ name: 'SqliteWorkerError', code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    // The failed transaction was rolled back whole; RETURNING comes back as rows.
    expect(await sut.selectFrom('t').select('v').orderBy('id').execute()).toEqual([{ v: 'a' }, { v: 'b' }]);
    expect(await sut.updateTable('t').set({ v: 'z' }).where('id', '=', 2).returning(['id', 'v']).execute()).toEqual([{ id: 2, v: 'z' }]);
  });

  it('runs statements off the event loop: one waiting on a lock lets this thread release it', async () => {
    // A second connection, on this thread, holds the write lock. A driver on this thread would wait
    // out its busy timeout (5 s) inside the statement and fail with SQLITE_BUSY, as this thread could
    // never reach the commit below.
    const holder = new Database(file);
    holder.exec('begin immediate');
    const worker = dialect.driver.worker!;
    const events: string[] = [];
    const insert = sut
      .insertInto('t')
      .values({ id: 7, v: 'waited' })
      .execute()
      .then(() => events.push('inserted'));
    await workerBusy(worker, insert);
    events.push('committed');
    holder.exec('commit');
    holder.close();
    await insert;
    expect(events).toEqual(['committed', 'inserted']);
    expect(await sut.selectFrom('t').select('v').execute()).toEqual([{ v: 'waited' }]);
  });

  it('is one process\'s store: a second store on the same file fails at once, and opens once the first has closed', async () => {
    await sut.insertInto('t').values({ id: 1, v: 'mine' }).execute();
    const second = new Kysely<Schema>({ dialect: new SqliteWorkerDialect(file) });
    try {
      await expect(second.selectFrom('t').selectAll().execute()).rejects.toMatchObject({ code: 'VDM_STORE_IN_USE', message: expect.stringContaining('PostgreSQL') });
      // Read-only connections (backups, sqlite3, history queries) still read it.
      const reader = new Database(file, { readonly: true });
      expect(reader.prepare('select v from t').all()).toEqual([{ v: 'mine' }]);
      reader.close();
      await sut.destroy();
      expect(await second.selectFrom('t').select('v').execute()).toEqual([{ v: 'mine' }]);
    } finally {
      await second.destroy();
    }
  });

  it('fails a read-only statement that runs past its time limit, and answers the next one with a new worker', async () => {
    await sut.insertInto('t').values({ id: 1, v: 'kept' }).execute();
    const reads = new Kysely<Schema>({ dialect: new SqliteWorkerDialect(file, { readonly: true, budgetMs: 100 }) });
    try {
      // Some seconds of work: better-sqlite3 cannot interrupt it, so it fails here and its worker ends when SQLite returns.
      const slow = sql`with recursive c(x) as (select 1 union all select x + 1 from c where x < 20000000) select count(*) as n from c`.execute(reads);
      await expect(slow).rejects.toMatchObject({ code: 'VDM_QUERY_TIMEOUT', message: expect.stringContaining('time limit of 0.1 s') });
      expect(await reads.selectFrom('t').select('v').execute()).toEqual([{ v: 'kept' }]);
      await expect(reads.insertInto('t').values({ id: 2, v: 'no' }).execute()).rejects.toMatchObject({ code: 'SQLITE_READONLY' });
    } finally {
      await reads.destroy();
    }
  });

  it('fails the statements of a worker that ended with a store error, and starts a new worker for the next', async () => {
    await sut.insertInto('t').values({ id: 1, v: 'kept' }).execute();
    const first = dialect.driver.worker!;
    const pending = sut.selectFrom('t').selectAll().execute();
    await first.terminate();
    await expect(pending).rejects.toThrow(SqliteWorkerError);
    await expect(pending).rejects.toThrow(/SQLite worker stopped/);
    expect(await sut.selectFrom('t').select('v').execute()).toEqual([{ v: 'kept' }]);
    expect(dialect.driver.worker).not.toBe(first);
  });

  it('loses the open transaction of a worker that ended, and its lock with it', async () => {
    await expect(
      sut.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 5, v: 'uncommitted' }).execute();
        await dialect.driver.worker!.terminate();
        await trx.insertInto('t').values({ id: 6, v: 'never sent' }).execute();
      }),
    ).rejects.toThrow(/SQLite worker stopped/);
    // The new worker can write at once: the ended one's write lock went with its connection.
    await sut.insertInto('t').values({ id: 8, v: 'after' }).execute();
    expect(await sut.selectFrom('t').select('v').execute()).toEqual([{ v: 'after' }]);
  });

  it('reports a statement error and goes on working', async () => {
    await expect(sql`select * from missing`.execute(sut)).rejects.toMatchObject({ message: 'no such table: missing', code: 'SQLITE_ERROR' });
    expect(await sut.selectFrom('t').selectAll().execute()).toEqual([]);
  });

  it('fails every statement while its file cannot be created', async () => {
    const blocked = new Kysely<Schema>({ dialect: new SqliteWorkerDialect('/dev/null/x.db') });
    try {
      await expect(sql`select 1`.execute(blocked)).rejects.toThrow(/dev\/null/);
    } finally {
      await blocked.destroy();
    }
  });

  it('closes the database on destroy (the WAL checkpointed into the file) and ends the worker', async () => {
    await sut.insertInto('t').values({ id: 1, v: 'x' }).execute();
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    const worker = dialect.driver.worker!;
    const exited = new Promise<number>((r) => worker.once('exit', r));
    await sut.destroy();
    await exited;
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reader = new Database(file, { readonly: true });
    expect(reader.prepare('select v from t').all()).toEqual([{ v: 'x' }]);
    reader.close();
    await expect(sut.selectFrom('t').selectAll().execute()).rejects.toThrow(/destroyed/);
  });
});
