import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { LoggingMode } from '../logging/logger';
import { LOGGING_MODE } from '../logging/logging.module';
import { METRICS_DISABLED } from '../core/disabled';
import { foldAscii, Glob } from '../core/glob';
import type { RunningTotalsFilter } from './calculations/wildcard';
import { CountTokensCounter } from './count-tokens';
import type { LogsQuery } from './dto/logs.query';
import type { RunningTotalsQuery } from './dto/running-totals.query';
import { wireClientSeries, wireRunningTotals, wireSeries, type WireActiveRow, type WireTrace } from './format/wire';
import { renderYamlReport } from './format/yaml';
import type { PricesQuery } from './dto/prices.query';
import { wirePrices, type WirePrices } from './format/prices';
import type { PriceFacts } from './pricing/price-book';
import { CLOCK, TrackerService, type Clock } from './tracker.service';

export interface RenderedReport {
  contentType: string;
  body: string;
}

export interface ActiveRequestsDoc {
  disabled: boolean;
  message?: string;
  suggestion?: string;
  active_requests: WireActiveRow[];
}

export interface LogsDoc {
  disabled?: boolean;
  message?: string;
  suggestion?: string;
  /** systemd-journald logging: not supported, so never requested nor effective; `handler` is the one in use. */
  systemd: { requested: boolean; effective: boolean; handler: string };
  /** Log format asked for (LOG_PRETTY) and the one in effect (pretty needs pino-pretty, absent in the production image). */
  logging: { requested: string; effective: string; handler: string; level: string };
  errors: WireTrace[];
  traces: WireTrace[];
}

const YAML_TYPE = 'application/yaml; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Builds the documents the metrics endpoints serve, so the controller stays one line per handler. */
@Injectable()
export class MetricsReportService {
  constructor(
    private readonly tracker: TrackerService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGING_MODE) private readonly loggingMode: LoggingMode,
    private readonly countTokens: CountTokensCounter,
  ) {}

  /** The price of the provider/model asked for, or of every one seen so far (filtered by the globs given). */
  prices(query: PricesQuery): WirePrices {
    const book = this.tracker.prices;
    const tiers = (e: PriceFacts): PriceFacts[] => book.tierOverrides(e.provider, e.model);
    const provider = query.provider === undefined ? undefined : new Glob(query.provider);
    const model = query.model === undefined ? undefined : new Glob(query.model);
    if (provider?.literal && model?.literal) {
      return wirePrices([book.peek(foldAscii(provider.pattern), model.pattern)], this.config.prices?.path, tiers);
    }
    const entries = [...book.known()].filter((e) => (provider?.test(e.provider) ?? true) && (model?.test(e.model) ?? true));
    return wirePrices(entries, this.config.prices?.path, tiers);
  }

  /** `ownClient`: a client key's own view (contract section 13), whatever the query's client glob. */
  runningTotals(query: RunningTotalsQuery, accept: string | undefined, ownClient?: string): RenderedReport {
    const asJson = query.format === 'json' || (query.format === undefined && /application\/json/i.test(accept ?? ''));
    const now = this.clock.nowUnix();
    if (!this.tracker.enabled) {
      const doc = METRICS_DISABLED;
      return asJson
        ? { contentType: JSON_TYPE, body: JSON.stringify(doc) }
        : { contentType: YAML_TYPE, body: renderYamlReport('Running Totals Report', doc, now) };
    }
    const filter: RunningTotalsFilter = {
      provider: query.provider ? new Glob(query.provider) : undefined,
      model: query.model ? new Glob(query.model) : undefined,
      client: query.client ? new Glob(query.client) : undefined,
      ownClient,
    };
    const countTokens = ownClient === undefined ? this.countTokens.requests : this.countTokens.requestsOf(ownClient);
    const doc = wireRunningTotals(this.tracker.runningTotals(filter, query.include_active !== 'false'), countTokens);
    if (asJson) return { contentType: JSON_TYPE, body: JSON.stringify({ ...doc, series: wireSeries(doc), client_series: wireClientSeries(doc) }) };
    const described = [
      query.provider ? `provider=${query.provider}` : undefined,
      query.model ? `model=${query.model}` : undefined,
      query.client ? `client=${query.client}` : undefined,
    ].filter(Boolean);
    return {
      contentType: YAML_TYPE,
      body: renderYamlReport('Running Totals Report', doc, now, described.join(' & ') || undefined),
    };
  }

  activeRequests(ownClient?: string): ActiveRequestsDoc {
    if (!this.tracker.enabled) {
      return { ...METRICS_DISABLED, active_requests: [] };
    }
    return { disabled: false, active_requests: this.tracker.activeSnapshot(ownClient) };
  }

  logs(query: LogsQuery, ownClient?: string): LogsDoc {
    const mode = this.loggingMode;
    const systemd = { requested: false, effective: false, handler: mode.handler };
    const logging = { requested: mode.requested, effective: mode.effective, handler: mode.handler, level: mode.level };
    if (!this.tracker.enabled) {
      return { ...METRICS_DISABLED, systemd, logging, errors: [], traces: [] };
    }
    return {
      systemd,
      logging,
      errors: this.tracker.recentErrors(query.limit_errors, ownClient),
      traces: this.tracker.recentTraces(query.limit_traces, ownClient),
    };
  }
}
