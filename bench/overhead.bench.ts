/**
 * 2. Gateway overhead with autocannon against the lean fake upstream on loopback:
 * (a) direct, (b) bare Fastify + undici forwarder, (n) the same forwarder as a NestJS app with one
 * interceptor (the framework's floor), (c) gateway with LOG_REQUEST_METRICS=false,
 * (d) gateway with metrics on, (e) (d) with 200 SSE dashboard clients connected.
 * Servers under test run pinned to CPU 0; autocannon, the upstream and the SSE clients share CPU 1.
 */
import { anthropicBody, load, paced, type LoadResult } from './support/load';
import { cpuUs, spawnChild, spawnGateway, type Child } from './support/proc';
import { watchMany, type SseWatcher } from './support/sse-clients';
import { fmt, median, QUICK, sleep, table } from './support/stats';

export type Variant = 'a' | 'b' | 'n' | 'c' | 'd' | 'e';
const VARIANTS: Variant[] = ['a', 'b', 'n', 'c', 'd', 'e'];
const LABEL: Record<Variant, string> = {
  a: 'a direct',
  b: 'b bare forwarder',
  n: 'n Nest forwarder (framework floor)',
  c: 'c gateway, metrics off',
  d: 'd gateway, metrics on',
  e: 'e gateway, metrics on, 200 SSE clients',
};

export interface OverheadRow extends LoadResult {
  variant: Variant;
  stream: boolean;
  connections: number;
  round: number;
  /** CPU of the process under test per request (us); undefined for (a). */
  cpuUsPerRequest?: number;
  /** Its CPU utilisation during the run (1 = one core). */
  cpuUtil?: number;
}

export interface OverheadResult {
  rows: OverheadRow[];
  summary: Record<string, Record<Variant, { rps: number; p50: number; p99: number; p999: number; cpuUsPerRequest?: number }>>;
  ratios: Record<string, { dc: number; db: number; nb: number; dn: number; ed: number; addedP50Ms: number; addedP99Ms: number; bookkeepingUs?: number }>;
  neutral: { addedP99C1Ms: number; addedP50C1Ms: number; maxRateP99Under20Ms: number; sweep: { rate: number; rps: number; p99: number }[] };
  metricsScrape?: undefined;
}

export interface Servers {
  upstream: Child;
  forwarder: Child;
  nest: Child;
  off: Child;
  on: Child;
}

export async function startServers(): Promise<Servers> {
  const upstream = await spawnChild('lean-upstream', 'support/lean-upstream.js', {}, 1);
  const providerEnv = { ANTHROPIC_API_KEY: 'x', ANTHROPIC_BASE_URL: upstream.url };
  const forwarder = await spawnChild('bare-forwarder', 'bare-forwarder.js', { UPSTREAM_URL: upstream.url }, 0);
  const nest = await spawnChild('nest-forwarder', 'nest-forwarder.js', { UPSTREAM_URL: upstream.url }, 0);
  const off = await spawnGateway('gateway-metrics-off', { ...providerEnv, LOG_REQUEST_METRICS: 'false' }, 0);
  const on = await spawnGateway('gateway-metrics-on', { ...providerEnv, LOG_REQUEST_METRICS: 'true' }, 0);
  return { upstream, forwarder, nest, off, on };
}

export async function stopServers(s: Servers): Promise<void> {
  await Promise.all([s.upstream.stop(), s.forwarder.stop(), s.nest.stop(), s.off.stop(), s.on.stop()]);
}

export async function runOverheadBench(s: Servers, log: (line: string) => void): Promise<OverheadResult> {
  const durationS = QUICK ? 1 : 4;
  const rounds = QUICK ? 1 : 2;
  const levels = QUICK ? [1, 32] : [1, 16, 64];
  const target = (v: Variant): { url: string; proc?: Child } => {
    switch (v) {
      case 'a':
        return { url: `${s.upstream.url}/v1/messages` };
      case 'b':
        return { url: `${s.forwarder.url}/v1/messages`, proc: s.forwarder };
      case 'n':
        return { url: `${s.nest.url}/v1/messages`, proc: s.nest };
      case 'c':
        return { url: `${s.off.url}/v1/messages`, proc: s.off };
      case 'd':
      case 'e':
        return { url: `${s.on.url}/v1/messages`, proc: s.on };
    }
  };
  const rows: OverheadRow[] = [];
  const one = async (v: Variant, stream: boolean, connections: number, round: number): Promise<void> => {
    const { url, proc } = target(v);
    let clients: SseWatcher[] = [];
    if (v === 'e') {
      clients = await watchMany(`${s.on.url}/metrics/active-requests/stream`, 200);
      await sleep(200);
    }
    const before = proc ? await proc.stats() : undefined;
    const r = await load({ url, body: anthropicBody(stream), connections, durationS });
    const after = proc ? await proc.stats() : undefined;
    for (const c of clients) c.close();
    const row: OverheadRow = { ...r, variant: v, stream, connections, round };
    if (before && after) {
      row.cpuUsPerRequest = (cpuUs(after) - cpuUs(before)) / Math.max(1, r.requests);
      row.cpuUtil = (cpuUs(after) - cpuUs(before)) / 1e6 / r.durationS;
    }
    rows.push(row);
    log(`  ${LABEL[v].padEnd(40)} ${stream ? 'stream' : 'json  '} c=${String(connections).padEnd(3)} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)}  p99.9 ${fmt(r.p999, 3)} ms${row.cpuUsPerRequest !== undefined ? `  cpu ${fmt(row.cpuUsPerRequest, 1)} us/req (${fmt(row.cpuUtil! * 100, 0)}% core)` : ''}${r.errors + r.non2xx > 0 ? `  ERRORS ${r.errors} non2xx ${r.non2xx}` : ''}`);
    if (v === 'e') await sleep(200);
  };

  // Warm every path (JIT, keep-alive pools).
  for (const v of ['a', 'b', 'n', 'c', 'd'] as Variant[]) {
    for (const stream of [false, true]) await load({ url: target(v).url, body: anthropicBody(stream), connections: 8, durationS: 1 });
  }
  for (const stream of [false, true]) {
    for (const connections of levels) {
      for (let round = 0; round < rounds; round++) {
        const order: Variant[] = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        for (const v of order) await one(v, stream, connections, round);
      }
    }
  }

  const summary: OverheadResult['summary'] = {};
  const ratios: OverheadResult['ratios'] = {};
  for (const stream of [false, true]) {
    for (const connections of levels) {
      const key = `${stream ? 'stream' : 'json'} c=${connections}`;
      const pick = (v: Variant) => rows.filter((r) => r.variant === v && r.stream === stream && r.connections === connections);
      const agg = (v: Variant) => {
        const rs = pick(v);
        const cpu = rs.map((r) => r.cpuUsPerRequest).filter((x): x is number => x !== undefined);
        return { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), p999: median(rs.map((r) => r.p999)), cpuUsPerRequest: cpu.length ? median(cpu) : undefined };
      };
      const m = { a: agg('a'), b: agg('b'), n: agg('n'), c: agg('c'), d: agg('d'), e: agg('e') };
      summary[key] = m;
      ratios[key] = {
        dc: m.d.rps / m.c.rps,
        db: m.d.rps / m.b.rps,
        nb: m.n.rps / m.b.rps,
        dn: m.d.rps / m.n.rps,
        ed: m.e.rps / m.d.rps,
        addedP50Ms: m.d.p50 - m.a.p50,
        addedP99Ms: m.d.p99 - m.a.p99,
        bookkeepingUs: m.d.cpuUsPerRequest !== undefined && m.c.cpuUsPerRequest !== undefined ? m.d.cpuUsPerRequest - m.c.cpuUsPerRequest : undefined,
      };
    }
  }

  // Neutral-harness numbers: added p99 at concurrency 1, and the highest fixed rate with gateway p99 < 20 ms.
  const c1 = ratios['json c=1'];
  const sweep: { rate: number; rps: number; p99: number }[] = [];
  let maxRate = 0;
  const rates = QUICK ? [250, 500, 1000, 1500] : [250, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000];
  for (const rate of rates) {
    const r = await paced({ url: `${s.on.url}/v1/messages`, body: anthropicBody(false), rate, durationS: QUICK ? 2 : 4 });
    sweep.push({ rate, rps: r.rps, p99: r.p99 });
    log(`  rate sweep (d, json, open loop, evenly paced): offered ${rate}/s -> ${fmt(r.rps, 0)}/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms`);
    const kept = r.rps >= rate * 0.95 && r.p99 < 20 && r.errors + r.non2xx === 0;
    if (!kept) break;
    maxRate = rate;
  }
  return { rows, summary, ratios, neutral: { addedP99C1Ms: c1.addedP99Ms, addedP50C1Ms: c1.addedP50Ms, maxRateP99Under20Ms: maxRate, sweep } };
}

export function printOverhead(r: OverheadResult): string {
  const out: string[] = ['## 2. Gateway overhead (medians over alternating rounds; latency in ms; cpu = server process CPU per request)'];
  const rows: (string | number)[][] = [];
  for (const [key, m] of Object.entries(r.summary)) {
    for (const v of VARIANTS) {
      const x = m[v];
      rows.push([key, LABEL[v], fmt(x.rps, 0), fmt(x.p50, 3), fmt(x.p99, 3), fmt(x.p999, 3), x.cpuUsPerRequest !== undefined ? fmt(x.cpuUsPerRequest, 1) : '-']);
    }
  }
  out.push(table(['load', 'variant', 'req/s', 'p50', 'p99', 'p99.9', 'cpu us/req'], rows));
  out.push(
    table(
      ['load', 'd/c', 'd/b', 'n/b', 'd/n', 'e/d', 'd-a p50 ms', 'd-a p99 ms', 'd-c cpu us/req'],
      Object.entries(r.ratios).map(([k, x]) => [k, fmt(x.dc, 3), fmt(x.db, 3), fmt(x.nb, 3), fmt(x.dn, 3), fmt(x.ed, 3), fmt(x.addedP50Ms, 3), fmt(x.addedP99Ms, 3), x.bookkeepingUs !== undefined ? fmt(x.bookkeepingUs, 1) : '-']),
    ),
  );
  out.push(`neutral format: added p99 at concurrency 1 (gateway d minus direct, json) = ${fmt(r.neutral.addedP99C1Ms, 3)} ms (p50 ${fmt(r.neutral.addedP50C1Ms, 3)} ms); highest fixed rate with gateway p99 < 20 ms = ${r.neutral.maxRateP99Under20Ms} req/s`);
  return out.join('\n');
}
