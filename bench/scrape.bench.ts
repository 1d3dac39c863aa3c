/**
 * 4b. GET /metrics rendering at 100 models x 10 clients (both modes, every model priced, some
 * errors): the exposition's size and time, in-process (the tracker and the exporter, no HTTP),
 * each scrape after a change so no cached samples are reused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/app-config';
import { PrometheusExporter } from '../src/metrics/prometheus-exporter.service';
import { CountTokensCounter } from '../src/metrics/count-tokens';
import { RejectionCounter } from '../src/metrics/rejections';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import { fmt, QUICK, summarize, table } from './support/stats';

const MODELS = 100;
const CLIENTS = 10;

export interface ScrapeResult {
  models: number;
  clients: number;
  bytes: number;
  lines: number;
  p50Ms: number;
  maxMs: number;
  /** CPU time per render (user + system): on a shared, loaded machine wall time mostly measures waiting. */
  cpuP50Ms: number;
}

export async function runScrapeBench(): Promise<ScrapeResult> {
  // Every model priced, as in production: each client's cost is a series of its own.
  const prices = join(mkdtempSync(join(tmpdir(), 'vdm-bench-')), 'prices.yaml');
  writeFileSync(prices, 'prices:\n  - {provider: openai, model: "model-*", input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n');
  const config = loadConfig({ LOG_LEVEL: 'silent', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000', VDM_PRICES_FILE: prices });
  const tracker = new TrackerService(config, SYSTEM_CLOCK);
  const exporter = new PrometheusExporter(tracker, new RejectionCounter(), new CountTokensCounter());
  let n = 0;
  const one = (model: number, client: number, streaming: boolean): void => {
    const handle = tracker.begin({ requestId: `r${n++}`, provider: 'openai', resolvedModel: `model-${model}`, isStreaming: streaming, client: `team-${client}` });
    handle.upstreamStarted();
    handle.usage({ inputTokens: 100, outputTokens: 40, cacheReadTokens: 30, cacheCreationTokens: 5 });
    handle.upstreamFinished();
    if (streaming) handle.firstToken();
    if (n % 7 === 0) handle.fail('rate_limit', 'slow down');
    handle.finalize();
  };
  for (let m = 0; m < MODELS; m++) for (let c = 0; c < CLIENTS; c++) for (const s of [false, true]) one(m, c, s);
  const ms: number[] = [];
  const cpu: number[] = [];
  let body = '';
  for (let i = 0; i < (QUICK ? 10 : 30); i++) {
    one(i % MODELS, i % CLIENTS, false);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    body = (await exporter.render(undefined)).body;
    const c = process.cpuUsage(c0);
    ms.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  const s = summarize(ms);
  return { models: MODELS, clients: CLIENTS, bytes: Buffer.byteLength(body), lines: body.split('\n').length, p50Ms: s.p50, maxMs: s.max, cpuP50Ms: summarize(cpu).p50 };
}

export function printScrape(r: ScrapeResult): string {
  return [
    `## 4b. /metrics rendering at ${r.models} models x ${r.clients} clients, in-process`,
    table(['bytes', 'lines', 'p50 ms', 'max ms', 'CPU p50 ms'], [[r.bytes, r.lines, fmt(r.p50Ms, 2), fmt(r.maxMs, 2), fmt(r.cpuP50Ms, 2)]]),
  ].join('\n');
}
