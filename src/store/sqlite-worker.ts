/** What the main thread asks the SQLite worker: open the file, run one statement, roll back, close. */
export type WorkerRequest =
  | { id: number; op: 'open'; path: string; readonly?: boolean }
  | { id: number; op: 'query'; sql: string; parameters: readonly unknown[] }
  | { id: number; op: 'rollback' }
  | { id: number; op: 'close' };

export interface WorkerResult {
  rows: unknown[];
  numAffectedRows?: bigint;
  insertId?: bigint;
}

export type WorkerReply = { id: number; result: WorkerResult } | { id: number; error: { message: string; code?: string } };

/** Given to the worker at start: where better-sqlite3 is, as the main thread resolved it. */
export interface WorkerData {
  driver: string;
}

/**
 * The worker thread's program: it owns the better-sqlite3 connection and answers one request at a
 * time. It is started from its own source text (`new Worker(String(sqliteWorker), { eval: true })`),
 * so the same code runs from the TypeScript sources under vitest, from dist/ and from any compiled
 * copy, with no file to locate; it may therefore use nothing from module scope but types, and
 * loads what it needs with require.
 */
export function sqliteWorker(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const threads = require('node:worker_threads') as typeof import('node:worker_threads');
  const fs = require('node:fs') as typeof import('node:fs');
  const path = require('node:path') as typeof import('node:path');
  const Database = require((threads.workerData as WorkerData).driver) as typeof import('better-sqlite3');
  /* eslint-enable @typescript-eslint/no-require-imports */
  // Distinct statements kept prepared: the store runs a handful, history queries a few dozen shapes.
  const maxPrepared = 256;
  let db: import('better-sqlite3').Database | undefined;
  const prepared = new Map<string, import('better-sqlite3').Statement>();

  /** The file opened, as the filesystem knew it then: a file deleted or replaced since is no longer where rows go. */
  let opened: { file: string; dev: number; ino: number } | undefined;
  const fail = (message: string, code: string): Error => Object.assign(new Error(message), { code });

  /** The lock held on `<file>-lock` while the store is open (see open). */
  let lock: import('better-sqlite3').Database | undefined;

  /**
   * A SQLite store is one process's store. SQLite itself locks `<file>-lock` (EXCLUSIVE locking mode,
   * held from the first transaction until the connection closes), so a second gateway on the same
   * file, in another process or this one, fails here at once; the OS drops the lock when the process
   * ends, kill -9 included, so no stale lock survives. The database keeps ordinary WAL locking, so
   * read-only connections (history queries, backups, sqlite3) still read it.
   */
  const takeLock = (file: string): import('better-sqlite3').Database => {
    const held = new Database(`${file}-lock`, { timeout: 1000 });
    try {
      held.pragma('locking_mode = EXCLUSIVE');
      held.pragma('journal_mode = MEMORY');
      held.exec('begin exclusive');
      held.exec('commit');
      return held;
    } catch (error) {
      held.close();
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw fail(
          `${file} is in use by another process: a SQLite usage store belongs to one gateway process. Give each gateway its own file, or share one PostgreSQL database across a fleet (VDM_STORE=postgres://...)`,
          'VDM_STORE_IN_USE',
        );
      }
      throw error;
    }
  };

  /** The WAL index file is memory-mapped: one that cannot be written would stop the process (SIGBUS) at its first use, so it is refused here. */
  const checkShm = (file: string): void => {
    const shm = `${file}-shm`;
    if (!fs.existsSync(shm)) return;
    try {
      if (!fs.statSync(shm).isFile()) throw new Error('not a file');
      fs.accessSync(shm, fs.constants.R_OK | fs.constants.W_OK);
    } catch (error) {
      throw fail(`${shm} cannot be written (${(error as Error).message}); the store stays off until it can`, 'VDM_STORE_SHM');
    }
  };

  const open = (file: string, readonly: boolean): void => {
    if (readonly) {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
      return;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const held = takeLock(file);
    let database: import('better-sqlite3').Database | undefined;
    try {
      checkShm(file);
      database = new Database(file);
      // WAL: readers never wait for the writer; NORMAL sync is durable at each WAL checkpoint and crash-safe.
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('busy_timeout = 5000');
      checkShm(file);
    } catch (error) {
      database?.close();
      held.close();
      throw error;
    }
    const st = fs.statSync(file);
    opened = { file, dev: st.dev, ino: st.ino };
    lock = held;
    db = database;
  };

  /** Before each write transaction: the file opened must still be the one at its path. */
  const checkFile = (): void => {
    if (!opened) return;
    let st: import('node:fs').Stats | undefined;
    try {
      st = fs.statSync(opened.file);
    } catch {
      st = undefined;
    }
    if (st?.ino !== opened.ino || st.dev !== opened.dev) {
      throw fail(
        `the database file ${opened.file} was deleted or replaced while the gateway ran; rows wait in the queue until the gateway is restarted, which creates it again`,
        'VDM_STORE_FILE_GONE',
      );
    }
  };

  const query = (sql: string, parameters: readonly unknown[]): WorkerResult => {
    if (!db) throw new Error('the SQLite database is not open');
    if (sql === 'begin') checkFile();
    let statement = prepared.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (prepared.size >= maxPrepared) prepared.clear();
      prepared.set(sql, statement);
    }
    if (statement.reader) return { rows: statement.all(parameters) };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  };

  const run = (request: WorkerRequest): WorkerResult => {
    switch (request.op) {
      case 'open':
        open(request.path, request.readonly === true);
        return { rows: [] };
      case 'query':
        return query(request.sql, request.parameters);
      case 'rollback':
        // SQLite may already have rolled back itself (SQLITE_FULL, SQLITE_IOERR): then there is nothing to undo.
        if (db?.inTransaction) db.exec('rollback');
        return { rows: [] };
      case 'close':
        prepared.clear();
        db?.close();
        db = undefined;
        opened = undefined;
        lock?.close();
        lock = undefined;
        return { rows: [] };
    }
  };

  const port = threads.parentPort;
  port?.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      reply = { id: request.id, result: run(request) };
    } catch (error) {
      const e = error as { message?: unknown; code?: unknown };
      reply = {
        id: request.id,
        error: { message: typeof e?.message === 'string' ? e.message : String(error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) },
      };
    }
    port.postMessage(reply);
  });
}
