import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { otelSettings, type OtelSettings } from '../config/otel-settings';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import { TrackerService } from '../metrics/tracker.service';
import type { OtelSdk } from './otel-sdk';

/** Resolves true when `work` settles, false when `ms` passes first. */
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
 * Off, the SDK is not even loaded, and requests carry a no-op span.
 */
@Injectable()
export class TelemetryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('OpenTelemetry');
  readonly settings: OtelSettings | undefined;
  private sdk?: OtelSdk;
  /** Spans that never reached the collector, by reason (the queue was full, or the export failed). */
  readonly dropped = new Counter<'reason'>({
    name: 'vdm_otel_dropped_spans_total',
    help: 'OpenTelemetry spans not delivered to the collector, by reason (queue_full, export_failed).',
    labelNames: ['reason'],
    registers: [],
  });

  constructor(
    private readonly tracker: TrackerService,
    private readonly prometheus: PrometheusExporter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.settings = otelSettings(process.env);
  }

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** Before the app listens: loads and starts the SDK when it is on. */
  async onModuleInit(): Promise<void> {
    const settings = this.settings;
    if (settings === undefined) return;
    const { startSdk } = await import('./otel-sdk');
    this.sdk = startSdk(settings, (reason, n) => this.dropped.inc({ reason }, n));
    if (settings.traces) {
      for (const reason of ['queue_full', 'export_failed']) this.dropped.inc({ reason }, 0);
      this.prometheus.register(this.dropped);
    }
    this.tracker.traceWith(this.sdk.tracer);
    const signals = [settings.traces && `traces (${settings.traces.protocol})`, settings.metrics && `metrics (${settings.metrics.protocol})`];
    this.logger.log(`Exporting ${signals.filter(Boolean).join(' and ')} over OTLP`);
  }

  /** Sends what is queued now. */
  async flush(): Promise<void> {
    await this.sdk?.flush();
  }

  /** What is queued is sent, within the shutdown grace period: a collector that is down cannot hold the exit. */
  async onApplicationShutdown(): Promise<void> {
    if (this.sdk === undefined) return;
    const done = await within(this.config.shutdownGraceMs, this.sdk.shutdown());
    if (!done) this.logger.warn(`Spans and metrics not sent within ${this.config.shutdownGraceMs} ms of shutdown were dropped`);
  }
}
