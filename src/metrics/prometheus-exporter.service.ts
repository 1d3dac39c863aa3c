import { Injectable } from '@nestjs/common';
import {
  collectDefaultMetrics,
  openMetricsContentType,
  prometheusContentType,
  Registry,
  type Metric,
  type OpenMetricsContentType,
} from 'prom-client';
import { FAMILIES, prometheusSamples, type FamilyKey, type FamilySamples, type FamilySpec, type Sample } from './format/prometheus';
import type { RenderedReport } from './metrics-report.service';
import { CountTokensCounter } from './count-tokens';
import { RejectionCounter } from './rejections';
import { TrackerService } from './tracker.service';

type AnyRegistry = Registry | Registry<OpenMetricsContentType>;

function openMetricsRegistry(): Registry<OpenMetricsContentType> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(openMetricsContentType);
  return registry;
}

/**
 * A family whose samples are read at scrape time. prom-client renders any registered object with
 * `get()` (lib/registry.js, getMetricsAsString); for counters in OpenMetrics it renames `name` in
 * place (dropping `_total`) before calling `get()`, so `name` stays a plain mutable field.
 */
class ScrapedFamily {
  readonly aggregator = 'sum';

  constructor(
    public name: string,
    readonly help: string,
    readonly type: FamilySpec['type'],
    private readonly read: () => Sample[],
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.read() });
  }

  reset(): void {
    // State lives in the tracker.
  }
}

let processRegistries: { text: Registry; openMetrics: Registry<OpenMetricsContentType> } | undefined;

/** Node process metrics belong to the process, not to one app instance: registered once. */
function processMetrics(): NonNullable<typeof processRegistries> {
  if (processRegistries) return processRegistries;
  const text = new Registry();
  const openMetrics = openMetricsRegistry();
  collectDefaultMetrics({ register: text });
  collectDefaultMetrics({ register: openMetrics });
  processRegistries = { text, openMetrics };
  return processRegistries;
}

/** OpenMetrics when the scraper lists it in Accept (Prometheus does when it can parse it). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return /application\/openmetrics-text/i.test(accept ?? '');
}

/** `GET /metrics`: the tracker's state as Prometheus text or OpenMetrics, plus Node process metrics. */
@Injectable()
export class PrometheusExporter {
  private readonly text = new Registry();
  private readonly openMetrics = openMetricsRegistry();
  private cache?: { version: number; samples: FamilySamples };

  constructor(
    private readonly tracker: TrackerService,
    private readonly rejections: RejectionCounter,
    private readonly countTokens: CountTokensCounter,
  ) {
    this.registerFamilies(this.text);
    this.registerFamilies(this.openMetrics);
  }

  /** prom-client metrics of a feature above this floor (the usage store), shown in both formats. */
  register(...metrics: Metric[]): void {
    for (const metric of metrics) {
      this.text.registerMetric(metric);
      this.openMetrics.registerMetric(metric);
    }
  }

  async render(accept: string | undefined): Promise<RenderedReport> {
    const open = wantsOpenMetrics(accept);
    const own = processMetrics();
    const registries: AnyRegistry[] = open ? [own.openMetrics, this.openMetrics] : [own.text, this.text];
    const parts = await Promise.all(registries.map((r) => r.metrics()));
    // Each OpenMetrics exposition ends with one `# EOF`; only the joined one keeps it.
    const body = open ? `${parts.map((p) => p.replace(/# EOF\n$/, '')).join('')}# EOF\n` : parts.join('\n');
    return { contentType: open ? openMetricsContentType : prometheusContentType, body };
  }

  /** Built once per tracker state and shared by every family and both formats. */
  samples(): FamilySamples {
    const version = this.tracker.changeVersion;
    if (this.cache?.version !== version) {
      const samples = prometheusSamples({
        buckets: this.tracker.completedBuckets(),
        active: this.tracker.activeRecords(),
        models: this.tracker.models,
      });
      this.cache = { version, samples };
    }
    return this.cache.samples;
  }

  private registerFamilies(registry: AnyRegistry): void {
    for (const [key, spec] of Object.entries(FAMILIES) as [FamilyKey, FamilySpec][]) {
      const family = new ScrapedFamily(spec.name, spec.help, spec.type, () => this.samples()[key]);
      // prom-client's typings admit only its own metric classes; its registry needs just get() (see above).
      registry.registerMetric(family as unknown as Metric);
    }
    registry.registerMetric(this.rejections.metric);
    const countTokens = new ScrapedFamily(
      'vdm_count_tokens_requests_total',
      'POST /v1/messages/count_tokens calls by provider and outcome (ok, error); not usage, so in no other family.',
      'counter',
      () => this.countTokens.entries().map(({ provider, outcome, value }) => ({ labels: { provider, outcome }, value })),
    );
    registry.registerMetric(countTokens as unknown as Metric);
  }
}
