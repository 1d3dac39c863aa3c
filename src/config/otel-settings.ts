/** The OTLP encodings built in: HTTP with protobuf or JSON bodies (no gRPC). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export const OTLP_PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json'];

/** What the standard OTEL_* variables turn on; the SDK and its exporters read the rest (URL, headers, timeouts, sampler, resource). */
export interface OtelSettings {
  traces?: { protocol: OtlpProtocol };
  metrics?: { protocol: OtlpProtocol; intervalMs: number };
  /** OTEL_BSP_MAX_QUEUE_SIZE. */
  maxQueueSize: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (value: string | undefined): boolean => value !== undefined && value.trim() !== '';

/** A whole number above 0 from the environment, else the default. */
function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return set(value) && Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

function protocolOf(env: Env, signal: 'TRACES' | 'METRICS'): OtlpProtocol {
  const named = (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  return named === 'http/json' ? 'http/json' : 'http/protobuf';
}

/**
 * With OpenTelemetry on, a protocol variable naming an encoding that is not built in: a configuration
 * error, said at startup rather than found out when nothing arrives.
 */
export function otelProblems(env: Env): string[] {
  const problems: string[] = [];
  if (otelSettings(env) === undefined) return problems;
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']) {
    const value = env[name];
    if (set(value) && !OTLP_PROTOCOLS.includes(value!.trim())) problems.push(`${name} must be http/protobuf or http/json (got ${JSON.stringify(value!.slice(0, 40))})`);
  }
  return problems;
}

/**
 * Off (undefined) unless an OTLP endpoint is set: OTEL_EXPORTER_OTLP_ENDPOINT for both signals, or
 * the _TRACES_ / _METRICS_ form for one. OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER /
 * OTEL_METRICS_EXPORTER set to `none`, turns a signal off as the SDK specification says.
 */
export function otelSettings(env: Env): OtelSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const common = set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const traces = (common || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) && env.OTEL_TRACES_EXPORTER?.trim() !== 'none';
  const metrics = (common || set(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)) && env.OTEL_METRICS_EXPORTER?.trim() !== 'none';
  if (!traces && !metrics) return undefined;
  return {
    traces: traces ? { protocol: protocolOf(env, 'TRACES') } : undefined,
    metrics: metrics ? { protocol: protocolOf(env, 'METRICS'), intervalMs: positive(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000) } : undefined,
    maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048),
  };
}
