/**
 * 4. GET /metrics/running-totals (YAML and JSON) and GET /metrics (Prometheus, if present) with
 * 1,010 buckets (10 providers x 100 models, plus 10 models past the per-provider cardinality cap)
 * and 5,000 requests in flight (held by the upstream). The GETs are timed from a child process of
 * their own on CPU 1: this process holds 5,000 open requests, which slows its own reading.
 */
import { Pool, request } from 'undici';
import { probe } from './support/probe';
import { spawnGateway, type Child } from './support/proc';
import { fmt, QUICK, sleep, summarize, table } from './support/stats';

const PROVIDERS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const MODELS_PER_PROVIDER = 100;
const IN_FLIGHT = 5_000;

export interface EndpointTiming {
  endpoint: string;
  status: number;
  bytes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RunningTotalsResult {
  buckets: number;
  inFlight: number;
  timings: EndpointTiming[];
  metricsAvailable: boolean;
}

export async function runRunningTotalsBench(upstream: Child, log: (line: string) => void): Promise<RunningTotalsResult> {
  const env: Record<string, string> = {};
  for (const p of PROVIDERS) {
    env[`${p.toUpperCase()}_API_KEY`] = 'x';
    env[`${p.toUpperCase()}_BASE_URL`] = upstream.url;
    env[`${p.toUpperCase()}_API_FORMAT`] = 'anthropic';
  }
  const gw = await spawnGateway('gateway-totals', env, 0);
  const pool = new Pool(gw.url, { connections: IN_FLIGHT + 16 });
  const post = (model: string, hold: boolean): Promise<void> =>
    pool
      .request({
        path: '/v1/messages',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 8, metadata: { user_id: hold ? 'hold_ms=600000' : 'now' }, messages: [{ role: 'user', content: 'hi' }] }),
      })
      .then((r) => r.body.text())
      .then(() => undefined);
  try {
    const models: string[] = [];
    for (const p of PROVIDERS) for (let m = 0; m < MODELS_PER_PROVIDER; m++) models.push(`${p}:model-${m}`);
    for (let m = MODELS_PER_PROVIDER; m < MODELS_PER_PROVIDER + 10; m++) models.push(`${PROVIDERS[0]}:model-${m}`);
    for (let i = 0; i < models.length; i += 50) await Promise.all(models.slice(i, i + 50).map((m) => post(m, false)));
    const held: Promise<void>[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) {
      held.push(post(models[i % models.length], true).catch(() => undefined));
      if (i % 500 === 499) await sleep(20);
    }
    let active = 0;
    for (let tries = 0; tries < 600; tries++) {
      active = (await gw.stats()).active as number;
      if (active >= IN_FLIGHT) break;
      await sleep(50);
    }
    log(`  ${models.length} buckets, ${active} requests in flight`);
    const samples = QUICK ? 10 : 30;
    const timings: EndpointTiming[] = [];
    let metricsAvailable = false;
    for (const endpoint of ['/metrics/running-totals', '/metrics/running-totals?format=json', '/metrics']) {
      const { status, bytes, ms } = await probe(gw.url + endpoint, samples, 1);
      if (endpoint === '/metrics') metricsAvailable = status === 200;
      const s = summarize(ms);
      timings.push({ endpoint, status, bytes, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max });
      log(`  GET ${endpoint}: ${status}, ${bytes} bytes, p50 ${fmt(s.p50, 2)} ms, max ${fmt(s.max, 2)} ms`);
    }
    await request(`${upstream.url}/__release`).then((r) => r.body.text());
    await Promise.all(held);
    return { buckets: models.length, inFlight: active, timings, metricsAvailable };
  } finally {
    await pool.close();
    await gw.stop();
  }
}

export function printRunningTotals(r: RunningTotalsResult): string {
  return [
    `## 4. Running totals and /metrics with ${r.buckets} buckets and ${r.inFlight} requests in flight`,
    table(
      ['endpoint', 'status', 'bytes', 'p50 ms', 'p99 ms', 'max ms'],
      r.timings.map((t) => [t.endpoint, t.status, t.bytes, fmt(t.p50Ms, 2), fmt(t.p99Ms, 2), fmt(t.maxMs, 2)]),
    ),
    r.metricsAvailable ? '' : 'GET /metrics: not available in this build (no 200 answer).',
  ].join('\n');
}
