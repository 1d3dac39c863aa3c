import { describe, expect, it } from 'vitest';
import { loadConfig } from './app-config';
import { ConfigError } from './config-error';
import { otelProblems, otelSettings } from './otel-settings';

describe('OpenTelemetry settings', () => {
  it('is off with no OTLP endpoint, whatever else is set', () => {
    expect(otelSettings({})).toBeUndefined();
    expect(otelSettings({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeUndefined();
  });

  it('turns both signals on with the common endpoint, one with its own', () => {
    expect(otelSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      traces: { protocol: 'http/protobuf' },
      metrics: { protocol: 'http/protobuf', intervalMs: 60_000 },
      maxQueueSize: 2048,
    });
    const traces = otelSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    expect(traces).toEqual({ traces: { protocol: 'http/json' }, metrics: undefined, maxQueueSize: 2048 });
    const metrics = otelSettings({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4318/v1/metrics', OTEL_METRIC_EXPORT_INTERVAL: '5000' });
    expect(metrics).toEqual({ traces: undefined, metrics: { protocol: 'http/protobuf', intervalMs: 5000 }, maxQueueSize: 2048 });
  });

  it('a signal protocol overrides the common one; the SDK switches turn signals off', () => {
    const s = otelSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf', OTEL_BSP_MAX_QUEUE_SIZE: '10' });
    expect(s).toEqual({ traces: { protocol: 'http/json' }, metrics: { protocol: 'http/protobuf', intervalMs: 60_000 }, maxQueueSize: 10 });
    expect(otelSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(otelSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' })?.traces).toBeUndefined();
    expect(otelSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_METRICS_EXPORTER: 'none' })?.metrics).toBeUndefined();
  });

  it('with an endpoint set, a protocol that is not built in is a configuration error at startup', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' };
    expect(otelProblems({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual(['OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (got "grpc")']);
    expect(() => loadConfig({ OPENAI_API_KEY: 'sk-x', ...endpoint, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' })).toThrow(ConfigError);
    // Off, the protocol is nobody's business: nothing changes for a gateway without OpenTelemetry.
    expect(otelProblems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual([]);
  });

  it('the standard OTEL_* variables are accepted without a warning', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-x',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://cloud.langfuse.com/api/public/otel',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c/v1/metrics',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic cGs6c2s=',
      OTEL_SERVICE_NAME: 'gw',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.5',
    });
    expect(config.warnings).toEqual([]);
    expect([...config.providers.providers.keys()]).toEqual(['openai']);
  });
});
