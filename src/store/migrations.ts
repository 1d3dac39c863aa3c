import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Versioned schema, applied in name order at start-up by Kysely's Migrator. */
export function storeMigrations(engine: 'sqlite' | 'postgres'): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_usage': {
      async up(db: Kysely<unknown>): Promise<void> {
        const num = 'double precision';
        let rows = db.schema
          .createTable('usage_requests')
          .ifNotExists()
          .addColumn('id', engine === 'sqlite' ? 'integer' : 'bigserial', (c) => (engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey()))
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('request_id', 'text', (c) => c.notNull())
          .addColumn('start_time', num, (c) => c.notNull())
          .addColumn('end_time', num, (c) => c.notNull())
          .addColumn('duration_ms', num, (c) => c.notNull());
        for (const column of ['provider', 'model', 'requested_model', 'api', 'client', 'user', 'session']) rows = rows.addColumn(column, 'text');
        rows = rows.addColumn('is_streaming', 'integer', (c) => c.notNull());
        for (const column of [
          'input_tokens',
          'output_tokens',
          'cache_read_tokens',
          'cache_creation_tokens',
          'reasoning_tokens',
          'tool_uses',
          'tool_results',
          'tool_calls',
          'message_count',
          'request_size',
          'response_size',
        ]) {
          rows = rows.addColumn(column, num, (c) => c.notNull().defaultTo(0));
        }
        await rows
          .addColumn('ttft_ms', num)
          .addColumn('upstream_ms', num)
          .addColumn('cost_nano', num)
          .addColumn('error_type', 'text')
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('usage_requests_start').ifNotExists().on('usage_requests').columns(['start_time', 'id']).execute();
        await db.schema.createIndex('usage_requests_instance').ifNotExists().on('usage_requests').columns(['instance', 'id']).execute();

        let hourly = db.schema
          .createTable('usage_hourly')
          .ifNotExists()
          .addColumn('hour', num, (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('provider', 'text', (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('client', 'text', (c) => c.notNull())
          .addColumn('api', 'text', (c) => c.notNull())
          .addColumn('streaming', 'integer', (c) => c.notNull())
          .addColumn('error_type', 'text', (c) => c.notNull());
        for (const column of [
          'requests',
          'errors',
          'input_tokens',
          'output_tokens',
          'cache_read_tokens',
          'cache_creation_tokens',
          'reasoning_tokens',
          'tool_uses',
          'tool_results',
          'tool_calls',
          'completed',
          'total_duration_ms',
          'ttft_count',
          'total_ttft_ms',
          'overhead_count',
          'total_overhead_ms',
          'cost_nano',
          'unpriced_requests',
          'last_start',
        ]) {
          hourly = hourly.addColumn(column, num, (c) => c.notNull().defaultTo(0));
        }
        await hourly
          .addPrimaryKeyConstraint('usage_hourly_pk', ['hour', 'instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type'])
          .execute();
      },
    },
    '0002_row_key': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Older rows keep a null key: a unique index allows any number of nulls on both engines.
        await db.schema.alterTable('usage_requests').addColumn('row_key', 'text').execute();
        await db.schema.createIndex('usage_requests_row_key').unique().on('usage_requests').column('row_key').execute();
      },
    },
    '0003_service_tier_session': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('usage_requests').addColumn('service_tier', 'text').execute();
        // A session's requests are looked up by name (filters compare lower-cased): without this, every row is read.
        await db.schema.createIndex('usage_requests_session').on('usage_requests').expression(sql`lower(session), id`).execute();
      },
    },
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}
