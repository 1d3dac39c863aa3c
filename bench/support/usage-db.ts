/**
 * A SQLite usage store of many rows for the history bench: the real schema (the store's own
 * migrations), then rows spread evenly over 30 whole UTC days and their hourly rollups, written with
 * prepared statements in large transactions, with the daily and session-hour rollups of the same rows. Generation takes a while, so the file is kept in
 * node_modules/.cache/vdm-bench/usage-db/ (BENCH_STORE_CACHE_DIR), named by row count and a hash of
 * the schema: a changed migration makes a new file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { storeMigrations } from '../../src/store/migrations';
import { ROLLUP_SUMS } from '../../src/store/schema';
import { rng } from '../../test/soak/soak-engine';

/** Bumped whenever what the generator writes changes, so an old cached file is not reused. */
const GENERATOR_VERSION = 3;
const DAY_S = 86_400;
const HOUR_S = 3_600;
export const DAYS = 30;
export const INSTANCE = 'bench-gw';

/** Provider, model, price per million tokens (input, output, cache read, cache write; null: unpriced), weight. */
const MODELS: readonly [string, string, readonly [number, number, number, number] | null, number][] = [
  ['anthropic', 'claude-sonnet-4-5', [3, 15, 0.3, 3.75], 30],
  ['anthropic', 'claude-opus-4-1', [15, 75, 1.5, 18.75], 5],
  ['anthropic', 'claude-haiku-4-5', [1, 5, 0.1, 1.25], 12],
  ['openai', 'gpt-5', [1.25, 10, 0.125, 0], 14],
  ['openai', 'gpt-5-mini', [0.25, 2, 0.025, 0], 10],
  ['openai', 'gpt-4o', [2.5, 10, 1.25, 0], 6],
  ['openai', 'o3', [2, 8, 0.5, 0], 4],
  ['openrouter', 'qwen/qwen3-coder', [0.4, 1.6, 0, 0], 6],
  ['openrouter', 'moonshotai/kimi-k2', [0.6, 2.5, 0, 0], 4],
  ['openrouter', 'z-ai/glm-4.6', [0.5, 1.75, 0, 0], 4],
  ['openrouter', 'kwaipilot/kat-coder-pro:free', null, 3],
  ['ollama', 'llama3:8b', null, 2],
];
const CLIENTS = Array.from({ length: 20 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
const USERS = 500;
/** Distinct sessions a day: about 110 requests each at 10M rows a month. */
const SESSIONS_PER_DAY = 3_000;
const ERRORS: readonly [string, string][] = [
  ['rate_limit', 'Upstream 429: rate limit exceeded, retry after 20s'],
  ['upstream_http_error', 'Upstream 529: overloaded_error'],
  ['upstream_timeout', 'Upstream did not answer within 600 s'],
  ['client_disconnect', 'Client closed the connection before the answer ended'],
  ['bad_request', 'Upstream 400: invalid_request_error: max_tokens too large'],
  ['streaming_error', 'Malformed stream: truncated JSON in event data'],
];

export interface UsageDb {
  file: string;
  rows: number;
  rollups: number;
  dailyRollups: number;
  sessionRollups: number;
  /** Unix seconds, whole UTC days: rows start in [from, to). */
  from: number;
  to: number;
  instance: string;
  /** Rows (and distinct sessions) on the last day, [to - 1 day, to). */
  lastDay: { rows: number; sessions: number };
  /** Distinct (day, model) pairs over the 30 days. */
  dayModels: number;
  /** Seconds the generation took; undefined when the file came from the cache. */
  generatedS?: number;
  /** File size (WAL checkpointed into it) in bytes. */
  bytes: number;
}

function cacheDir(): string {
  return process.env.BENCH_STORE_CACHE_DIR ?? join(process.cwd(), 'node_modules', '.cache', 'vdm-bench', 'usage-db');
}

async function migrate(db: Database.Database): Promise<void> {
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
  const { error } = await new Migrator({ db: kysely, provider: storeMigrations('sqlite') }).migrateToLatest();
  if (error !== undefined) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
}

/** The schema the migrations make today, as a short hash. */
async function schemaHash(): Promise<string> {
  const db = new Database(':memory:');
  try {
    await migrate(db);
    const sql = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();
    return createHash('sha256').update(JSON.stringify({ sql, GENERATOR_VERSION })).digest('hex').slice(0, 12);
  } finally {
    db.close();
  }
}

interface Column {
  name: string;
  type: string;
  notnull: number;
  dflt_value: unknown;
}

/**
 * A prepared insert into `table` of the columns this generator knows, plus any column a later
 * migration added that needs a value (NOT NULL, no default): 0, or for text a per-row value, so
 * that a unique key (an idempotency key, say) holds. Its `fill` adds those to a row.
 */
function inserter(db: Database.Database, table: string, known: ReadonlySet<string>): { statement: Database.Statement; fill: (row: Record<string, unknown>, i: number) => void } {
  const all = db.prepare(`PRAGMA table_info(${table})`).all() as Column[];
  const needed = all.filter((c) => !known.has(c.name) && c.notnull === 1 && c.dflt_value === null && !(c.name === 'id' && table === 'usage_requests'));
  const names = [...all.filter((c) => known.has(c.name)).map((c) => c.name), ...needed.map((c) => c.name)];
  const statement = db.prepare(`INSERT INTO ${table} (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map((n) => `@${n}`).join(', ')})`);
  const fill = (row: Record<string, unknown>, i: number): void => {
    for (const c of needed) row[c.name] = /INT|REAL|DOUB|NUM/i.test(c.type) ? 0 : `bench-${table}-${i}`;
  };
  return { statement, fill };
}

type Rollup = Record<string, number | string>;

/** The cached database of `rows` rows, generated first when there is none. */
export async function usageDb(rows: number, log: (line: string) => void): Promise<UsageDb> {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const name = `usage-${rows}-${await schemaHash()}`;
  const base = join(dir, name);
  const file = `${base}.db`;
  const meta = `${base}.json`;
  if (existsSync(file) && existsSync(meta)) {
    const cached = JSON.parse(readFileSync(meta, 'utf8')) as UsageDb;
    return { ...cached, file, generatedS: undefined, bytes: statSync(file).size };
  }
  // Files of an older schema or generator are gigabytes nobody will read again.
  for (const old of readdirSync(dir)) if (old.startsWith(`usage-${rows}-`) && !old.startsWith(name)) rmSync(join(dir, old), { force: true });
  log(`  generating ${rows.toLocaleString('en')} rows into ${file} (kept for later runs) ...`);
  const started = performance.now();
  const tmp = `${base}.tmp`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const db = new Database(tmp);
  db.pragma('journal_mode = WAL');
  await migrate(db);
  // Bulk load: nothing to protect until the file is renamed into place.
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const KNOWN_ROW = new Set([
    'instance', 'request_id', 'start_time', 'end_time', 'duration_ms', 'provider', 'model', 'requested_model', 'api', 'client', 'user', 'session',
    'is_streaming', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'reasoning_tokens', 'tool_uses', 'tool_results',
    'tool_calls', 'message_count', 'request_size', 'response_size', 'ttft_ms', 'upstream_ms', 'cost_nano', 'error_type', 'error',
  ]);
  const KNOWN_ROLLUP = new Set(['hour', 'instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type', 'last_start', ...ROLLUP_SUMS]);
  const rowInsert = inserter(db, 'usage_requests', KNOWN_ROW);
  const rollupInsert = inserter(db, 'usage_hourly', KNOWN_ROLLUP);
  const dailyInsert = inserter(db, 'usage_daily', new Set([...KNOWN_ROLLUP, 'day']));
  const sessionInsert = inserter(db, 'usage_session_hourly', new Set(['hour', 'instance', 'client', 'session', 'last_start', ...ROLLUP_SUMS]));

  const to = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S;
  const from = to - DAYS * DAY_S;
  const random = rng(20261201);
  const weights = MODELS.reduce((s, m) => s + m[3], 0);
  const pickModel = (): (typeof MODELS)[number] => {
    let x = random() * weights;
    for (const m of MODELS) if ((x -= m[3]) < 0) return m;
    return MODELS[0];
  };
  const step = (to - from) / rows;
  let hour = -1;
  let rollupDay = -1;
  let sessionDay = -1;
  let sessions: string[] = [];
  let rollups = new Map<string, Rollup>();
  let rollupCount = 0;
  let daily = new Map<string, Rollup>();
  let dailyCount = 0;
  let sessionRollups = new Map<string, Rollup>();
  let sessionCount = 0;
  const lastDaySessions = new Set<string>();
  let lastDayRows = 0;
  const dayModels = new Set<string>();
  const flushRollups = (): void => {
    for (const r of rollups.values()) {
      rollupInsert.fill(r, rollupCount);
      rollupInsert.statement.run(r);
      rollupCount++;
    }
    rollups = new Map();
    for (const r of sessionRollups.values()) {
      sessionInsert.fill(r, sessionCount);
      sessionInsert.statement.run(r);
      sessionCount++;
    }
    sessionRollups = new Map();
  };
  const flushDaily = (): void => {
    for (const r of daily.values()) {
      dailyInsert.fill(r, dailyCount);
      dailyInsert.statement.run(r);
      dailyCount++;
    }
    daily = new Map();
  };
  const BATCH = 100_000;
  const insertBatch = db.transaction((first: number, last: number) => {
    for (let i = first; i < last; i++) {
      const start = from + (i + random()) * step;
      const h = Math.floor(start / HOUR_S) * HOUR_S;
      if (h !== hour) {
        flushRollups();
        hour = h;
      }
      const d = Math.floor(start / DAY_S) * DAY_S;
      if (d !== rollupDay) {
        flushDaily();
        rollupDay = d;
      }
      const [provider, model, price] = pickModel();
      const api = provider === 'anthropic' ? 'anthropic_messages' : provider === 'openai' && random() < 0.4 ? 'openai_responses' : 'openai_chat';
      const client = CLIENTS[Math.floor(random() ** 2 * CLIENTS.length)];
      const day = Math.floor(start / DAY_S);
      const user = `user-${Math.floor(random() ** 1.5 * USERS)}`;
      if (day !== sessionDay) {
        sessionDay = day;
        sessions = Array.from({ length: SESSIONS_PER_DAY }, () => randomUUID());
      }
      const session = sessions[Math.floor(random() * SESSIONS_PER_DAY)];
      const streaming = random() < 0.7 ? 1 : 0;
      const failed = random() < 0.03 ? ERRORS[Math.floor(random() * ERRORS.length)] : undefined;
      const cut = failed !== undefined && failed[0] !== 'client_disconnect' && failed[0] !== 'streaming_error';
      const input = cut ? 0 : 100 + Math.floor(random() * 20_000);
      const output = cut ? 0 : 10 + Math.floor(random() * 2_000);
      const cacheRead = cut || random() < 0.5 ? 0 : Math.floor(random() * 50_000);
      const cacheCreation = cut || provider !== 'anthropic' || random() < 0.7 ? 0 : Math.floor(random() * 5_000);
      const reasoning = model === 'o3' || model.startsWith('gpt-5') ? Math.floor(output * random()) : 0;
      const toolUses = random() < 0.4 ? 1 + Math.floor(random() * 3) : 0;
      const durationMs = 200 + random() * 30_000;
      const upstreamMs = durationMs - 0.5 - random() * 2;
      const ttftMs = streaming && !cut ? 150 + random() * 2_000 : null;
      const costNano = price === null ? null : Math.round(input * price[0] * 1e3 + output * price[1] * 1e3 + cacheRead * price[2] * 1e3 + cacheCreation * price[3] * 1e3);
      const row: Record<string, unknown> = {
        instance: INSTANCE,
        request_id: randomUUID(),
        start_time: start,
        end_time: start + durationMs / 1000,
        duration_ms: durationMs,
        provider,
        model,
        requested_model: model,
        api,
        client,
        user,
        session,
        is_streaming: streaming,
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cacheRead,
        cache_creation_tokens: cacheCreation,
        reasoning_tokens: reasoning,
        tool_uses: toolUses,
        tool_results: toolUses > 0 ? toolUses - 1 : 0,
        tool_calls: toolUses,
        message_count: 1 + Math.floor(random() * 40),
        request_size: 500 + Math.floor(random() * 200_000),
        response_size: cut ? 200 : 300 + Math.floor(random() * 20_000),
        ttft_ms: ttftMs,
        upstream_ms: upstreamMs,
        cost_nano: costNano,
        error_type: failed?.[0] ?? null,
        error: failed?.[1] ?? null,
      };
      rowInsert.fill(row, i);
      rowInsert.statement.run(row);
      if (start >= to - DAY_S) {
        lastDayRows++;
        lastDaySessions.add(session);
      }
      dayModels.add(`${day}/${model}`);

      const errorType = failed?.[0] ?? '';
      const key = `${provider}\u0000${model}\u0000${client}\u0000${api}\u0000${streaming}\u0000${errorType}`;
      const entry = (map: Map<string, Rollup>, id: string, keys: Rollup): Rollup => {
        let r = map.get(id);
        if (!r) {
          r = { ...keys, last_start: start };
          for (const k of ROLLUP_SUMS) r[k] = 0;
          map.set(id, r);
        }
        return r;
      };
      const targets = [
        entry(rollups, key, { hour: h, instance: INSTANCE, provider, model, client, api, streaming, error_type: errorType }),
        entry(daily, key, { day: d, instance: INSTANCE, provider, model, client, api, streaming, error_type: errorType }),
        entry(sessionRollups, `${client}\u0000${session}`, { hour: h, instance: INSTANCE, client, session }),
      ];
      for (const r of targets) {
        const add = (k: (typeof ROLLUP_SUMS)[number], v: number): void => void (r[k] = (r[k] as number) + v);
        add('requests', 1);
        add('errors', failed ? 1 : 0);
        add('input_tokens', input);
        add('output_tokens', output);
        add('cache_read_tokens', cacheRead);
        add('cache_creation_tokens', cacheCreation);
        add('reasoning_tokens', reasoning);
        add('tool_uses', toolUses);
        add('tool_results', row.tool_results as number);
        add('tool_calls', toolUses);
        add('completed', 1);
        add('total_duration_ms', Math.round(durationMs));
        if (ttftMs !== null) {
          add('ttft_count', 1);
          add('total_ttft_ms', ttftMs);
        }
        add('overhead_count', 1);
        add('total_overhead_ms', Math.max(0, durationMs - upstreamMs));
        if (costNano === null) add('unpriced_requests', 1);
        else add('cost_nano', costNano);
        r.last_start = start;
      }
    }
  });
  for (let first = 0; first < rows; first += BATCH) {
    insertBatch(first, Math.min(rows, first + BATCH));
    if (first % 1_000_000 === 0 && first > 0) log(`    ${(first / 1e6).toFixed(0)}M rows, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  db.transaction(() => {
    flushRollups();
    flushDaily();
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  renameSync(tmp, file);
  const generatedS = (performance.now() - started) / 1000;
  const result: UsageDb = { file, rows, rollups: rollupCount, dailyRollups: dailyCount, sessionRollups: sessionCount, from, to, instance: INSTANCE, lastDay: { rows: lastDayRows, sessions: lastDaySessions.size }, dayModels: dayModels.size, generatedS, bytes: statSync(file).size };
  writeFileSync(meta, `${JSON.stringify(result, null, 2)}\n`);
  log(`  generated in ${generatedS.toFixed(0)} s: ${rollupCount.toLocaleString('en')} hourly, ${dailyCount.toLocaleString('en')} daily, ${sessionCount.toLocaleString('en')} session-hour rollups, ${(result.bytes / 2 ** 20).toFixed(0)} MB`);
  return result;
}
