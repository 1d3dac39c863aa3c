import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { StoreConfig } from '../config/app-config';
import type { StoreSchema } from './schema';

export interface OpenStore {
  db: Kysely<StoreSchema>;
  engine: 'sqlite' | 'postgres';
}

/** One query layer (Kysely) over both engines; the drivers load only when their engine is chosen. */
export async function openStore(config: StoreConfig, onPoolError: (error: Error) => void): Promise<OpenStore> {
  if (config.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const path = resolve(config.location);
    mkdirSync(dirname(path), { recursive: true });
    const database = new Database(path);
    // WAL: readers never wait for the writer; NORMAL sync is durable at each WAL checkpoint and crash-safe.
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('busy_timeout = 5000');
    return { db: new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database }) }), engine: 'sqlite' };
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
