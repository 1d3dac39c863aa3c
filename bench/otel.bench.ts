/**
 * 13. OpenTelemetry: (off) the gateway without OTEL_* variables against (on) the same gateway
 * exporting every request's trace and the GenAI metrics over OTLP/HTTP to a local sink that answers
 * 200, in one run, alternating rounds, closed loop: the throughput ratio on/off (target >= 0.95).
 * Then a collector that fails: the same gateway exporting to a sink that answers 503, and to one that
 * never answers, at a fixed rate (open loop), against off and a working collector: the median latency
 * must not move, and the gateway's CPU per request must not grow past a working collector's.
 * Gateways on CPU 0; the load, the upstream and the sinks on CPU 1. The SDK's default queue
 * (2048 spans, 5 s schedule) and export timeout (10 s) apply.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../src/config/app-config';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import { BoundedSpanProcessor } from '../src/telemetry/bounded-span-processor';
import { GenAiInstruments } from '../src/telemetry/genai-metrics';
import { OtelRequestTracer } from '../src/telemetry/request-trace';
import { anthropicBody, load, paced } from './support/load';
import { cpuUs, spawnChild, spawnGateway, type Child } from './support/proc';
import { fmt, median, QUICK, table } from './support/stats';

type Variant = 'off' | 'on' | 'on_503' | 'on_hang';
const LABEL: Record<Variant, string> = {
  off: 'off (no OTEL_* variables)',
  on: 'on, collector answers 200',
  on_503: 'on, collector answers 503',
  on_hang: 'on, collector never answers',
};

export interface OtelRow {
  variant: Variant;
  stream: boolean;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** The gateway process's CPU per request (us): steadier than req/s on a shared machine. */
  cpuUsPerRequest?: number;
}

export interface OtelResult {
  /** In-process: one streamed request's accounting through its metrics handle, off and with OpenTelemetry (us). */
  inProcess: { offUs: number; onUs: number; addedUs: number; exportedBytes: number };
  /** The added in-process cost over the gateway's CPU per request with OpenTelemetry off (same run): the throughput a CPU-bound gateway keeps. */
  estimatedRatio: Record<string, number>;
  throughput: OtelRow[];
  /** Per load: on rps / off rps, medians of alternating rounds. */
  ratio: Record<string, number>;
  /** Per load: on CPU per request over off's. */
  cpuRatio: Record<string, number>;
  failing: OtelRow[];
  /** Per variant: median p50 latency (ms) at the fixed rate, and its difference to off. */
  latency: Record<Variant, { p50: number; p99: number; addedP50Ms: number; cpuUsPerRequest: number }>;
  rate: number;
  sinks: Record<string, { exports: number; bytes: number }>;
  /** What the failing gateways counted in vdm_otel_dropped_spans_total. */
  dropped: Record<string, string[]>;
}

const CLIENT_HEADERS = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'content-type': 'application/json' };

/** One streamed request as the request path reports it, begin to finalize. */
function oneRequest(tracker: TrackerService, i: number): void {
  const h = tracker.begin({ requestId: `r${i}`, api: 'anthropic_messages', isStreaming: true, client: 'bench', requestedModel: 'sonnet', maxTokens: 1024, user: 'u', session: 's' }, CLIENT_HEADERS);
  h.route('openai', 'gpt-4o');
  h.upstreamStarted('http://127.0.0.1:8000/v1/chat/completions');
  h.upstreamStatus(200);
  h.upstreamAnswered();
  h.answer({ id: 'chatcmpl-bench', model: 'gpt-4o-2024-08-06' });
  h.firstToken();
  for (let d = 0; d < 20; d++) h.output([' token']);
  h.usage({ inputTokens: 1200, outputTokens: 160, cacheReadTokens: 800 });
  h.answer({ finishReasons: ['stop'] });
  h.upstreamFinished();
  h.finalize(200);
}

/** Requests in batches, yielding between them as a server does, so the batch processor exports as it would. */
async function inProcessLoop(tracker: TrackerService, count: number, offset: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    oneRequest(tracker, offset + i);
    if (i % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / count;
}

async function runInProcess(sink: Child): Promise<OtelResult['inProcess']> {
  const config = loadConfig({ OPENAI_API_KEY: 'x', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000' });
  const off = new TrackerService(config, SYSTEM_CLOCK);
  const on = new TrackerService(config, SYSTEM_CLOCK);
  // The official OTLP/HTTP protobuf exporter, to the local sink.
  const exporter = new OTLPTraceExporter({ url: `${sink.url}/v1/traces` });
  const provider = new BasicTracerProvider({ spanProcessors: [new BoundedSpanProcessor(exporter, 2048, () => undefined)] });
  on.traceWith(new OtelRequestTracer(provider.getTracer('bench'), new GenAiInstruments(new MeterProvider().getMeter('bench'))));
  const rounds = QUICK ? 5 : 9;
  const count = QUICK ? 5_000 : 20_000;
  const times = { off: [] as number[], on: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    for (const which of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      times[which].push(await inProcessLoop(which === 'off' ? off : on, count, round * count));
    }
  }
  await provider.shutdown();
  const offUs = median(times.off);
  const onUs = median(times.on);
  return { offUs, onUs, addedUs: onUs - offUs, exportedBytes: ((await sink.stats()).bytes as number) ?? 0 };
}

async function droppedOf(gw: Child): Promise<string[]> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('vdm_otel_dropped_spans_total{'));
}

export async function runOtelBench(log: (line: string) => void): Promise<OtelResult> {
  const upstream = await spawnChild('lean-upstream', 'support/lean-upstream.js', {}, 1);
  const sinks = {
    ok: await spawnChild('otlp-sink-ok', 'support/otlp-sink.js', { SINK_MODE: 'ok' }, 1),
    unavailable: await spawnChild('otlp-sink-503', 'support/otlp-sink.js', { SINK_MODE: 'unavailable' }, 1),
    hang: await spawnChild('otlp-sink-hang', 'support/otlp-sink.js', { SINK_MODE: 'hang' }, 1),
  };
  const base = { ANTHROPIC_API_KEY: 'x', ANTHROPIC_BASE_URL: upstream.url };
  const otel = (sink: Child) => ({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_METRIC_EXPORT_INTERVAL: '5000', SHUTDOWN_GRACE_SECONDS: '1' });
  const gws: Record<Variant, Child> = {
    off: await spawnGateway('gateway-otel-off', base, 0),
    on: await spawnGateway('gateway-otel-on', otel(sinks.ok), 0),
    on_503: await spawnGateway('gateway-otel-503', otel(sinks.unavailable), 0),
    on_hang: await spawnGateway('gateway-otel-hang', otel(sinks.hang), 0),
  };
  try {
    const inProcess = await runInProcess(sinks.ok);
    log(`  in-process, one streamed request: off ${fmt(inProcess.offUs, 1)} us, on ${fmt(inProcess.onUs, 1)} us (+${fmt(inProcess.addedUs, 1)} us: two spans exported, four metrics)`);
    const durationS = QUICK ? 2 : 4;
    const rounds = QUICK ? 3 : 5;
    const connections = 16;
    for (const v of ['off', 'on', 'on_503', 'on_hang'] as Variant[]) {
      for (const stream of [false, true]) await load({ url: `${gws[v].url}/v1/messages`, body: anthropicBody(stream), connections: 8, durationS: 1 });
    }

    const throughput: OtelRow[] = [];
    for (const stream of [false, true]) {
      for (let round = 0; round < rounds; round++) {
        const order: Variant[] = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
        for (const v of order) {
          const before = await gws[v].stats();
          const r = await load({ url: `${gws[v].url}/v1/messages`, body: anthropicBody(stream), connections, durationS });
          const after = await gws[v].stats();
          const cpuUsPerRequest = (cpuUs(after) - cpuUs(before)) / Math.max(1, r.requests);
          throughput.push({ variant: v, stream, round, rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors + r.non2xx, cpuUsPerRequest });
          log(`  ${LABEL[v].padEnd(32)} ${stream ? 'stream' : 'json  '} c=${connections} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)} ms  cpu ${fmt(cpuUsPerRequest, 1)} us/req${r.errors + r.non2xx > 0 ? `  ERRORS ${r.errors + r.non2xx}` : ''}`);
        }
      }
    }
    const ratio: Record<string, number> = {};
    const cpuRatio: Record<string, number> = {};
    for (const stream of [false, true]) {
      const of = (v: Variant, k: 'rps' | 'cpuUsPerRequest') => median(throughput.filter((r) => r.variant === v && r.stream === stream).map((r) => r[k] ?? NaN));
      ratio[`${stream ? 'stream' : 'json'} c=${connections}`] = of('on', 'rps') / of('off', 'rps');
      cpuRatio[`${stream ? 'stream' : 'json'} c=${connections}`] = of('on', 'cpuUsPerRequest') / of('off', 'cpuUsPerRequest');
    }

    // A collector that fails: open loop at a fixed rate, so a slower gateway shows as latency, not fewer requests.
    const rate = QUICK ? 300 : 500;
    const failing: OtelRow[] = [];
    const variants: Variant[] = ['off', 'on', 'on_503', 'on_hang'];
    // Every gateway as warm as the others (JIT, pools): a colder one shows as slower, whatever its collector does.
    for (const v of variants) await paced({ url: `${gws[v].url}/v1/messages`, body: anthropicBody(false), rate, durationS: 2 * durationS });
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const before = await gws[v].stats();
        const r = await paced({ url: `${gws[v].url}/v1/messages`, body: anthropicBody(false), rate, durationS });
        const after = await gws[v].stats();
        const cpuUsPerRequest = (cpuUs(after) - cpuUs(before)) / Math.max(1, r.requests);
        failing.push({ variant: v, stream: false, round, rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors + r.non2xx, cpuUsPerRequest });
        log(`  ${LABEL[v].padEnd(32)} json   ${rate}/s ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)} ms  cpu ${fmt(cpuUsPerRequest, 1)} us/req${r.errors + r.non2xx > 0 ? `  ERRORS ${r.errors + r.non2xx}` : ''}`);
      }
    }
    const med = (v: Variant, k: 'p50' | 'p99' | 'cpuUsPerRequest') => median(failing.filter((r) => r.variant === v).map((r) => r[k] ?? NaN));
    const latency = Object.fromEntries(
      variants.map((v) => [v, { p50: med(v, 'p50'), p99: med(v, 'p99'), addedP50Ms: med(v, 'p50') - med('off', 'p50'), cpuUsPerRequest: med(v, 'cpuUsPerRequest') }]),
    ) as OtelResult['latency'];
    const sinkStats: OtelResult['sinks'] = {};
    for (const [name, sink] of Object.entries(sinks)) {
      const s = await sink.stats();
      sinkStats[name] = { exports: s.exports as number, bytes: s.bytes as number };
    }
    const estimatedRatio: Record<string, number> = {};
    for (const stream of [false, true]) {
      const offCpu = median(throughput.filter((r) => r.variant === 'off' && r.stream === stream).map((r) => r.cpuUsPerRequest ?? NaN));
      estimatedRatio[`${stream ? 'stream' : 'json'} c=${connections}`] = offCpu / (offCpu + inProcess.addedUs);
    }
    return { inProcess, estimatedRatio, throughput, ratio, cpuRatio, failing, latency, rate, sinks: sinkStats, dropped: { on_503: await droppedOf(gws.on_503), on_hang: await droppedOf(gws.on_hang) } };
  } finally {
    await Promise.all([...Object.values(gws), ...Object.values(sinks), upstream].map((c) => c.stop()));
  }
}

export function printOtel(r: OtelResult): string {
  const out = ['## 13. OpenTelemetry: off against on (exporting to a local OTLP/HTTP sink), alternating rounds; latency in ms'];
  out.push(
    `in-process, one streamed request through its metrics handle: off ${fmt(r.inProcess.offUs, 1)} us, on ${fmt(r.inProcess.onUs, 1)} us; OpenTelemetry adds ${fmt(r.inProcess.addedUs, 1)} us (two spans exported by the OTLP/HTTP protobuf exporter to the local sink, four metrics)`,
  );
  out.push(
    table(
      ['load', 'on/off req/s (target >= 0.95)', 'on/off cpu us/req', 'off cpu / (off cpu + added in-process)'],
      Object.entries(r.ratio).map(([k, x]) => [k, fmt(x, 3), fmt(r.cpuRatio[k], 3), fmt(r.estimatedRatio[k], 3)]),
    ),
  );
  out.push(
    table(
      [`collector (json, ${r.rate} req/s fixed rate)`, 'p50', 'p99', 'p50 - off', 'cpu us/req'],
      (Object.entries(r.latency) as [Variant, OtelResult['latency'][Variant]][]).map(([v, x]) => [LABEL[v], fmt(x.p50, 3), fmt(x.p99, 3), fmt(x.addedP50Ms, 3), fmt(x.cpuUsPerRequest, 1)]),
    ),
  );
  out.push(`sinks: ${Object.entries(r.sinks).map(([k, s]) => `${k} ${s.exports} exports, ${s.bytes} bytes`).join('; ')}`);
  out.push(`dropped: 503 ${r.dropped.on_503.join(' ') || '-'}; never answers ${r.dropped.on_hang.join(' ') || '-'}`);
  return out.join('\n');
}
