/** autocannon runs with exact (float ms) latencies taken from its per-response event. */
import autocannon from 'autocannon';
import { summarize } from './stats';

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
  /** Fixed total request rate (autocannon `overallRate`); closed loop when absent. */
  rate?: number;
  headers?: Record<string, string>;
}

export async function load(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const instance = autocannon({
    url: o.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client', 'anthropic-version': '2023-06-01', ...o.headers },
    body: o.body,
    connections: o.connections,
    duration: o.durationS,
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
