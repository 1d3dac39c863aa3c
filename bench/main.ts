/**
 * `npm run bench`: every benchmark, a table on stdout and bench/results/latest.json.
 * BENCH_QUICK=1 for a short run; BENCH_ONLY=tracker,overhead,sse,totals,scrape,convert,store,keys,prices,provenance,ledger,limits,otel to pick sections;
 * BENCH_PROF_DIR=dir writes a CPU profile of each gateway process there.
 * This process (autocannon, SSE clients) and the lean upstream run on CPU 1, servers under test on CPU 0.
 * The store section keeps a generated 10M-row database in node_modules/.cache/vdm-bench/usage-db/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { printConvert, runConvertBench, type ConvertResult } from './convert.bench';
import { printKeys, runKeysBench, type KeysResult } from './keys.bench';
import { printLimits, runLimitsBench, type LimitsResult } from './limits.bench';
import { printLedger, runLedgerBench, type LedgerResult } from './postgres-ledger.bench';
import { printPrices, runPricesBench, type PricesResult } from './prices.bench';
import { printProvenance, runProvenanceBench, type ProvenanceResult } from './provenance.bench';
import { printOtel, runOtelBench, type OtelResult } from './otel.bench';
import { printOverhead, runOverheadBench, startServers, stopServers, type OverheadResult } from './overhead.bench';
import { printRunningTotals, runRunningTotalsBench, type RunningTotalsResult } from './running-totals.bench';
import { printScrape, runScrapeBench, type ScrapeResult } from './scrape.bench';
import { printSse, runSseBench, type SseLevel } from './sse.bench';
import { HAS_TASKSET, pinSelf, spawnChild } from './support/proc';
import { QUICK } from './support/stats';
import { printStore, runStoreBench, type StoreResult } from './store.bench';
import { printTracker, runTrackerBench, type TrackerResult } from './tracker.bench';

interface Results {
  date: string;
  machine: { nproc: number; cpu: string; node: string; pinned: boolean; loadAvg: string };
  quick: boolean;
  tracker?: TrackerResult;
  overhead?: OverheadResult;
  sse?: SseLevel[];
  runningTotals?: RunningTotalsResult;
  scrape?: ScrapeResult;
  convert?: ConvertResult;
  store?: StoreResult;
  keys?: KeysResult;
  prices?: PricesResult;
  provenance?: ProvenanceResult;
  ledger?: LedgerResult;
  limits?: LimitsResult;
  otel?: OtelResult;
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_ONLY ?? 'tracker,overhead,sse,totals,scrape,convert,store,keys,prices,provenance,ledger,limits,otel').split(',');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const pinned = pinSelf(1);
  const results: Results = {
    date: new Date().toISOString(),
    machine: {
      nproc: cpus().length,
      cpu: /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown',
      node: process.version,
      pinned: pinned && HAS_TASKSET,
      loadAvg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
    },
    quick: QUICK,
  };
  log(`bench ${QUICK ? '(quick) ' : ''}on ${results.machine.nproc} x ${results.machine.cpu}, node ${process.version}, pinned: ${results.machine.pinned}, load ${results.machine.loadAvg}`);
  const report: string[] = [];
  if (only.includes('tracker')) {
    log('1. tracker hot path ...');
    results.tracker = runTrackerBench();
    report.push(printTracker(results.tracker));
  }
  if (only.includes('overhead')) {
    log('2. gateway overhead ...');
    const servers = await startServers();
    try {
      results.overhead = await runOverheadBench(servers, log);
      report.push(printOverhead(results.overhead));
    } finally {
      await stopServers(servers);
    }
  }
  if (only.includes('sse') || only.includes('totals')) {
    const upstream = await spawnChild('lean-upstream', 'support/lean-upstream.js', {}, 1);
    try {
      if (only.includes('sse')) {
        log('3. SSE fan-out ...');
        results.sse = await runSseBench(upstream, log);
        report.push(printSse(results.sse));
      }
      if (only.includes('totals')) {
        log('4. running totals ...');
        results.runningTotals = await runRunningTotalsBench(upstream, log);
        report.push(printRunningTotals(results.runningTotals));
      }
    } finally {
      await upstream.stop();
    }
  }
  if (only.includes('scrape')) {
    log('4b. /metrics at 100 models x 10 clients ...');
    results.scrape = await runScrapeBench();
    report.push(printScrape(results.scrape));
  }
  if (only.includes('convert')) {
    log('5. stream conversion throughput ...');
    results.convert = await runConvertBench(log);
    report.push(printConvert(results.convert));
  }
  if (only.includes('store')) {
    log('6. usage store ...');
    const upstream = await spawnChild('lean-upstream', 'support/lean-upstream.js', {}, 1);
    try {
      results.store = await runStoreBench(upstream, log);
      report.push(printStore(results.store));
    } finally {
      await upstream.stop();
    }
  }
  if (only.includes('keys')) {
    log('7. key lookup at 1 and 100,000 keys ...');
    results.keys = runKeysBench();
    report.push(printKeys(results.keys));
  }
  if (only.includes('prices')) {
    log('8. price lookup at 1 and 100,000 prices-file entries ...');
    results.prices = runPricesBench();
    report.push(printPrices(results.prices));
  }
  if (only.includes('provenance')) {
    log('9. usage provenance: a reported request and an estimated one ...');
    results.provenance = runProvenanceBench();
    report.push(printProvenance(results.provenance));
  }
  if (only.includes('ledger')) {
    log('11. budget reservations on PostgreSQL: round trip and the hot-row ceiling ...');
    results.ledger = await runLedgerBench(log);
    report.push(printLedger(results.ledger));
  }
  if (only.includes('limits')) {
    log('12. budgets and rate limits in memory: reservation cost and throughput on/off ...');
    results.limits = await runLimitsBench(log);
    report.push(printLimits(results.limits));
  }
  if (only.includes('otel')) {
    log('13. OpenTelemetry on against off, and a collector that fails ...');
    results.otel = await runOtelBench(log);
    report.push(printOtel(results.otel));
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, QUICK ? 'latest-quick.json' : 'latest.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${report.join('\n\n')}\n\nJSON: ${file}\n`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
