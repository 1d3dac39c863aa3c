import { Kysely, PostgresDialect } from 'kysely';
import type { StoreConfig } from '../config/app-config';
import type { StoreSchema } from './schema';
import { SqliteWorkerDialect } from './sqlite-worker-dialect';

export interface OpenStore {
  db: Kysely<StoreSchema>;
  engine: 'sqlite' | 'postgres';
}

/**
 * One query layer (Kysely) over both engines; the drivers load only when their engine is chosen.
 * SQLite runs in a worker thread (better-sqlite3 is synchronous), PostgreSQL through pg's pool.
 */
export async function openStore(config: StoreConfig, onPoolError: (error: Error) => void): Promise<OpenStore> {
  if (config.kind === 'sqlite') {
    return { db: new Kysely<StoreSchema>({ dialect: new SqliteWorkerDialect(config.location) }), engine: 'sqlite' };
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
  return { db: new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) }), engine: 'postgres' };
}
