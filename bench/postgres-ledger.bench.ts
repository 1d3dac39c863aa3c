/**
 * 11. Budget reservations on PostgreSQL (the fleet's ledger, src/limits/postgres-ledger.ts), against a local server
 * pinned to CPU 1 beside this process: (a) the round trip a request pays, sequential, one connection: a reservation of
 * three claims (client, user, shared budget) and its settlement, beside `select 1` on the same pool as the baseline;
 * (b) the hot-row ceiling: reservations per second (each reserved and settled) that ONE budget row takes, from 1 to 64
 * connections at once. With fsync off (what the tests run), on (each commit waits for its WAL flush, the row stays
 * locked meanwhile), and on with the ledger's sessions at synchronous_commit=off (a URL option: the commit returns
 * before the flush, and a server crash may lose the last ~0.6 s of reservations and settlements).
 */
import type { Pool } from 'pg';
import type { Claim } from '../src/limits/ledger';
import { PostgresLedger } from '../src/limits/postgres-ledger';
import { postgresBinary, startPostgres, type PostgresServer } from '../test/support/postgres-server';
import { fmt, QUICK, summarize, table } from './support/stats';
import { pinPostgres } from './store.bench';

const HOUR = 3_600_000;
const LEASE_MS = 150_000;
const LEVELS = [1, 4, 16, 64];

export interface LedgerLatency {
  what: 'select 1' | 'reserve' | 'settle';
  p50Ms: number;
  p99Ms: number;
}

export interface LedgerCeiling {
  connections: number;
  reservationsPerS: number;
  /** Reservations refused: 0 expected (the limit is out of reach). */
  refused: number;
}

type Durability = 'fsync off' | 'fsync on' | 'fsync on, synchronous_commit off';
const VARIANTS: Durability[] = ['fsync off', 'fsync on', 'fsync on, synchronous_commit off'];

export interface LedgerVariant {
  durability: Durability;
  latency: LedgerLatency[];
  ceiling: LedgerCeiling[];
  /** The best level: the figure the docs quote. */
  peakPerS: number;
}

export interface LedgerResult {
  postgres: string;
  variants: LedgerVariant[];
}

function claims(i: number): Claim[] {
  const windowStart = Math.floor(Date.now() / HOUR) * HOUR;
  const claim = (counter: string): Claim => ({ counter, kind: 'usd', windowStart, windowEnd: windowStart + HOUR, limit: Number.MAX_SAFE_INTEGER, amount: 1_000_000 });
  return [claim('budget:shared:*:*'), claim(`budget:team:client-${i % 8}:*`), claim(`budget:dev:client-${i % 8}:user-${i % 64}`)];
}

async function roundTrips(ledger: PostgresLedger, pool: Pool, count: number): Promise<LedgerLatency[]> {
  const samples: Record<LedgerLatency['what'], number[]> = { 'select 1': [], reserve: [], settle: [] };
  for (let i = 0; i < count; i++) {
    let t = performance.now();
    await pool.query('select 1');
    samples['select 1'].push(performance.now() - t);
    const c = claims(i);
    t = performance.now();
    const r = await ledger.reserve(`bench-${i}`, c, LEASE_MS);
    samples.reserve.push(performance.now() - t);
    if (!r.ok) throw new Error('bench reservation refused');
    t = performance.now();
    await ledger.settle(r.id, new Map(c.map((x) => [x.counter, 900_000])));
    samples.settle.push(performance.now() - t);
  }
  return (Object.keys(samples) as LedgerLatency['what'][]).map((what) => {
    const s = summarize(samples[what].slice(Math.floor(count / 10)));
    return { what, p50Ms: s.p50, p99Ms: s.p99 };
  });
}

async function hotRow(url: string, connections: number, ms: number): Promise<LedgerCeiling> {
  const ledger = await PostgresLedger.open(url, { poolMax: connections, sweepMs: 0 });
  const windowStart = Math.floor(Date.now() / HOUR) * HOUR;
  const hot: Claim[] = [{ counter: 'budget:hot:*:*', kind: 'usd', windowStart, windowEnd: windowStart + HOUR, limit: Number.MAX_SAFE_INTEGER, amount: 1_000_000 }];
  const actual = new Map([['budget:hot:*:*', 900_000]]);
  let done = 0;
  let refused = 0;
  try {
    await ledger.reserve('warm', hot, LEASE_MS);
    const until = performance.now() + ms;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async (_, w) => {
        for (let i = 0; performance.now() < until; i++) {
          const r = await ledger.reserve(`hot-${w}-${i}`, hot, LEASE_MS);
          if (!r.ok) {
            refused++;
            continue;
          }
          await ledger.settle(r.id, actual);
          done++;
        }
      }),
    );
    return { connections, reservationsPerS: done / ((performance.now() - started) / 1000), refused };
  } finally {
    await ledger.close();
  }
}

async function runVariant(initdb: string, durability: Durability, log: (line: string) => void): Promise<LedgerVariant> {
  let pg: PostgresServer | undefined;
  try {
    pg = await startPostgres(initdb, { fsync: durability !== 'fsync off' });
    await pinPostgres(pg.url);
    const url = durability === 'fsync on, synchronous_commit off' ? `${pg.url}?options=${encodeURIComponent('-c synchronous_commit=off')}` : pg.url;
    const ledger = await PostgresLedger.open(url, { poolMax: 1, sweepMs: 0 });
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: url, max: 1 });
    let latency: LedgerLatency[];
    try {
      log(`  (a) ${durability}: round trips, one connection`);
      latency = await roundTrips(ledger, pool, QUICK ? 500 : 3000);
    } finally {
      await pool.end();
      await ledger.close();
    }
    const ceiling: LedgerCeiling[] = [];
    for (const connections of LEVELS) {
      log(`  (b) ${durability}: one hot row, ${connections} connection(s)`);
      ceiling.push(await hotRow(url, connections, QUICK ? 2000 : 5000));
    }
    return { durability, latency, ceiling, peakPerS: Math.max(...ceiling.map((c) => c.reservationsPerS)) };
  } finally {
    pg?.close();
  }
}

export async function runLedgerBench(log: (line: string) => void): Promise<LedgerResult> {
  const initdb = postgresBinary();
  if (initdb === undefined) return { postgres: 'skipped: no PostgreSQL server programs (Debian package postgresql)', variants: [] };
  const variants: LedgerVariant[] = [];
  for (const durability of VARIANTS) variants.push(await runVariant(initdb, durability, log));
  return { postgres: 'ran', variants };
}

export function printLedger(r: LedgerResult): string {
  if (r.variants.length === 0) return `## 11. Budget reservations on PostgreSQL\n${r.postgres}`;
  return [
    '## 11. Budget reservations on PostgreSQL (local server on CPU 1; a reservation of 3 claims, then its settlement)',
    table(
      ['durability', 'select 1 p50 / p99 ms', 'reserve p50 / p99 ms', 'settle p50 / p99 ms'],
      r.variants.map((v) => {
        const l = (what: LedgerLatency['what']): string => {
          const x = v.latency.find((y) => y.what === what)!;
          return `${fmt(x.p50Ms, 3)} / ${fmt(x.p99Ms, 3)}`;
        };
        return [v.durability, l('select 1'), l('reserve'), l('settle')];
      }),
    ),
    '',
    'One hot budget row: reservations per second, each reserved and settled (two statements that lock the row)',
    table(
      ['connections', ...r.variants.map((v) => `${v.durability} /s`)],
      LEVELS.map((n) => [String(n), ...r.variants.map((v) => fmt(v.ceiling.find((c) => c.connections === n)?.reservationsPerS ?? NaN, 0))]),
    ),
    `ceiling: ${r.variants.map((v) => `${fmt(v.peakPerS, 0)}/s (${v.durability})`).join(', ')}`,
  ].join('\n');
}
