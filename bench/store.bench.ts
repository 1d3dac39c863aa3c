/**
 * 6. The usage store, measured through the gateway process and its HTTP API (so it holds whatever the
 * store does inside): (a) rows per second the store writes on SQLite and PostgreSQL, a queue of
 * requests drained by one flush; (b) the event-loop delay it causes at 1,000 and 2,000 requests/s,
 * paced, store on against off; (c) closed-loop throughput, store on against off, alternating; (d) `/metrics/usage`
 * over a generated history of 10M rows (1M in QUICK mode) on SQLite; (e) database size per million rows.
 * Gateways run pinned to CPU 0; this process, the lean upstream and PostgreSQL share CPU 1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { request } from 'undici';
import { postgresBinary, startPostgres, type PostgresServer } from '../test/support/postgres-server';
import { anthropicBody, load, paced } from './support/load';
import { probe } from './support/probe';
import { cpuUs, pinPid, spawnGateway, type Child } from './support/proc';
import { fmt, median, QUICK, sleep, table, verdict } from './support/stats';
import { DAYS, usageDb } from './support/usage-db';

type Variant = 'off' | 'sqlite' | 'postgres';
const LABEL: Record<Variant, string> = { off: 'store off', sqlite: 'SQLite', postgres: 'PostgreSQL' };
const WRITER_INSTANCE = 'bench-writes';
/** The gateway's queue must hold a whole fill: nothing may be dropped while it waits. */
const WRITE_QUEUE_MAX = '1000000';
/** A flush interval longer than the bench: the queue is written only when the bench asks. */
const NEVER_MS = '3600000';
/** The target's rate, and half of it: on a slow or shared machine 2,000/s saturates the gateway whatever the store does. */
const ELD_RATES = [1_000, 2_000];
const THROUGHPUT_TARGET = 0.97;
const USAGE_TARGET_MS = 200;

export interface WriteRound {
  rows: number;
  flushMs: number;
  rowsPerS: number;
  /** The gateway process's CPU (every thread) during the flush, per row written. */
  cpuUsPerRow: number;
}

export interface WriteResult {
  engine: Exclude<Variant, 'off'>;
  rounds: WriteRound[];
  rowsPerS: number;
  cpuUsPerRow: number;
  /** Rows stored by this gateway (warm-up included) and the space they take. */
  storedRows: number;
  size: StoreSize;
  /** Rows lost or duplicated between the requests sent and the rows stored (0 expected). */
  missing: number;
}

export interface EventLoopRow {
  variant: Variant;
  rate: number;
  round: number;
  rps: number;
  latencyP99Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  failed: number;
}

export interface ThroughputRow {
  variant: Variant;
  round: number;
  rps: number;
  cpuUsPerRequest: number;
  failed: number;
}

export interface UsageTiming {
  name: string;
  query: string;
  status: number;
  bytes: number;
  groups: number;
  requests: number;
  /** What the answer must hold (rows and groups of the generated history). */
  expectedRequests: number;
  expectedGroups: number;
  p50Ms: number;
  maxMs: number;
}

export interface HistoryResult {
  rows: number;
  rollups: number;
  dailyRollups: number;
  sessionRollups: number;
  quick: boolean;
  generatedS?: number;
  startMs: number;
  size: StoreSize;
  timings: UsageTiming[];
}

export interface StoreResult {
  writes: WriteResult[];
  postgres: string;
  eventLoop: { durationS: number; rows: EventLoopRow[]; medians: { rate: number; variant: Variant; loopP99Ms: number; loopMaxMs: number; rps: number; latencyP99Ms: number }[] };
  throughput: { connections: number; durationS: number; rows: ThroughputRow[]; medians: Partial<Record<Variant, { rps: number; cpuUsPerRequest: number }>>; ratios: Partial<Record<Variant, number>> };
  history: HistoryResult;
}

/** Rows of one instance, counted over a read-only connection (SQLite) or a client of the bench's own (PostgreSQL). */
async function countRows(engine: Exclude<Variant, 'off'>, location: string, instance: string): Promise<number> {
  if (engine === 'sqlite') {
    const db = new Database(location, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM usage_requests WHERE instance = ?').get(instance) as { n: number }).n;
    } finally {
      db.close();
    }
  }
  return Number((await pgQuery(location, 'SELECT count(*) AS n FROM usage_requests WHERE instance = $1', [instance]))[0].n);
}

async function pgQuery(url: string, text: string, values: unknown[] = []): Promise<Record<string, any>[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as Record<string, any>[];
  } finally {
    await client.end();
  }
}

/** The server's processes onto CPU 1, beside the load generator: found from a backend's parent, the postmaster. */
export async function pinPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const backend = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    // /proc/<pid>/stat: "pid (comm) state ppid ...".
    const postmaster = Number(readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    const children = execFileSync('pgrep', ['-P', String(postmaster)]).toString().trim().split('\n').map(Number);
    for (const pid of [postmaster, ...children]) pinPid(pid, 1);
  } finally {
    await client.end();
  }
}

export interface StoreSize {
  /** The request rows with their indexes, and the hourly rollups with theirs. */
  rowBytes: number;
  rollupBytes: number;
  /** Everything: the SQLite file and its WAL, or PostgreSQL's two tables. */
  totalBytes: number;
}

/** The database's size, read-only: SQLite's dbstat and file sizes (after the gateway closed it, which checkpoints), PostgreSQL's relation sizes. */
async function storeSize(engine: Exclude<Variant, 'off'>, location: string): Promise<StoreSize> {
  if (engine === 'postgres') {
    const r = (
      await pgQuery(
        location,
        "SELECT pg_total_relation_size('usage_requests') AS rows, pg_total_relation_size('usage_hourly') + pg_total_relation_size('usage_daily') + pg_total_relation_size('usage_session_hourly') AS rollups",
      )
    )[0];
    return { rowBytes: Number(r.rows), rollupBytes: Number(r.rollups), totalBytes: Number(r.rows) + Number(r.rollups) };
  }
  const db = new Database(location, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare('SELECT tbl_name AS tbl, sum(pgsize) AS bytes FROM dbstat JOIN sqlite_schema USING (name) GROUP BY tbl_name').all() as { tbl: string; bytes: number }[];
    const of = (name: string): number => tables.find((t) => t.tbl === name)?.bytes ?? 0;
    const totalBytes = [location, `${location}-wal`].reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
    return { rowBytes: of('usage_requests'), rollupBytes: of('usage_hourly') + of('usage_daily') + of('usage_session_hourly'), totalBytes };
  } finally {
    db.close();
  }
}

/** Bytes per million rows. */
const perMillion = (bytes: number, rows: number): number => (bytes / rows) * 1e6;

/** (a) A queue of `perRound` finished requests, written by one flush; rows per second of that flush. */
async function runWrites(engine: Exclude<Variant, 'off'>, location: string, upstream: Child, log: (line: string) => void): Promise<WriteResult> {
  const perRound = QUICK ? 10_000 : 40_000;
  const roundCount = QUICK ? 1 : 3;
  const warm = 2_000;
  const gw = await spawnGateway(
    `gateway-writes-${engine}`,
    {
      ANTHROPIC_API_KEY: 'x',
      ANTHROPIC_BASE_URL: upstream.url,
      VDM_STORE: engine === 'sqlite' ? `sqlite:${location}` : location,
      VDM_INSTANCE_ID: WRITER_INSTANCE,
      VDM_STORE_FLUSH_MS: NEVER_MS,
      VDM_STORE_QUEUE_MAX: WRITE_QUEUE_MAX,
    },
    0,
  );
  const url = `${gw.url}/v1/messages`;
  const rounds: WriteRound[] = [];
  let sent = 0;
  try {
    // Warm the request path and the store's statements (the first full batch builds its SQL).
    for (const stream of [false, true]) {
      const r = await load({ url, body: anthropicBody(stream), connections: 32, durationS: 60, amount: warm / 2 });
      sent += r.requests + r.non2xx;
    }
    await gw.command('flush');
    for (let round = 0; round < roundCount; round++) {
      const storedBefore = await countRows(engine, location, WRITER_INSTANCE);
      const fill = await load({ url, body: anthropicBody(round % 2 === 1), connections: 32, durationS: 60, amount: perRound });
      sent += fill.requests + fill.non2xx;
      const beforeFlush = await countRows(engine, location, WRITER_INSTANCE);
      const cpuBefore = cpuUs(await gw.stats());
      const { flushMs } = (await gw.command('flush')) as { flushMs: number };
      const cpuAfter = cpuUs(await gw.stats());
      const rows = (await countRows(engine, location, WRITER_INSTANCE)) - beforeFlush;
      rounds.push({ rows, flushMs, rowsPerS: (rows / flushMs) * 1000, cpuUsPerRow: (cpuAfter - cpuBefore) / Math.max(1, rows) });
      const early = beforeFlush - storedBefore;
      log(
        `  ${LABEL[engine].padEnd(10)} round ${round + 1}: ${fill.requests + fill.non2xx} requests queued at ${fmt(fill.rps, 0)}/s${early > 0 ? ` (${early} rows written before the flush)` : ''}, ` +
          `then ${rows} rows written in ${fmt(flushMs, 0)} ms = ${fmt((rows / flushMs) * 1000, 0)} rows/s, ${fmt(rounds.at(-1)!.cpuUsPerRow, 1)} us of gateway CPU per row`,
      );
    }
  } finally {
    await gw.stop();
  }
  const storedRows = await countRows(engine, location, WRITER_INSTANCE);
  return { engine, rounds, rowsPerS: median(rounds.map((r) => r.rowsPerS)), cpuUsPerRow: median(rounds.map((r) => r.cpuUsPerRow)), storedRows, size: await storeSize(engine, location), missing: sent - storedRows };
}

/** Alternating order over rounds: A B C, C B A, ... */
function orderOf<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

/** (b) Event-loop delay inside each gateway at paced rates, alternating. */
async function runEventLoop(gateways: Map<Variant, Child>, log: (line: string) => void): Promise<StoreResult['eventLoop']> {
  const durationS = QUICK ? 2 : 5;
  const rounds = QUICK ? 1 : 3;
  const rows: EventLoopRow[] = [];
  for (const gw of gateways.values()) await paced({ url: `${gw.url}/v1/messages`, body: anthropicBody(false), rate: ELD_RATES[0], durationS: 1 });
  for (const rate of ELD_RATES) {
    for (let round = 0; round < rounds; round++) {
      for (const variant of orderOf([...gateways.keys()], round)) {
        const gw = gateways.get(variant)!;
        await gw.command('event-loop-reset');
        const r = await paced({ url: `${gw.url}/v1/messages`, body: anthropicBody(false), rate, durationS });
        const loop = (await gw.stats()).eventLoop as { p99: number; max: number };
        const row = { variant, rate, round, rps: r.rps, latencyP99Ms: r.p99, loopP99Ms: loop.p99, loopMaxMs: loop.max, failed: r.errors + r.non2xx };
        rows.push(row);
        log(`  ${LABEL[variant].padEnd(10)} ${rate}/s paced: ${fmt(r.rps, 0)}/s answered, request p99 ${fmt(r.p99, 2)} ms; event-loop delay p99 ${fmt(loop.p99, 2)} ms, max ${fmt(loop.max, 2)} ms${row.failed > 0 ? `  FAILED ${row.failed}` : ''}`);
        await sleep(500);
      }
    }
  }
  const medians: StoreResult['eventLoop']['medians'] = [];
  for (const rate of ELD_RATES) {
    for (const variant of gateways.keys()) {
      const rs = rows.filter((r) => r.variant === variant && r.rate === rate);
      medians.push({ rate, variant, loopP99Ms: median(rs.map((r) => r.loopP99Ms)), loopMaxMs: median(rs.map((r) => r.loopMaxMs)), rps: median(rs.map((r) => r.rps)), latencyP99Ms: median(rs.map((r) => r.latencyP99Ms)) });
    }
  }
  return { durationS, rows, medians };
}

/** (c) Closed-loop throughput of each gateway, alternating; ratios against the store off. */
async function runThroughput(gateways: Map<Variant, Child>, log: (line: string) => void): Promise<StoreResult['throughput']> {
  const durationS = QUICK ? 2 : 5;
  const rounds = QUICK ? 2 : 4;
  const connections = 32;
  const rows: ThroughputRow[] = [];
  for (const gw of gateways.values()) await load({ url: `${gw.url}/v1/messages`, body: anthropicBody(false), connections: 8, durationS: 1 });
  for (let round = 0; round < rounds; round++) {
    for (const variant of orderOf([...gateways.keys()], round)) {
      const gw = gateways.get(variant)!;
      const before = await gw.stats();
      const r = await load({ url: `${gw.url}/v1/messages`, body: anthropicBody(false), connections, durationS });
      const after = await gw.stats();
      const row = { variant, round, rps: r.rps, cpuUsPerRequest: (cpuUs(after) - cpuUs(before)) / Math.max(1, r.requests), failed: r.errors + r.non2xx };
      rows.push(row);
      log(`  ${LABEL[variant].padEnd(10)} c=${connections}: ${fmt(r.rps, 0)} req/s, cpu ${fmt(row.cpuUsPerRequest, 1)} us/req${row.failed > 0 ? `  FAILED ${row.failed}` : ''}`);
    }
  }
  const medians: StoreResult['throughput']['medians'] = {};
  const ratios: StoreResult['throughput']['ratios'] = {};
  for (const variant of gateways.keys()) {
    const rs = rows.filter((r) => r.variant === variant);
    medians[variant] = { rps: median(rs.map((r) => r.rps)), cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)) };
  }
  for (const variant of gateways.keys()) if (variant !== 'off') ratios[variant] = medians[variant]!.rps / medians.off!.rps;
  return { connections, durationS, rows, medians, ratios };
}

/** (d) `/metrics/usage` over the generated history, timed from a child process on CPU 1. */
async function runHistory(log: (line: string) => void): Promise<HistoryResult> {
  const rows = Number(process.env.BENCH_STORE_ROWS ?? (QUICK ? 1_000_000 : 10_000_000));
  const db = await usageDb(rows, log);
  const gw = await spawnGateway('gateway-history', { VDM_STORE: `sqlite:${db.file}`, VDM_INSTANCE_ID: db.instance, VDM_STORE_RETENTION_DAYS: '36500' }, 0);
  const startMs = Number(gw.ready.startMs);
  log(`  ${rows.toLocaleString('en')} rows, ${db.rollups.toLocaleString('en')} hourly, ${db.dailyRollups.toLocaleString('en')} daily, ${db.sessionRollups.toLocaleString('en')} session-hour rollups${db.generatedS === undefined ? ' (cached)' : ''}; the gateway started (restore included) in ${fmt(startMs, 0)} ms`);
  const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const queries = [
    { name: `group_by=day,model, ${DAYS} days`, query: `from=${iso(db.from)}&to=${iso(db.to)}&group_by=day,model`, expectedRequests: db.rows, expectedGroups: db.dayModels },
    { name: 'group_by=session, 1 day', query: `from=${iso(db.to - 86_400)}&to=${iso(db.to)}&group_by=session`, expectedRequests: db.lastDay.rows, expectedGroups: db.lastDay.sessions },
  ];
  const timings: UsageTiming[] = [];
  try {
    for (const q of queries) {
      const url = `${gw.url}/metrics/usage?${q.query}`;
      const res = await request(url);
      const doc = (await res.body.json()) as { rows: unknown[]; totals: { requests: number } };
      const { status, bytes, ms } = await probe(url, QUICK ? 5 : 10, 1);
      const s = { p50: median(ms), max: Math.max(...ms) };
      timings.push({ ...q, status, bytes, groups: doc.rows.length, requests: doc.totals.requests, p50Ms: s.p50, maxMs: s.max });
      const right = doc.totals.requests === q.expectedRequests && doc.rows.length === q.expectedGroups;
      log(`  GET /metrics/usage ${q.name}: ${status}, ${doc.rows.length} groups, ${doc.totals.requests} requests${right ? '' : ` WRONG (expected ${q.expectedGroups} groups, ${q.expectedRequests} requests)`}; p50 ${fmt(s.p50, 1)} ms, max ${fmt(s.max, 1)} ms`);
    }
  } finally {
    await gw.stop();
  }
  return { rows: db.rows, rollups: db.rollups, dailyRollups: db.dailyRollups, sessionRollups: db.sessionRollups, quick: rows < 10_000_000, generatedS: db.generatedS, startMs, size: await storeSize('sqlite', db.file), timings };
}

export async function runStoreBench(upstream: Child, log: (line: string) => void): Promise<StoreResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-bench-store-'));
  const initdb = postgresBinary();
  let pg: PostgresServer | undefined;
  let postgres = initdb === undefined ? 'skipped: no PostgreSQL server programs (Debian package postgresql)' : 'ran';
  if (initdb !== undefined) {
    try {
      pg = await startPostgres(initdb);
      await pinPostgres(pg.url);
    } catch (error) {
      postgres = `skipped: PostgreSQL did not start (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
      pg?.close();
      pg = undefined;
    }
  }
  if (pg === undefined) log(`  PostgreSQL ${postgres}`);
  const gateways = new Map<Variant, Child>();
  try {
    log('  (a) rows/s: a queue of finished requests written by one flush');
    const writes = [await runWrites('sqlite', join(dir, 'writes.db'), upstream, log)];
    if (pg) writes.push(await runWrites('postgres', pg.url, upstream, log));

    const providerEnv = { ANTHROPIC_API_KEY: 'x', ANTHROPIC_BASE_URL: upstream.url };
    gateways.set('off', await spawnGateway('gateway-store-off', { ...providerEnv, VDM_STORE: 'none' }, 0));
    gateways.set('sqlite', await spawnGateway('gateway-store-sqlite', { ...providerEnv, VDM_STORE: `sqlite:${join(dir, 'ab.db')}` }, 0));
    if (pg) gateways.set('postgres', await spawnGateway('gateway-store-postgres', { ...providerEnv, VDM_STORE: pg.url, VDM_INSTANCE_ID: 'bench-ab' }, 0));
    log(`  (b) event-loop delay at ${ELD_RATES.join(' and ')} requests/s, paced`);
    const eventLoop = await runEventLoop(gateways, log);
    log('  (c) throughput, store on against off, alternating');
    const throughput = await runThroughput(gateways, log);
    await Promise.all([...gateways.values()].map((g) => g.stop()));
    gateways.clear();
    pg?.close();
    pg = undefined;

    log(`  (d) /metrics/usage over a generated history${QUICK ? ' (quick: 1M rows)' : ''}`);
    const history = await runHistory(log);
    return { writes, postgres, eventLoop, throughput, history };
  } finally {
    await Promise.all([...gateways.values()].map((g) => g.stop()));
    pg?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printStore(r: StoreResult): string {
  const mb = (bytes: number, rows: number): string => fmt(perMillion(bytes, rows) / 2 ** 20, 0);
  const out: string[] = ['## 6. Usage store (through the gateway process and its HTTP API; latency in ms)'];
  out.push(
    table(
      ['engine', 'rows/s (median of flushes)', 'gateway cpu us/row', 'flushes', 'stored rows', 'rows lost', 'MB per 1M rows: rows', 'rollups', 'total'],
      r.writes.map((w) => [LABEL[w.engine], fmt(w.rowsPerS, 0), fmt(w.cpuUsPerRow, 1), w.rounds.map((x) => `${x.rows} in ${fmt(x.flushMs, 0)} ms`).join(', '), w.storedRows, w.missing, mb(w.size.rowBytes, w.storedRows), mb(w.size.rollupBytes, w.storedRows), mb(w.size.totalBytes, w.storedRows)]),
    ),
  );
  out.push(r.postgres === 'ran' ? 'PostgreSQL: a throwaway server from test/support/postgres-server.ts (fsync=off); SQLite: WAL, synchronous=NORMAL (no fsync per commit either).' : `PostgreSQL ${r.postgres}`);
  out.push(
    table(
      ['store', 'paced rate', 'answered/s', 'request p99', 'event-loop delay p99', 'event-loop delay max'],
      r.eventLoop.medians.map((e) => [LABEL[e.variant], `${e.rate}/s`, fmt(e.rps, 0), fmt(e.latencyP99Ms, 2), fmt(e.loopP99Ms, 2), fmt(e.loopMaxMs, 2)]),
    ),
  );
  out.push(
    table(
      ['store', `closed loop c=${r.throughput.connections}: req/s`, 'cpu us/req', 'req/s vs off', `verdict (>= ${THROUGHPUT_TARGET})`],
      (Object.keys(r.throughput.medians) as Variant[]).map((v) => {
        const t = r.throughput.medians[v]!;
        const ratio = r.throughput.ratios[v];
        return [LABEL[v], fmt(t.rps, 0), fmt(t.cpuUsPerRequest, 1), ratio === undefined ? '-' : fmt(ratio, 3), ratio === undefined ? '-' : verdict(ratio >= THROUGHPUT_TARGET)];
      }),
    ),
  );
  const h = r.history;
  out.push(
    `/metrics/usage over ${h.rows.toLocaleString('en')} rows in ${DAYS} days (${h.rollups.toLocaleString('en')} hourly, ${h.dailyRollups.toLocaleString('en')} daily, ${h.sessionRollups.toLocaleString('en')} session-hour rollups) on SQLite${h.quick ? ` (QUICK: ${h.rows.toLocaleString('en')} rows, not 10,000,000)` : ''}; ` +
      `per 1M rows ${mb(h.size.rowBytes, h.rows)} MB of rows, ${mb(h.size.rollupBytes, h.rows)} MB of rollups, ${mb(h.size.totalBytes, h.rows)} MB in all; ` +
      `gateway start-up with its restore ${fmt(h.startMs, 0)} ms${h.generatedS === undefined ? '' : `; generated in ${fmt(h.generatedS, 0)} s`}`,
  );
  out.push(
    table(
      ['query', 'status', 'groups', 'requests', 'bytes', 'p50', 'max', `verdict (< ${USAGE_TARGET_MS} ms)`],
      h.timings.map((t) => [t.name, t.status, t.groups, t.requests, t.bytes, fmt(t.p50Ms, 1), fmt(t.maxMs, 1), t.requests === t.expectedRequests && t.groups === t.expectedGroups ? verdict(t.p50Ms < USAGE_TARGET_MS) : 'WRONG ANSWER']),
    ),
  );
  return out.join('\n');
}
