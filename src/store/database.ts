import { Kysely, PostgresDialect } from 'kysely';
import type { StoreConfig } from '../config/app-config';
import type { StoreSchema } from './schema';
import { SqliteWorkerDialect } from './sqlite-worker-dialect';

export interface OpenStore {
  db: Kysely<StoreSchema>;
  /** History queries: a connection of their own, so a long read never holds up the writes, and a time limit per statement. */
  reads: Kysely<StoreSchema>;
  engine: 'sqlite' | 'postgres';
}

/** The time limit of one history statement. */
export const HISTORY_QUERY_LIMIT_MS = 15_000;

/**
 * One query layer (Kysely) over both engines; the drivers load only when their engine is chosen.
 * SQLite runs in a worker thread (better-sqlite3 is synchronous), PostgreSQL through pg's pool.
 */
export async function openStore(config: StoreConfig, onPoolError: (error: Error) => void, queryLimitMs = HISTORY_QUERY_LIMIT_MS): Promise<OpenStore> {
  if (config.kind === 'sqlite') {
    return {
      db: new Kysely<StoreSchema>({ dialect: new SqliteWorkerDialect(config.location) }),
      // WAL: a read-only connection reads while the writer writes, in its own worker thread.
      reads: new Kysely<StoreSchema>({ dialect: new SqliteWorkerDialect(config.location, { readonly: true, budgetMs: queryLimitMs }) }),
      engine: 'sqlite',
    };
  }
  const { Pool } = await import('pg');
  const pool = new Pool({ connectionString: config.location, max: 4, connectionTimeoutMillis: 5000 });
  // An idle client losing its server emits here; unhandled, it would end the process.
  pool.on('error', onPoolError);
  // A client in use when its server goes away (a restart mid-write) emits on itself, not on the pool:
  // the failed query rejects and the rows stay queued, so the event only needs a listener.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  // History queries get a pool of their own, each statement cut by the server at statement_timeout (SQLSTATE 57014).
  const reads = new Pool({ connectionString: config.location, max: 2, connectionTimeoutMillis: 5000, statement_timeout: queryLimitMs });
  reads.on('error', onPoolError);
  reads.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return { db: new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) }), reads: new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool: reads }) }), engine: 'postgres' };
}
