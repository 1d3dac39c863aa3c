/** autocannon runs with exact (float ms) latencies taken from its per-response event. */
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { sleep, summarize } from './stats';

/** What every bench client sends: an Anthropic Messages call with a client key. */
const CLIENT_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'client', 'anthropic-version': '2023-06-01' };

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  errors: number;
  non2xx: number;
  durationS: number;
}

export interface LoadOptions {
  url: string;
  body: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests, then stop (durationS is then ignored). */
  amount?: number;
  /** Fixed total request rate (autocannon `overallRate`); closed loop when absent. */
  rate?: number;
  headers?: Record<string, string>;
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: o.url,
    method: 'POST',
    headers: { ...CLIENT_HEADERS, ...o.headers },
    body: o.body,
    connections: o.connections,
    duration: o.durationS,
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    ...(o.rate !== undefined ? { overallRate: o.rate } : {}),
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status === 200) latencies.push(ms);
  });
  const started = performance.now();
  const result: any = await instance;
  const elapsedS = (performance.now() - started) / 1000;
  const s = summarize(latencies);
  return {
    requests: latencies.length,
    rps: latencies.length / elapsedS,
    p50: s.p50,
    p99: s.p99,
    p999: s.p999,
    errors: (result.errors ?? 0) + (result.timeouts ?? 0),
    non2xx: result.non2xx ?? 0,
    durationS: elapsedS,
  };
}

export function anthropicBody(stream: boolean, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'anthropic:claude-bench', max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }], ...extra });
}

export interface PacedOptions {
  url: string;
  body: string;
  /** Requests per second, sent evenly (a few per millisecond), whatever the answers do. */
  rate: number;
  durationS: number;
  /** Most requests open at once; an open loop needs enough that the client never queues them. */
  maxConnections?: number;
}

/**
 * Open-loop load at a fixed rate, evenly paced. Each latency runs from the moment the request was
 * due, not from when it could be sent, so a slow server cannot hide its queueing (no coordinated
 * omission). autocannon's `overallRate` releases each second's requests in bursts, which measures
 * the burst's queue rather than the gateway at that rate.
 */
export async function paced(o: PacedOptions): Promise<LoadResult> {
  const target = new URL(o.url);
  const pool = new Pool(target.origin, { connections: o.maxConnections ?? 256 });
  const latencies: number[] = [];
  let errors = 0;
  let non2xx = 0;
  const total = Math.round(o.rate * o.durationS);
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * o.rate) / 1000) + 1);
    for (; sent < due; sent++) {
      const dueAt = t0 + (sent * 1000) / o.rate;
      pending.push(
        pool.request({ path: target.pathname, method: 'POST', headers: CLIENT_HEADERS, body: o.body }).then(
          async (res) => {
            await res.body.dump();
            if (res.statusCode === 200) latencies.push(performance.now() - dueAt);
            else non2xx++;
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  const elapsedS = (performance.now() - t0) / 1000;
  await pool.close();
  const s = summarize(latencies);
  return { requests: latencies.length, rps: latencies.length / elapsedS, p50: s.p50, p99: s.p99, p999: s.p999, errors, non2xx, durationS: elapsedS };
}
