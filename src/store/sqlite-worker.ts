/** What the main thread asks the SQLite worker: open the file, run one statement, roll back, close. */
export type WorkerRequest =
  | { id: number; op: 'open'; path: string }
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

  const open = (file: string): void => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const database = new Database(file);
    try {
      // WAL: readers never wait for the writer; NORMAL sync is durable at each WAL checkpoint and crash-safe.
      database.pragma('journal_mode = WAL');
      database.pragma('synchronous = NORMAL');
      database.pragma('busy_timeout = 5000');
    } catch (error) {
      database.close();
      throw error;
    }
    db = database;
  };

  const query = (sql: string, parameters: readonly unknown[]): WorkerResult => {
    if (!db) throw new Error('the SQLite database is not open');
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
        open(request.path);
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
