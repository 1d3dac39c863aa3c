/**
 * 12. Budgets and rate limits on one machine (the in-memory ledger):
 * (a) in-process, what a request's reservation and settlement add to its bookkeeping: tracker begin +
 *     finalize alone, against the same with LimitsService.admit (one budget and one limit with
 *     requests, tokens and concurrency: four claims) and its settlement; the input estimate is given
 *     (it is the provenance estimator's cost, section 9), so this is the rules, the bound and the ledger;
 * (b) through the gateway with autocannon against the lean upstream: the same gateway with and
 *     without VDM_LIMITS_FILE (the rules applying to every request), alternating rounds; the ratio is
 *     limits on over off (target >= 0.95).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type AppConfig } from '../src/config/app-config';
import { LimitsService } from '../src/limits/limits.service';
import type { PrometheusExporter } from '../src/metrics/prometheus-exporter.service';
import { RejectionCounter } from '../src/metrics/rejections';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import type { UsageStore } from '../src/store/usage-store.service';
import { anthropicBody, load } from './support/load';
import { spawnChild, spawnGateway, type Child } from './support/proc';
import { fmt, median, QUICK, table } from './support/stats';

export interface LimitsResult {
  /** (a) microseconds per request. */
  inProcess: { bookkeepingUs: number; withLimitsUs: number; addedUs: number };
  /** (b) per body kind and connections: requests per second off and on, and on / off. */
  throughput: { stream: boolean; connections: number; offRps: number; onRps: number; ratio: number; onNon2xx: number }[];
}

const RULES = (client: string): string =>
  [
    'budgets:',
    `  - {name: bench-monthly, client: "${client}", usd: 1000000, period: month}`,
    'limits:',
    `  - {name: bench-limit, client: "${client}", requests_per_minute: 100000000, tokens_per_minute: 1000000000, concurrent: 100000}`,
    '',
  ].join('\n');
const PRICES = 'prices:\n  - {provider: anthropic, model: "*", input: 3, output: 15}\n';

function inProcess(config: AppConfig): { plain: (count: number) => number; withLimits: (count: number) => Promise<number> } {
  const tracker = new TrackerService(config, SYSTEM_CLOCK);
  const exporter = { register: () => undefined } as unknown as PrometheusExporter;
  const store = { engine: undefined } as unknown as UsageStore;
  const limits = new LimitsService(config, tracker, new RejectionCounter(), store, exporter, SYSTEM_CLOCK);
  const headers = (): void => undefined;
  let seq = 0;
  const plain = (count: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const m = tracker.begin({ requestId: `p${++seq}`, client: 'bench', api: 'anthropic_messages' });
      m.route('anthropic', 'claude-bench');
      m.usage({ inputTokens: 10, outputTokens: 5 });
      m.finalize();
    }
    return Number(process.hrtime.bigint() - t0) / 1000 / count;
  };
  const withLimits = async (count: number): Promise<number> => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const m = tracker.begin({ requestId: `l${++seq}`, client: 'bench', api: 'anthropic_messages' });
      m.route('anthropic', 'claude-bench');
      await limits.admit({ metrics: m, provider: 'anthropic', model: 'claude-bench', inputTokens: () => 12, outputCap: 16, hasOutput: true, setHeaders: headers });
      m.usage({ inputTokens: 10, outputTokens: 5 });
      m.finalize();
    }
    return Number(process.hrtime.bigint() - t0) / 1000 / count;
  };
  return { plain, withLimits };
}

export async function runLimitsBench(log: (line: string) => void): Promise<LimitsResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-bench-limits-'));
  try {
    writeFileSync(join(dir, 'limits.yaml'), RULES('*'));
    writeFileSync(join(dir, 'prices.yaml'), PRICES);

    // (a) in-process.
    const config = loadConfig({ LOG_LEVEL: 'silent', VDM_STORE: 'none', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000', VDM_LIMITS_FILE: join(dir, 'limits.yaml'), VDM_PRICES_FILE: join(dir, 'prices.yaml') });
    const { plain, withLimits } = inProcess(config);
    const perRound = QUICK ? 20_000 : 100_000;
    const rounds = QUICK ? 3 : 7;
    plain(5_000);
    await withLimits(5_000);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        a.push(plain(perRound));
        b.push(await withLimits(perRound));
      } else {
        b.push(await withLimits(perRound));
        a.push(plain(perRound));
      }
    }
    const bookkeepingUs = median(a);
    const withLimitsUs = median(b);
    log(`  in-process: bookkeeping ${fmt(bookkeepingUs, 2)} us, with reservation and settlement ${fmt(withLimitsUs, 2)} us per request`);

    // (b) through the gateway.
    const upstream: Child = await spawnChild('lean-upstream', 'support/lean-upstream.js', {}, 1);
    const providerEnv = { ANTHROPIC_API_KEY: 'x', ANTHROPIC_BASE_URL: upstream.url, VDM_PRICES_FILE: join(dir, 'prices.yaml') };
    const off = await spawnGateway('gateway-limits-off', providerEnv, 0);
    const on = await spawnGateway('gateway-limits-on', { ...providerEnv, VDM_LIMITS_FILE: join(dir, 'limits.yaml') }, 0);
    const throughput: LimitsResult['throughput'] = [];
    try {
      const durationS = QUICK ? 2 : 4;
      const levels = QUICK ? [16] : [1, 16, 64];
      for (const g of [off, on]) for (const stream of [false, true]) await load({ url: `${g.url}/v1/messages`, body: anthropicBody(stream), connections: 8, durationS: 1 });
      for (const stream of [false, true]) {
        for (const connections of levels) {
          const offRps: number[] = [];
          const onRps: number[] = [];
          let onNon2xx = 0;
          for (let round = 0; round < (QUICK ? 2 : 4); round++) {
            for (const g of round % 2 === 0 ? [off, on] : [on, off]) {
              const r = await load({ url: `${g.url}/v1/messages`, body: anthropicBody(stream), connections, durationS });
              (g === on ? onRps : offRps).push(r.rps);
              if (g === on) onNon2xx += r.non2xx + r.errors;
            }
          }
          const row = { stream, connections, offRps: median(offRps), onRps: median(onRps), ratio: median(onRps) / median(offRps), onNon2xx };
          throughput.push(row);
          log(`  ${stream ? 'stream' : 'json  '} c=${String(connections).padEnd(3)} off ${fmt(row.offRps, 0)} req/s, on ${fmt(row.onRps, 0)} req/s, on/off ${fmt(row.ratio, 3)}${onNon2xx > 0 ? `  NON-2XX ${onNon2xx}` : ''}`);
        }
      }
    } finally {
      await on.stop();
      await off.stop();
      await upstream.stop();
    }
    return { inProcess: { bookkeepingUs, withLimitsUs, addedUs: withLimitsUs - bookkeepingUs }, throughput };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printLimits(r: LimitsResult): string {
  return [
    '## 12. Budgets and rate limits on one machine (in-memory ledger)',
    table(
      ['in-process, per request', 'us'],
      [
        ['tracker bookkeeping (begin, route, usage, finalize)', fmt(r.inProcess.bookkeepingUs, 2)],
        ['the same with a reservation of 4 claims and its settlement', fmt(r.inProcess.withLimitsUs, 2)],
        ['added by the reservation', fmt(r.inProcess.addedUs, 2)],
      ],
    ),
    '',
    table(
      ['body', 'connections', 'limits off req/s', 'limits on req/s', 'on / off'],
      r.throughput.map((t) => [t.stream ? 'stream' : 'json', String(t.connections), fmt(t.offRps, 0), fmt(t.onRps, 0), fmt(t.ratio, 3)]),
    ),
  ].join('\n');
}
