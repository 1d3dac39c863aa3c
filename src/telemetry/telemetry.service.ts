import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import { TrackerService } from '../metrics/tracker.service';
import { BoundedSpanProcessor } from './bounded-span-processor';
import { GenAiInstruments } from './genai-metrics';
import { otelSettings, type OtelSettings } from '../config/otel-settings';
import { OtelRequestTracer } from './request-trace';

export const DEFAULT_SERVICE_NAME = 'vandamme-gateway';
const SCOPE = 'vandamme-gateway';

/** service.name defaults to the gateway's; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (read by the SDK's detector) override it. */
function resource(): Resource {
  return defaultResource().merge(resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME })).merge(detectResources({ detectors: [envDetector] }));
}

/** Resolves when `work` settles or `ms` passes, whichever comes first. */
async function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * OpenTelemetry through the official SDK, on only when the standard OTEL_* variables name an OTLP
 * endpoint: each request's trace (hung off its metrics handle) and the GenAI metrics, over OTLP/HTTP.
 * Off, nothing is built and requests carry a no-op span.
 */
@Injectable()
export class TelemetryService implements OnApplicationShutdown {
  private readonly logger = new Logger('OpenTelemetry');
  readonly settings: OtelSettings | undefined;
  private readonly tracerProvider?: BasicTracerProvider;
  private readonly meterProvider?: MeterProvider;
  /** Spans that never reached the collector, by reason (the queue was full, or the export failed). */
  readonly dropped = new Counter<'reason'>({
    name: 'vdm_otel_dropped_spans_total',
    help: 'OpenTelemetry spans not delivered to the collector, by reason (queue_full, export_failed).',
    labelNames: ['reason'],
    registers: [],
  });

  constructor(
    tracker: TrackerService,
    prometheus: PrometheusExporter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.settings = otelSettings(process.env);
    const settings = this.settings;
    if (settings === undefined) return;
    const res = resource();
    let instruments: GenAiInstruments | undefined;
    if (settings.metrics) {
      // The exporters read their endpoint, headers, timeout and temporality from the OTEL_* variables themselves.
      const exporter = settings.metrics.protocol === 'http/json' ? new JsonMetricExporter() : new ProtoMetricExporter();
      this.meterProvider = new MeterProvider({
        resource: res,
        readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: settings.metrics.intervalMs })],
      });
      instruments = new GenAiInstruments(this.meterProvider.getMeter(SCOPE));
    }
    if (settings.traces) {
      const exporter = settings.traces.protocol === 'http/json' ? new JsonTraceExporter() : new ProtoTraceExporter();
      for (const reason of ['queue_full', 'export_failed']) this.dropped.inc({ reason }, 0);
      prometheus.register(this.dropped);
      // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (parent-based always-on by default), read by the SDK.
      this.tracerProvider = new BasicTracerProvider({
        resource: res,
        spanProcessors: [new BoundedSpanProcessor(exporter, settings.maxQueueSize, (reason, n) => this.dropped.inc({ reason }, n))],
      });
    }
    const tracer = this.tracerProvider?.getTracer(SCOPE);
    if (tracer !== undefined || instruments !== undefined) tracker.traceWith(new OtelRequestTracer(tracer, instruments));
    this.logger.log(`Exporting ${[settings.traces && `traces (${settings.traces.protocol})`, settings.metrics && `metrics (${settings.metrics.protocol})`].filter(Boolean).join(' and ')} over OTLP`);
  }

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** Sends what is queued now (tests, and shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.tracerProvider?.forceFlush(), this.meterProvider?.forceFlush()]);
  }

  /** What is queued is sent, within the shutdown grace period: a collector that is down cannot hold the exit. */
  async onApplicationShutdown(): Promise<void> {
    if (!this.enabled) return;
    const done = await within(this.config.shutdownGraceMs, Promise.all([this.tracerProvider?.shutdown(), this.meterProvider?.shutdown()]));
    if (!done) this.logger.warn(`Spans and metrics not sent within ${this.config.shutdownGraceMs} ms of shutdown were dropped`);
  }
}
