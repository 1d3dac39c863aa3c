import { hostname } from 'node:os';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { loadProviders, type ProviderSettings } from './providers';
import { loadClientKeys, type ClientKey } from './client-keys';
import { ConfigError } from './config-error';
import { durationMs, EnvDto } from './env.dto';
import { readRenamedVariables } from './renamed-variables';
import { unknownVariableWarnings } from './unknown-variables';
import { otelProblems } from './otel-settings';
import { loadPricesFile, type PricesFile } from './prices-file';
import { loadLimitsFile, type LimitsFile } from './limits-file';

export type LogLevel = NonNullable<EnvDto['LOG_LEVEL']>;

/** Typed, validated configuration. Everything reads settings from here, never from process.env. */
export interface AppConfig {
  host: string;
  port: number;
  logLevel: LogLevel;
  logPretty: boolean;
  proxyApiKey?: string;
  /** Named client keys from VDM_CLIENT_KEYS_FILE; empty when unset. */
  clientKeys: ClientKey[];
  /** VDM_SCRAPE_KEY: the key docker compose's Prometheus and json_exporter send; checked at start-up only. */
  scrapeKey?: string;
  /** Distinct key fingerprints named as clients when no gateway key is configured; later ones are `other`. */
  maxClients: number;
  metricsEnabled: boolean;
  summaryInterval: number;
  sse: { enabled: boolean; intervalMs: number; heartbeatMs: number; maxClients: number };
  metricsPublic: boolean;
  maxModelsPerProvider: number;
  defaultProvider?: string;
  requestTimeoutMs: number;
  streamingConnectTimeoutMs: number;
  streamingReadTimeoutMs: number;
  bodyLimitBytes: number;
  /** A request body not fully received within this is cut off with 408. */
  bodyTimeoutMs: number;
  /** Largest non-streaming upstream answer the gateway reads. */
  upstreamResponseLimitBytes: number;
  shutdownGraceMs: number;
  demoTokenDelayMs: number;
  /** The usage store (VDM_STORE): `none`, or where its rows go. */
  store: StoreConfig;
  /** Providers from `{NAME}_API_KEY`, `{NAME}_BASE_URL`, `{NAME}_API_FORMAT`, `{NAME}_ALIAS_{ALIAS}`. */
  providers: ProviderSettings;
  /** VDM_PRICES_FILE, validated at start-up: overrides and additions to the price catalog. */
  prices?: PricesFile;
  /** Reconciliation with the providers' billing reports (providers with `{NAME}_ADMIN_KEY`). */
  reconciliation: ReconciliationConfig;
  /** VDM_LIMITS_FILE, validated at start-up (and on every reload): budgets, rate limits and the alert webhook. */
  limits?: LimitsFile;
  /** VDM_DEFAULT_MAX_OUTPUT_TOKENS: the output cap set on a request with none when a budget applies. */
  defaultMaxOutputTokens: number;
  /** VDM_RESERVATION_LEASE_SECONDS: an unsettled reservation is given back after this. */
  reservationLeaseMs: number;
  /** Variables that configure nothing (an unrelated `{NAME}_API_KEY`, a misspelled name): one line each, logged at start-up. */
  warnings: string[];
}

export interface StoreConfig {
  kind: 'none' | 'sqlite' | 'postgres';
  /** The SQLite file path or the PostgreSQL connection string. */
  location: string;
  instanceId: string;
  flushMs: number;
  queueMax: number;
  retentionDays: number;
}

export interface ReconciliationConfig {
  /** VDM_RECONCILE_INTERVAL: between two pulls of the providers' reports. */
  intervalMs: number;
  /** VDM_RECONCILE_DAYS: the UTC days each pull covers, today included. */
  days: number;
  /** VDM_RECONCILE_TOLERANCE: the largest relative difference still called a match. */
  tolerance: number;
}

/** The shortest interval between two pulls: the reports are daily, and their APIs rate-limited. */
const MIN_RECONCILE_INTERVAL_MS = 60_000;

function storeConfig(dto: EnvDto): StoreConfig {
  const url = dto.VDM_STORE ?? 'sqlite:data/usage.db';
  const kind = url === 'none' ? 'none' : url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
  return {
    kind,
    location: kind === 'sqlite' ? url.slice('sqlite:'.length) : url,
    instanceId: dto.VDM_INSTANCE_ID ?? hostname(),
    flushMs: dto.VDM_STORE_FLUSH_MS ?? 200,
    queueMax: dto.VDM_STORE_QUEUE_MAX ?? 100_000,
    retentionDays: dto.VDM_STORE_RETENTION_DAYS ?? 90,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');

export { ConfigError };

function describe(error: ValidationError, raw: Record<string, string | undefined>, source: ReadonlyMap<string, string>): string {
  const reason = Object.values(error.constraints ?? {})[0] ?? 'is invalid';
  // The variable the operator wrote: a renamed one's old name when its value came from there.
  const name = source.get(error.property) ?? error.property;
  const value = raw[name];
  // A key is a secret: the message tells its length, never the value.
  const shown = (name.endsWith('_API_KEY') || name.endsWith('_ADMIN_KEY')) && value !== undefined ? `(${value.length} characters)` : JSON.stringify(value);
  return `Invalid configuration: ${name}=${shown} ${reason}`;
}

/** Validates the environment; throws a ConfigError with one line per bad variable. */
export function loadConfig(raw: Record<string, string | undefined> = process.env): AppConfig {
  const renamed = readRenamedVariables(raw);
  const dto = plainToInstance(EnvDto, renamed.env);
  const errors = validateSync(dto, { skipMissingProperties: false, forbidUnknownValues: false });
  const problems = errors.map((e) => describe(e, raw, renamed.source));
  problems.push(...otelProblems(raw));
  let providers: ProviderSettings | undefined;
  try {
    providers = loadProviders(raw, dto.VDM_DEFAULT_PROVIDER?.toLowerCase());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  let prices: PricesFile | undefined;
  try {
    prices = dto.VDM_PRICES_FILE === undefined ? undefined : loadPricesFile(dto.VDM_PRICES_FILE);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  let limits: LimitsFile | undefined;
  try {
    limits = dto.VDM_LIMITS_FILE === undefined ? undefined : loadLimitsFile(dto.VDM_LIMITS_FILE);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  let clientKeys: ClientKey[] = [];
  try {
    if (dto.VDM_CLIENT_KEYS_FILE !== undefined && problems.length === 0) clientKeys = loadClientKeys(dto.VDM_CLIENT_KEYS_FILE);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  const intervalMs = dto.VDM_RECONCILE_INTERVAL === undefined ? 3_600_000 : durationMs(dto.VDM_RECONCILE_INTERVAL);
  if (!(intervalMs >= MIN_RECONCILE_INTERVAL_MS))
    problems.push(`Invalid configuration: VDM_RECONCILE_INTERVAL=${JSON.stringify(raw.VDM_RECONCILE_INTERVAL)} must be a duration of at least 60 s (e.g. 1h, 30m, 3600)`);
  const reconciled = [...(providers?.providers.values() ?? [])].filter((p) => p.billing !== undefined).map((p) => `${p.name.toUpperCase()}_ADMIN_KEY`);
  const store = storeConfig(dto);
  if (reconciled.length > 0 && (store.kind === 'none' || dto.LOG_REQUEST_METRICS === false)) {
    problems.push(
      `Invalid configuration: ${reconciled.join(', ')} turns on reconciliation with the provider's billing, which keeps its reports beside the gateway's in the usage store; ` +
        `there is none (VDM_STORE=none or LOG_REQUEST_METRICS=false): set VDM_STORE=sqlite:<path> or postgres://..., or unset ${reconciled.join(', ')}`,
    );
  }
  if (problems.length > 0 || providers === undefined) throw new ConfigError(problems);

  const requestTimeout = dto.REQUEST_TIMEOUT_SECONDS ?? 90;
  return {
    host: dto.HOST ?? '0.0.0.0',
    port: dto.PORT ?? 8082,
    logLevel: dto.LOG_LEVEL ?? 'info',
    logPretty: dto.LOG_PRETTY ?? false,
    proxyApiKey: dto.PROXY_API_KEY,
    clientKeys,
    scrapeKey: dto.VDM_SCRAPE_KEY,
    maxClients: dto.VDM_MAX_CLIENTS ?? 100,
    metricsEnabled: dto.LOG_REQUEST_METRICS ?? true,
    summaryInterval: dto.LOG_SUMMARY_INTERVAL_REQUESTS ?? 100,
    sse: {
      enabled: dto.VDM_ACTIVE_REQUESTS_SSE_ENABLED ?? true,
      intervalMs: (dto.VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS ?? 0.5) * 1000,
      heartbeatMs: (dto.VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS ?? 30) * 1000,
      maxClients: dto.VDM_ACTIVE_REQUESTS_SSE_MAX_CLIENTS ?? 10_000,
    },
    metricsPublic: dto.VDM_METRICS_PUBLIC ?? false,
    maxModelsPerProvider: dto.VDM_MAX_MODELS_PER_PROVIDER ?? 100,
    defaultProvider: dto.VDM_DEFAULT_PROVIDER?.toLowerCase(),
    requestTimeoutMs: requestTimeout * 1000,
    streamingConnectTimeoutMs: (dto.STREAMING_CONNECT_TIMEOUT_SECONDS ?? 30) * 1000,
    streamingReadTimeoutMs: (dto.STREAMING_READ_TIMEOUT_SECONDS ?? requestTimeout) * 1000,
    bodyLimitBytes: dto.REQUEST_BODY_LIMIT_BYTES ?? 32 * 1024 * 1024,
    bodyTimeoutMs: (dto.REQUEST_BODY_TIMEOUT_SECONDS ?? 30) * 1000,
    upstreamResponseLimitBytes: dto.UPSTREAM_RESPONSE_LIMIT_BYTES ?? 64 * 1024 * 1024,
    shutdownGraceMs: (dto.SHUTDOWN_GRACE_SECONDS ?? 10) * 1000,
    demoTokenDelayMs: (dto.DEMO_TOKEN_DELAY_SECONDS ?? 0.03) * 1000,
    store,
    providers,
    reconciliation: { intervalMs, days: dto.VDM_RECONCILE_DAYS ?? 7, tolerance: dto.VDM_RECONCILE_TOLERANCE ?? 0.01 },
    prices,
    limits,
    defaultMaxOutputTokens: dto.VDM_DEFAULT_MAX_OUTPUT_TOKENS ?? 16384,
    // The longest a request may take, plus a minute: a live holder has settled by then.
    reservationLeaseMs: (dto.VDM_RESERVATION_LEASE_SECONDS ?? Math.max(requestTimeout, dto.STREAMING_READ_TIMEOUT_SECONDS ?? requestTimeout, dto.STREAMING_CONNECT_TIMEOUT_SECONDS ?? 30) + 60) * 1000,
    warnings: [...(renamed.warning === undefined ? [] : [renamed.warning]), ...providers.skipped, ...unknownVariableWarnings(raw)],
  };
}
