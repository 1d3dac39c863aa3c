import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { OtelSettings } from '../config/otel-settings';
import type { RequestTracer } from '../metrics/request-span';
import { BoundedSpanProcessor, type DropReason } from './bounded-span-processor';
import { GenAiInstruments } from './genai-metrics';
import { OtelRequestTracer } from './request-trace';

export const DEFAULT_SERVICE_NAME = 'vandamme-gateway';
const SCOPE = 'vandamme-gateway';

/** service.name defaults to the gateway's; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (read by the SDK's detector) override it. */
function resource(): Resource {
  return defaultResource().merge(resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME })).merge(detectResources({ detectors: [envDetector] }));
}

/** The running SDK: the request tracer to hand the tracker, and how to flush and stop it. */
export interface OtelSdk {
  tracer: RequestTracer;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Builds the SDK's providers and exporters from the settings. Loaded only when OpenTelemetry is on,
 * so a gateway without it never loads the SDK. The exporters read their endpoint, headers, timeout,
 * compression and temporality from the OTEL_* variables themselves; the sampler comes from
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (parent-based always-on by default), read by the SDK.
 */
export function startSdk(settings: OtelSettings, dropped: (reason: DropReason, count: number) => void): OtelSdk {
  const res = resource();
  let meterProvider: MeterProvider | undefined;
  let tracerProvider: BasicTracerProvider | undefined;
  let instruments: GenAiInstruments | undefined;
  if (settings.metrics) {
    const exporter = settings.metrics.protocol === 'http/json' ? new JsonMetricExporter() : new ProtoMetricExporter();
    meterProvider = new MeterProvider({
      resource: res,
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: settings.metrics.intervalMs })],
    });
    instruments = new GenAiInstruments(meterProvider.getMeter(SCOPE));
  }
  if (settings.traces) {
    const exporter = settings.traces.protocol === 'http/json' ? new JsonTraceExporter() : new ProtoTraceExporter();
    tracerProvider = new BasicTracerProvider({ resource: res, spanProcessors: [new BoundedSpanProcessor(exporter, settings.maxQueueSize, dropped)] });
  }
  return {
    tracer: new OtelRequestTracer(tracerProvider?.getTracer(SCOPE), instruments),
    flush: async () => {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider?.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
    },
  };
}
