import { sql, type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * The summed columns of the rollup tables as migration 0004 created them. A migration does what it
 * did when it was written: sums added later come with their own migration.
 */
const ROLLUP_SUMS_0004 = [
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
] as const;

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
    '0004_daily_session_rollups': {
      async up(db: Kysely<unknown>): Promise<void> {
        const num = 'double precision';
        const sums = (t: CreateTableBuilder<string, string>): CreateTableBuilder<string, string> => {
          for (const column of [...ROLLUP_SUMS_0004, 'last_start']) t = t.addColumn(column, num, (c) => c.notNull().defaultTo(0));
          return t;
        };
        // SQLite stores these by their key (no rowid, no second copy of the key in an index): a range of days or hours is one contiguous read.
        const clustered = (t: CreateTableBuilder<string, string>): CreateTableBuilder<string, string> => (engine === 'sqlite' ? t.modifyEnd(sql`without rowid`) : t);
        let daily = db.schema.createTable('usage_daily').addColumn('day', num, (c) => c.notNull()).addColumn('instance', 'text', (c) => c.notNull());
        for (const column of ['provider', 'model', 'client', 'api']) daily = daily.addColumn(column, 'text', (c) => c.notNull());
        daily = daily.addColumn('streaming', 'integer', (c) => c.notNull()).addColumn('error_type', 'text', (c) => c.notNull());
        await clustered(sums(daily).addPrimaryKeyConstraint('usage_daily_pk', ['day', 'instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type'])).execute();
        const sessions = db.schema
          .createTable('usage_session_hourly')
          .addColumn('hour', num, (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('session', 'text', (c) => c.notNull());
        await clustered(sums(sessions).addPrimaryKeyConstraint('usage_session_hourly_pk', ['hour', 'instance', 'session'])).execute();

        // What is stored already: the days from the hourly rollups (they outlive the rows), the session hours from the rows still kept.
        const keys = ['instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type'];
        const summed = [...ROLLUP_SUMS_0004].map((k) => sql`sum(${sql.ref(k)})`);
        await sql`insert into usage_daily (day, ${sql.join(keys.map((k) => sql.ref(k)))}, ${sql.join([...ROLLUP_SUMS_0004, 'last_start'].map((k) => sql.ref(k)))})
          select floor(hour / 86400) * 86400, ${sql.join(keys.map((k) => sql.ref(k)))}, ${sql.join(summed)}, max(last_start)
          from usage_hourly group by floor(hour / 86400) * 86400, ${sql.join(keys.map((k) => sql.ref(k)))}`.execute(db);
        // The tracker's arithmetic (addRecord) in SQL: durations rounded, overhead never negative, unpriced rows counted.
        await sql`insert into usage_session_hourly (hour, instance, session, ${sql.join([...ROLLUP_SUMS_0004, 'last_start'].map((k) => sql.ref(k)))})
          select floor(start_time / 3600) * 3600, instance, coalesce(session, ''),
            count(*), sum(case when error_type is null then 0 else 1 end),
            sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_creation_tokens), sum(reasoning_tokens),
            sum(tool_uses), sum(tool_results), sum(tool_calls),
            count(*), sum(floor(duration_ms + 0.5)),
            count(ttft_ms), coalesce(sum(ttft_ms), 0),
            count(upstream_ms), coalesce(sum(case when upstream_ms is not null and duration_ms > upstream_ms then duration_ms - upstream_ms else 0 end), 0),
            coalesce(sum(cost_nano), 0), sum(case when cost_nano is null then 1 else 0 end),
            max(start_time)
          from usage_requests group by floor(start_time / 3600) * 3600, instance, coalesce(session, '')`.execute(db);
      },
    },
    '0005_usage_source': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Rows stored before it keep null: whether their counts were reported is not known.
        await db.schema.alterTable('usage_requests').addColumn('usage_source', 'text').execute();
        for (const table of ['usage_hourly', 'usage_daily', 'usage_session_hourly']) {
          await db.schema.alterTable(table).addColumn('estimated_requests', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
        }
      },
    },
    '0006_history_filter_indexes': {
      async up(db: Kysely<unknown>): Promise<void> {
        // The dashboard's and the history API's filters on the rows, over a time range: filters compare lower-cased names.
        await db.schema.createIndex('usage_requests_user').ifNotExists().on('usage_requests').expression(sql`lower("user"), start_time`).execute();
        await db.schema.createIndex('usage_requests_client').ifNotExists().on('usage_requests').expression(sql`lower(client), start_time`).execute();
        await db.schema.createIndex('usage_requests_model').ifNotExists().on('usage_requests').expression(sql`lower(model), start_time`).execute();
      },
    },
    '0007_session_rollups_by_client': {
      async up(db: Kysely<unknown>): Promise<void> {
        // A session belongs to its client: the session-hour rollups are keyed by client too. The table is built
        // again under its new key (neither engine changes a primary key in place), then takes the old one's name.
        const num = 'double precision';
        const sums = [...ROLLUP_SUMS_0004, 'estimated_requests', 'last_start'];
        let next = db.schema
          .createTable('usage_session_hourly_0007')
          .addColumn('hour', num, (c) => c.notNull())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('client', 'text', (c) => c.notNull())
          .addColumn('session', 'text', (c) => c.notNull());
        for (const column of sums) next = next.addColumn(column, num, (c) => c.notNull().defaultTo(0));
        next = next.addPrimaryKeyConstraint('usage_session_hourly_0007_pk', ['hour', 'instance', 'client', 'session']);
        await (engine === 'sqlite' ? next.modifyEnd(sql`without rowid`) : next).execute();

        // Each session hour is summed again from the rows, by client, where the rows still hold all of it; where
        // retention has deleted some or all of its rows, it keeps its stored sums, under client ''.
        const columns = sql.join(sums.map((k) => sql.ref(k)));
        // The tracker's arithmetic (addRecord) in SQL, as migration 0004 does it, and estimated_requests as 0005 keeps it.
        await sql`insert into usage_session_hourly_0007 (hour, instance, client, session, ${columns})
          select floor(start_time / 3600) * 3600, instance, coalesce(client, ''), coalesce(session, ''),
            count(*), sum(case when error_type is null then 0 else 1 end),
            sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_creation_tokens), sum(reasoning_tokens),
            sum(tool_uses), sum(tool_results), sum(tool_calls),
            count(*), sum(floor(duration_ms + 0.5)),
            count(ttft_ms), coalesce(sum(ttft_ms), 0),
            count(upstream_ms), coalesce(sum(case when upstream_ms is not null and duration_ms > upstream_ms then duration_ms - upstream_ms else 0 end), 0),
            coalesce(sum(cost_nano), 0), sum(case when cost_nano is null then 1 else 0 end),
            sum(case when usage_source in ('estimated', 'partial') then 1 else 0 end),
            max(start_time)
          from usage_requests
          group by floor(start_time / 3600) * 3600, instance, coalesce(client, ''), coalesce(session, '')`.execute(db);
        await sql`delete from usage_session_hourly_0007 where exists (
            select 1 from usage_session_hourly o
            where o.hour = usage_session_hourly_0007.hour and o.instance = usage_session_hourly_0007.instance and o.session = usage_session_hourly_0007.session
              and o.requests <> (select sum(n.requests) from usage_session_hourly_0007 n where n.hour = o.hour and n.instance = o.instance and n.session = o.session))`.execute(db);
        await sql`insert into usage_session_hourly_0007 (hour, instance, client, session, ${columns})
          select hour, instance, '', session, ${columns} from usage_session_hourly o
          where not exists (select 1 from usage_session_hourly_0007 n where n.hour = o.hour and n.instance = o.instance and n.session = o.session)`.execute(db);
        await db.schema.dropTable('usage_session_hourly').execute();
        await db.schema.alterTable('usage_session_hourly_0007').renameTo('usage_session_hourly').execute();
      },
    },
    '0008_reconciliation': {
      async up(db: Kysely<unknown>): Promise<void> {
        const num = 'double precision';
        // The providers' own reports, per provider, UTC day (Unix seconds of its midnight) and model as the provider names it
        // ('' for a cost the report does not attribute to a model). Token columns follow the contract's split: input excludes
        // cache reads and writes; cache_write_tokens is every cache write, cache_write_1h_tokens the 1-hour part of it.
        // requests and cost_nano are null where the report does not have them.
        let days = db.schema
          .createTable('reconciliation_days')
          .addColumn('provider', 'text', (c) => c.notNull())
          .addColumn('day', num, (c) => c.notNull())
          .addColumn('model', 'text', (c) => c.notNull())
          .addColumn('requests', num);
        for (const column of ['input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'output_tokens']) {
          days = days.addColumn(column, num, (c) => c.notNull().defaultTo(0));
        }
        days = days.addColumn('cost_nano', num).addColumn('fetched_at', num, (c) => c.notNull()).addPrimaryKeyConstraint('reconciliation_days_pk', ['provider', 'day', 'model']);
        await (engine === 'sqlite' ? days.modifyEnd(sql`without rowid`) : days).execute();
        // One row per provider: the days its last complete pull covered, and when it ended.
        await db.schema
          .createTable('reconciliation_pulls')
          .addColumn('provider', 'text', (c) => c.primaryKey())
          .addColumn('from_day', num, (c) => c.notNull())
          .addColumn('to_day', num, (c) => c.notNull())
          .addColumn('fetched_at', num, (c) => c.notNull())
          .execute();
      },
    },
    '0009_budget_ledger': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Budget and rate-limit counters shared by the replicas of a fleet; with SQLite they live in memory.
        if (engine !== 'postgres') return;
        // One row per counter and window (window_start, epoch ms; 0 for concurrency). A low fill factor keeps
        // the constant updates of a hot row on its page (HOT updates: no index entry per update).
        await sql`create table budget_counters (
            counter text not null,
            window_start bigint not null,
            kind text not null,
            window_end bigint not null,
            limit_amount bigint not null,
            spent bigint not null default 0,
            reserved bigint not null default 0,
            requests bigint not null default 0,
            refused bigint not null default 0,
            overshoot bigint not null default 0,
            primary key (counter, window_start)
          ) with (fillfactor = 50)`.execute(db);
        // One row per reservation and counter; a lapsed lease marks it expired (no longer reserved) until it is purged.
        await sql`create table budget_reservations (
            id text not null,
            counter text not null,
            window_start bigint not null,
            amount bigint not null,
            expires_at bigint not null,
            expired boolean not null default false,
            request_id text,
            primary key (id, counter, window_start)
          )`.execute(db);
        await sql`create index budget_reservations_lease on budget_reservations (counter, window_start, expires_at) where not expired`.execute(db);
        await sql`create index budget_reservations_expires on budget_reservations (expires_at)`.execute(db);
      },
    },
  };
  return { getMigrations: () => Promise.resolve(migrations) };
}
