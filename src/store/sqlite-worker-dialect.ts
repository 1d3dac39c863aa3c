import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import { sqliteWorker, type WorkerData, type WorkerReply, type WorkerRequest, type WorkerResult } from './sqlite-worker';

/** An error the SQLite worker reported (better-sqlite3's code kept, `SQLITE_FULL` say), or its end. */
export class SqliteWorkerError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SqliteWorkerError';
  }
}

/** A request before it is numbered (each member of the union without its id). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = Unnumbered<WorkerRequest>;

/** One worker thread and the better-sqlite3 connection it owns; every statement is a message to it. */
class WorkerConnection implements DatabaseConnection {
  private readonly pending = new Map<number, { resolve(result: WorkerResult): void; reject(error: Error): void }>();
  private seq = 0;
  private failure?: Error;

  constructor(
    readonly worker: Worker,
    private readonly budgetMs?: number,
  ) {
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(new SqliteWorkerError(`SQLite worker failed: ${error.message}`)));
    worker.on('exit', (code) => this.fail(new SqliteWorkerError(`SQLite worker stopped (exit code ${code})`)));
    // Held open only while a statement is running, so an idle store never keeps the process alive.
    worker.unref();
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  request(message: Request): Promise<WorkerResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.seq;
    return new Promise((resolvePromise, reject) => {
      try {
        this.worker.postMessage({ ...message, id });
      } catch (error) {
        // A parameter that cannot be cloned (a function, say): this statement fails, the worker is fine.
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.pending.set(id, { resolve: resolvePromise, reject });
      if (this.pending.size === 1) this.worker.ref();
    });
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = this.request({ op: 'query', sql: compiled.sql, parameters: compiled.parameters });
    if (this.budgetMs === undefined) return (await result) as QueryResult<R>;
    // better-sqlite3 cannot interrupt a statement: past its budget the statement fails here and its worker
    // is ended (it stops once SQLite returns); the next statement starts a new worker.
    const timer = setTimeout(() => {
      this.fail(new SqliteWorkerError(`the query ran past its time limit of ${this.budgetMs! / 1000} s`, 'VDM_QUERY_TIMEOUT'));
      void this.worker.terminate();
    }, this.budgetMs);
    try {
      return (await result) as QueryResult<R>;
    } finally {
      clearTimeout(timer);
    }
  }

  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite worker driver does not stream; use execute()');
  }

  private settle(reply: WorkerReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in reply) waiter.reject(new SqliteWorkerError(reply.error.message, reply.error.code));
    else waiter.resolve(reply.result);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }
}

/** One connection at a time, as SQLite has (Kysely's own SQLite driver does the same). */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async lock(): Promise<() => void> {
    let unlock!: () => void;
    const previous = this.tail;
    this.tail = new Promise((r) => (unlock = r));
    await previous;
    return unlock;
  }
}

/**
 * A Kysely driver whose statements run in a worker thread that owns the better-sqlite3 connection,
 * so no statement (a 200-row batch, a long history query) runs on the event loop. A worker that
 * dies fails its pending statements with a SqliteWorkerError, and the next statement starts a new one.
 */
export class SqliteWorkerDriver implements Driver {
  private readonly mutex = new Mutex();
  private unlock?: () => void;
  private connection?: WorkerConnection;
  private destroyed = false;

  constructor(
    private readonly path: string,
    private readonly options: SqliteWorkerOptions = {},
  ) {}

  async init(): Promise<void> {}

  /** The current worker (tests end it to see a crash handled). */
  get worker(): Worker | undefined {
    return this.connection?.worker;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const unlock = await this.mutex.lock();
    try {
      if (this.destroyed) throw new SqliteWorkerError('the SQLite store is closed');
      if (!this.connection?.alive) this.connection = await this.start();
    } catch (error) {
      unlock();
      throw error;
    }
    this.unlock = unlock;
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as WorkerConnection).request({ op: 'query', sql: 'begin', parameters: [] });
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as WorkerConnection).request({ op: 'query', sql: 'commit', parameters: [] });
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as WorkerConnection).request({ op: 'rollback' });
  }

  releaseConnection(): Promise<void> {
    const unlock = this.unlock;
    this.unlock = undefined;
    unlock?.();
    return Promise.resolve();
  }

  /** After the statements under way: closes the database (checkpointing the WAL), then ends the worker. */
  async destroy(): Promise<void> {
    const unlock = await this.mutex.lock();
    this.destroyed = true;
    const connection = this.connection;
    this.connection = undefined;
    try {
      if (connection?.alive) await connection.request({ op: 'close' }).catch(() => undefined);
      await connection?.worker.terminate();
    } finally {
      unlock();
    }
  }

  private async start(): Promise<WorkerConnection> {
    const workerData: WorkerData = { driver: createRequire(__filename).resolve('better-sqlite3') };
    const worker = new Worker(`(${String(sqliteWorker)})()`, { eval: true, workerData });
    const connection = new WorkerConnection(worker, this.options.budgetMs);
    try {
      await connection.request({ op: 'open', path: this.path, readonly: this.options.readonly });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    return connection;
  }
}

export interface SqliteWorkerOptions {
  /** A read-only connection (history queries): it takes no lock and never writes. */
  readonly?: boolean;
  /** Each statement's time limit in ms; past it the statement fails (`VDM_QUERY_TIMEOUT`) and the worker is ended. */
  budgetMs?: number;
}

/** SQLite through {@link SqliteWorkerDriver}: Kysely's own SQLite compiler, adapter and introspector. */
export class SqliteWorkerDialect implements Dialect {
  readonly driver: SqliteWorkerDriver;

  constructor(path: string, options: SqliteWorkerOptions = {}) {
    this.driver = new SqliteWorkerDriver(resolve(path), options);
  }

  createDriver(): Driver {
    return this.driver;
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
