/**
 * 1. Tracker hot path: start + two usage updates + finalize per request (10 clients), against a baseline loop
 * that makes the same allocations without the tracker; then the heap across 1,000,000 finished
 * requests over 20 providers x 50 models (it must hold buckets, not requests).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/app-config';
import type { UsagePatch } from '../src/core/usage';
import { newRecord, type RequestStart } from '../src/metrics/model/request-record';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import { fmt, median, QUICK, table } from './support/stats';

const PROVIDERS = Array.from({ length: 20 }, (_, i) => `provider${i}`);
const MODELS = Array.from({ length: 50 }, (_, i) => `model-${i}`);
const CLIENTS = Array.from({ length: 10 }, (_, i) => `team-${i}`);

function startFor(i: number): RequestStart {
  return {
    requestId: `req-${i}`,
    requestedModel: 'sonnet',
    provider: PROVIDERS[i % 20],
    resolvedModel: MODELS[(i / 20) % 50 | 0],
    isStreaming: (i & 1) === 1,
    messageCount: 3,
    requestSize: 512,
    client: CLIENTS[(i >> 3) % 10],
  };
}

let sink = 0;

function baseline(from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    const start = startFor(i);
    const record = newRecord(start, 0, 0);
    const u1: UsagePatch = { inputTokens: 100 + (i & 7), cacheReadTokens: 3, outputTokens: 1 };
    const u2: UsagePatch = { outputTokens: 40 + (i & 3) };
    record.inputTokens = u1.inputTokens!;
    record.outputTokens = u2.outputTokens!;
    sink += record.inputTokens;
  }
}

function tracked(tracker: TrackerService, from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    const handle = tracker.begin(startFor(i));
    handle.usage({ inputTokens: 100 + (i & 7), cacheReadTokens: 3, outputTokens: 1 });
    handle.usage({ outputTokens: 40 + (i & 3) });
    handle.finalize();
  }
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

export interface TrackerResult {
  baselineOpsPerSec: number;
  trackerOpsPerSec: number;
  ratio: number;
  trackerUsPerRequest: number;
  addedUsPerRequest: number;
  heapMb: { finished: number; heapUsedMb: number }[];
  heapGrowthMb: number;
  buckets: number;
}

export function runTrackerBench(): TrackerResult {
  // Every request is priced (cost resolved per provider/model, computed at finalize), as in production.
  const prices = join(mkdtempSync(join(tmpdir(), 'vdm-bench-')), 'prices.yaml');
  writeFileSync(prices, 'prices:\n  - {provider: "provider*", model: "*", input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}\n');
  const config = loadConfig({ LOG_LEVEL: 'silent', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000', VDM_PRICES_FILE: prices });
  const rounds = QUICK ? 3 : 7;
  const perRound = QUICK ? 100_000 : 300_000;
  const warm = new TrackerService(config, SYSTEM_CLOCK);
  baseline(0, 50_000);
  tracked(warm, 0, 50_000);
  const base: number[] = [];
  const trk: number[] = [];
  const tracker = new TrackerService(config, SYSTEM_CLOCK);
  let next = 0;
  // Alternate A and B, and take medians.
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? ['base', 'trk'] : ['trk', 'base']) {
      gc();
      const t0 = process.hrtime.bigint();
      if (which === 'base') baseline(next, perRound);
      else tracked(tracker, next, perRound);
      const ns = Number(process.hrtime.bigint() - t0);
      next += perRound;
      (which === 'base' ? base : trk).push((perRound * 1e9) / ns);
    }
  }
  const baselineOps = median(base);
  const trackerOps = median(trk);

  // Heap across 1,000,000 finished requests (fresh tracker, 20 x 50 buckets).
  const heapTracker = new TrackerService(config, SYSTEM_CLOCK);
  const total = 1_000_000;
  const step = 100_000;
  const heap: { finished: number; heapUsedMb: number }[] = [];
  tracked(heapTracker, 0, 1000); // every bucket exists before the first sample
  gc();
  heap.push({ finished: 1000, heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20 });
  for (let done = 1000; done < total; ) {
    const n = Math.min(step, total - done);
    tracked(heapTracker, done, n);
    done += n;
    gc();
    heap.push({ finished: done, heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20 });
  }
  const buckets = [...heapTracker.completedBuckets()].length;
  if (sink === -1) console.log(sink);
  return {
    baselineOpsPerSec: baselineOps,
    trackerOpsPerSec: trackerOps,
    ratio: trackerOps / baselineOps,
    trackerUsPerRequest: 1e6 / trackerOps,
    addedUsPerRequest: 1e6 / trackerOps - 1e6 / baselineOps,
    heapMb: heap,
    heapGrowthMb: heap.at(-1)!.heapUsedMb - heap[1].heapUsedMb,
    buckets,
  };
}

export function printTracker(r: TrackerResult): string {
  return [
    '## 1. Tracker hot path (start + 2 updates + finalize, every request priced), in-process, median of alternating rounds',
    table(
      ['loop', 'ops/s', 'us/request'],
      [
        ['baseline (same allocations, no tracker)', fmt(r.baselineOpsPerSec, 0), fmt(1e6 / r.baselineOpsPerSec, 3)],
        ['tracker', fmt(r.trackerOpsPerSec, 0), fmt(r.trackerUsPerRequest, 3)],
      ],
    ),
    `tracker/baseline = ${fmt(r.ratio, 3)}; tracker adds ${fmt(r.addedUsPerRequest, 3)} us per request`,
    `heap after GC, MB (finished requests -> heapUsed): ${r.heapMb.map((h) => `${h.finished / 1000}k:${fmt(h.heapUsedMb, 1)}`).join(' ')}`,
    `heap growth from 100k to 1M finished: ${fmt(r.heapGrowthMb, 2)} MB over ${r.buckets} buckets`,
  ].join('\n');
}
