/**
 * `npm run soak:hostile`: the long hostile soak (test/soak/hostile-engine.ts). The gateway runs as a
 * child process (bench/support/gateway-child.ts, with --expose-gc) on a SQLite store seeded with
 * HOSTILE_HISTORY_ROWS (1,000,000) rows over 30 days, with a keys file of HOSTILE_KEYS (100,000) keys,
 * against the FakeUpstream in this process. A warm-up of two rounds, then HOSTILE_ROUNDS (20) rounds
 * of every scenario (HOSTILE_SCENARIOS: a comma list, default all) at HOSTILE_CONCURRENCY (32). Then,
 * with PostgreSQL installed, the poison rows again on a PostgreSQL store. Prints every check and the
 * numbers (/health p99, RSS, requests, rows); exits 1 when a check fails.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway, type Child } from '../../bench/support/proc';
import { usageDb } from '../../bench/support/usage-db';
import { FakeUpstream } from '../fakes/fake-upstream';
import { postgresBinary, startPostgres } from '../support/postgres-server';
import {
  describeRun,
  HOSTILE_SCENARIOS,
  hostileEnv,
  LONG_SIZE,
  runHostile,
  writeHostileFiles,
  type HostileRun,
  type HostileScenario,
  type HostileSize,
  type HostileTarget,
} from './hostile-engine';

const SEED = Number(process.env.SOAK_SEED ?? 20261207);
const SIZE: HostileSize = {
  ...LONG_SIZE,
  rounds: Number(process.env.HOSTILE_ROUNDS ?? LONG_SIZE.rounds),
  concurrency: Number(process.env.HOSTILE_CONCURRENCY ?? LONG_SIZE.concurrency),
  keys: Number(process.env.HOSTILE_KEYS ?? LONG_SIZE.keys),
  historyRows: Number(process.env.HOSTILE_HISTORY_ROWS ?? LONG_SIZE.historyRows),
};
const SCENARIOS = (process.env.HOSTILE_SCENARIOS?.split(',') ?? HOSTILE_SCENARIOS) as HostileScenario[];
/** /health must answer within this at the 99th percentile (measured from the driving process). */
const HEALTH_P99_MS = 50;

function target(child: Child): HostileTarget {
  let exit: string | undefined;
  child.proc.on('exit', (code, signal) => (exit = `code ${code} signal ${signal}`));
  return { url: child.url, exited: () => exit, rss: async () => (await child.stats(true)).rss };
}

async function main(): Promise<void> {
  let failed = 0;
  const check = (name: string, ok: boolean, detail = ''): void => {
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  };
  const report = (name: string, run: HostileRun): void => {
    for (const line of describeRun(name, run)) console.log(line);
    for (const [scenario, problems] of Object.entries(run.problems)) {
      if (scenario !== 'run' && !run.scenarios.includes(scenario as HostileScenario)) continue;
      check(`${name}: ${scenario}`, problems.length === 0, problems.slice(0, 10).join('; '));
    }
  };
  const fake = await FakeUpstream.start();
  const dir = mkdtempSync(join(tmpdir(), 'vdm-hostile-'));
  const dbFile = join(dir, 'usage.db');
  const children: Child[] = [];
  try {
    const files = writeHostileFiles(dir, SIZE.keys, SEED);
    if (SCENARIOS.includes('history')) {
      const seeded = await usageDb(SIZE.historyRows, (line) => console.log(line));
      copyFileSync(seeded.file, dbFile);
    }
    const gw = await spawnGateway('gateway-hostile', hostileEnv(fake.url, files, `sqlite:${dbFile}`));
    children.push(gw);
    const sqlite = target(gw);
    const options = { clientKey: files.clientKey, provenance: true, log: (line: string) => console.log(line) };
    const warm = await runHostile(sqlite, fake, { ...options, seed: SEED + 1_000, size: { ...SIZE, rounds: 2 }, scenarios: SCENARIOS });
    report('warm-up (SQLite)', warm);
    const run = await runHostile(sqlite, fake, { ...options, seed: SEED, size: SIZE, scenarios: SCENARIOS });
    report('hostile soak (SQLite)', run);
    check(`/health p99 <= ${HEALTH_P99_MS} ms throughout`, run.health.p99 <= HEALTH_P99_MS, `${run.health.p99.toFixed(1)} ms`);
    const baseline = Math.max(warm.rssAfter, run.rssBefore);
    const growth = baseline > 0 ? (run.rssAfter - baseline) / baseline : Number.NaN;
    check('resident memory after the soak and a GC within 10% of after the warm-up', growth <= 0.1, `${(baseline / 2 ** 20).toFixed(1)} MB -> ${(run.rssAfter / 2 ** 20).toFixed(1)} MB (${(growth * 100).toFixed(1)}%)`);

    const initdb = SCENARIOS.includes('poison-rows') ? postgresBinary() : undefined;
    if (initdb !== undefined) {
      const pg = await startPostgres(initdb);
      try {
        const pgGw = await spawnGateway('gateway-hostile-pg', hostileEnv(fake.url, files, pg.url));
        children.push(pgGw);
        const pgRun = await runHostile(target(pgGw), fake, { ...options, seed: SEED + 2_000, size: { ...SIZE, rounds: Math.min(SIZE.rounds, 5) }, scenarios: ['poison-rows', 'early-aborts'] });
        report('hostile soak (PostgreSQL)', pgRun);
        await pgGw.stop();
      } finally {
        pg.close();
      }
    }
  } finally {
    for (const child of children) await child.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(failed === 0 ? 'hostile soak: all checks passed' : `hostile soak: ${failed} check(s) failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
