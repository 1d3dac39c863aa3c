/**
 * `npm run soak`: the full fault soak. 20,000 requests at concurrency 200 (SOAK_REQUESTS,
 * SOAK_CONCURRENCY, SOAK_SEED override) through the gateway running as a child process
 * (bench/support/gateway-child.ts, started with --expose-gc), against the FakeUpstream in this process,
 * after SOAK_WARMUP_ROUNDS (2) warm-up rounds of SOAK_WARMUP requests (as many as the soak) with the
 * same fault mix. The SQLite usage store is on (a temp file), and after the drain every request of
 * every round must be stored exactly once. Prints every check; exits 1 when one fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FakeUpstream } from '../fakes/fake-upstream';
import { spawnGateway } from '../../bench/support/proc';
import {
  asObserved,
  buildSchedule,
  countKinds,
  countsOf,
  drive,
  estimateDeviations,
  expectedTotals,
  provenanceProblems,
  receivedOf,
  rowsCostNano,
  type DriveResult,
  ledgerOfRows,
  ledgerOfTotals,
  observedFromJson,
  readStoredRows,
  requestIdProblems,
  requestIdsFromApi,
  usageLedgers,
  withoutErrorTypes,
  writeSoakPrices,
  type Planned,
  observedFromPrometheus,
  runningTotals,
  scriptFake,
  SOAK_GATEWAY_ENV,
  closeCheckConnections,
} from './soak-engine';

const SEED = Number(process.env.SOAK_SEED ?? 20261124);
const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 200);
/** Warm-up rounds the size of the soak itself: a smaller round does not reach the same peak. */
const WARMUP = Number(process.env.SOAK_WARMUP ?? REQUESTS);
const WARMUP_ROUNDS = Number(process.env.SOAK_WARMUP_ROUNDS ?? 2);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Counts in `a` beyond those in `b`, keeping only the types that grew. */
function subtractCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [type, n] of Object.entries(a)) if (n - (b[type] ?? 0) > 0) out[type] = n - (b[type] ?? 0);
  return out;
}

const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;

async function main(): Promise<void> {
  let failed = 0;
  const check = (name: string, ok: boolean, detail = ''): void => {
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  };
  const fake = await FakeUpstream.start();
  const dir = mkdtempSync(join(tmpdir(), 'vdm-soak-'));
  const dbFile = join(dir, 'usage.db');
  const gw = await spawnGateway('gateway-soak', {
    ...SOAK_GATEWAY_ENV,
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_PRICES_FILE: writeSoakPrices(dir),
    VDM_STORE: `sqlite:${dbFile}`,
  });
  let crashed = false;
  gw.proc.on('exit', (code, signal) => {
    crashed = true;
    console.log(`gateway exited: code ${code} signal ${signal}`);
  });
  try {
    // Warm up with the soak's own mix (faults included) at its own concurrency, so "before" includes a
    // warm JIT, pools and the memory that workload's peak takes: the check is for growth the soak
    // leaves behind, not for the allocator's high-water mark. Identical rounds leave RSS anywhere in
    // a +-15% band (the allocator keeps or returns freed pages; the JS heap stays flat), so the
    // baseline is the top of that band over a few rounds, not one sample of it.
    let before = await gw.stats(true);
    const warmRss: number[] = [];
    const sent: Planned[][] = [];
    const drives: { schedule: Planned[]; result: DriveResult }[] = [];
    for (let round = 0; round < WARMUP_ROUNDS; round++) {
      const warm = buildSchedule(SEED + 1 + round, WARMUP);
      sent.push(warm);
      scriptFake(fake, warm);
      drives.push({ schedule: warm, result: await drive(gw.url, warm, CONCURRENCY) });
      await sleep(6_000); // upstream keep-alive sockets time out (5 s)
      await closeCheckConnections();
      await sleep(500);
      before = await gw.stats(true);
      warmRss.push(before.rss);
    }
    const baselineRss = Math.max(...warmRss);
    const warmTotals = observedFromJson((await runningTotals(gw.url)).json, before.errors);

    const schedule = buildSchedule(SEED, REQUESTS);
    sent.push(schedule);
    scriptFake(fake, schedule);
    console.log(`soak: seed ${SEED}, ${REQUESTS} requests at concurrency ${CONCURRENCY}`);
    console.log(JSON.stringify(countKinds(schedule)));
    const driven = await drive(gw.url, schedule, CONCURRENCY);
    drives.push({ schedule, result: driven });
    console.log(`driven in ${(driven.elapsedMs / 1000).toFixed(1)} s; client statuses ${JSON.stringify(driven.statuses)}; client errors ${driven.clientErrors}`);

    for (let i = 0; i < 200 && (await gw.stats()).active > 0; i++) await sleep(50);
    const activeNow = (await gw.stats()).active;
    await sleep(1_000);
    const activeLater = (await gw.stats()).active;
    check('active_requests is 0 after the drain and stays 0', activeNow === 0 && activeLater === 0, `${activeNow}, then ${activeLater}`);

    const expected = asObserved(expectedTotals(schedule));
    const { json, yaml } = await runningTotals(gw.url);
    const stats = await gw.stats();
    const observed = observedFromJson(json, stats.errors);
    const totalsLedger = ledgerOfTotals(json, stats.errors);
    const soakOnly = {
      ...observed,
      errors: subtractCounts(observed.errors, warmTotals.errors),
      totalRequests: observed.totalRequests - warmTotals.totalRequests,
      input: observed.input - warmTotals.input,
      output: observed.output - warmTotals.output,
      cacheRead: observed.cacheRead - warmTotals.cacheRead,
      cacheCreation: observed.cacheCreation - warmTotals.cacheCreation,
    };
    check('total_requests equals the requests sent to the proxy routes', soakOnly.totalRequests === expected.totalRequests, `${soakOnly.totalRequests} vs ${expected.totalRequests}`);
    check('errors per error_type equal the faults injected', isDeepStrictEqual(countsOf(soakOnly).errors, expected.errors), `observed ${JSON.stringify(soakOnly.errors)} expected ${JSON.stringify(expected.errors)}`);
    check('JSON and YAML running totals agree', isDeepStrictEqual(yaml.summary, json.summary) && isDeepStrictEqual(yaml.providers, json.providers));
    const prom = await observedFromPrometheus(gw.url);
    if (prom === undefined) console.log('skip /metrics: no Prometheus endpoint in this build');
    else check('/metrics agrees with the JSON running totals', isDeepStrictEqual(prom, observed), `prometheus ${JSON.stringify(prom)} json ${JSON.stringify(observed)}`);
    check('/health answered throughout', driven.healthFailures === 0, `${driven.healthChecks} checks, ${driven.healthFailures} failures`);

    await closeCheckConnections();
    await sleep(6_000); // idle upstream keep-alive sockets close
    const after = await gw.stats(true);
    const growth = (after.rss - baselineRss) / baselineRss;
    console.log(
      `rss after each warm-up round ${warmRss.map(mb).join(', ')}; after soak + GC ${mb(after.rss)} (${(growth * 100).toFixed(1)}% over the highest); ` +
        `heap used ${mb(before.heapUsed)} -> ${mb(after.heapUsed)}, committed ${mb(before.heapTotal)} -> ${mb(after.heapTotal)}`,
    );
    check('resident memory after the soak and a GC within 10% of before', growth <= 0.1);
    console.log(`handles before ${JSON.stringify(before.resources)}, after ${JSON.stringify(after.resources)}`);
    const sockets = (r: Record<string, number>): number => (r.TCPSocketWrap ?? 0);
    const timers = (r: Record<string, number>): number => (r.Timeout ?? 0);
    check('no socket or timer left open', sockets(after.resources) <= sockets(before.resources) && timers(after.resources) <= timers(before.resources) && fake.openConnections() === 0, `sockets ${sockets(after.resources)} (before ${sockets(before.resources)}), timers ${timers(after.resources)} (before ${timers(before.resources)}), fake upstream connections ${fake.openConnections()}`);

    // The store after the drain, read three ways: the file (read-only), /metrics/requests, /metrics/usage.
    await gw.command('flush');
    const rows = readStoredRows(dbFile);
    const ids = rows.map((r) => r.request_id);
    const problems = requestIdProblems(ids, sent);
    check('every accounted request of every round is stored once, under its request id', problems.length === 0, problems.length === 0 ? `${rows.length} rows, ${ids.filter((id) => id.includes('~')).length} under a suffixed id (a reused id in flight)` : problems.join('; '));
    const apiIds = await requestIdsFromApi(gw.url);
    check('/metrics/requests pages through exactly the stored rows', isDeepStrictEqual([...apiIds].sort(), [...ids].sort()), `${apiIds.length} ids vs ${ids.length} rows`);
    const provenance = provenanceProblems(rows, sent, receivedOf(drives));
    const estimated = rows.filter((r) => r.usage_source === 'estimated' || r.usage_source === 'partial').length;
    check(
      'reported counts stored exactly, every estimate within the tolerance of what the upstream would have reported',
      provenance.length === 0,
      provenance.length === 0 ? `${estimated} of ${rows.length} rows estimated in whole or in part` : provenance.join('; '),
    );
    const deviation = estimateDeviations(rows, sent, receivedOf(drives));
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    console.log(
      `estimates against the upstream's own counts: input ${deviation.input.n} rows, median ${pct(deviation.input.median)}, max ${pct(deviation.input.max)}; ` +
        `output ${deviation.output.n} rows, median ${pct(deviation.output.median)}, max ${pct(deviation.output.max)}`,
    );
    check('estimated_requests in the running totals counts the estimated rows', json.summary.total_estimated_requests === estimated, `${json.summary.total_estimated_requests} vs ${estimated}`);
    const cost = rowsCostNano(rows);
    check('cost in the running totals equals the stored counts worked by hand', totalsLedger.costNano === cost, `${totalsLedger.costNano} vs ${cost} nanodollars`);
    const rowsLedger = ledgerOfRows(rows);
    check('stored rows equal the running totals: count, errors per type, tokens, cost', isDeepStrictEqual(rowsLedger, totalsLedger), `rows ${JSON.stringify(rowsLedger)} totals ${JSON.stringify(totalsLedger)}`);
    const usage = await usageLedgers(gw.url);
    const wanted = withoutErrorTypes(totalsLedger);
    check('/metrics/usage totals equal the running totals (from the rollups and from the rows)', isDeepStrictEqual(usage, { rollups: wanted, rows: wanted }), `${JSON.stringify(usage)} vs ${JSON.stringify(wanted)}`);
    check('the gateway never crashed', !crashed && gw.proc.exitCode === null);
  } finally {
    await gw.stop();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(failed === 0 ? 'soak: all checks passed' : `soak: ${failed} check(s) failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
