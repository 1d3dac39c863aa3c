import { Transform } from 'class-transformer';
import { getMetadataStorage, IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { MAX_KEY_LENGTH } from '../core/client-key';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function toBoolean({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
}

function toNumber({ value }: { value: unknown }): unknown {
  if (typeof value !== 'string' || value.trim() === '') return value;
  const n = Number(value);
  return Number.isNaN(n) ? value : n;
}

const BOOL = { message: 'must be true or false (also 1/0, yes/no, on/off)' };
const SECONDS = { message: 'must be a number of seconds, 0 or more' };
const POSITIVE_SECONDS = { message: 'must be a number of seconds greater than 0' };

/** Environment variables as the contract (section 8) names them; the old names of renamed ones are in renamed-variables.ts. */
export class EnvDto {
  @IsOptional() @IsString() @MinLength(1)
  HOST?: string;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a port number from 0 to 65535' })
  @Min(0, { message: 'must be a port number from 0 to 65535' }) @Max(65535, { message: 'must be a port number from 0 to 65535' })
  PORT?: number;

  @IsOptional() @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: (typeof LOG_LEVELS)[number];

  @IsOptional() @Transform(toBoolean) @IsBoolean(BOOL)
  LOG_PRETTY?: boolean;

  @IsOptional() @IsString() @MinLength(1, { message: 'must not be empty when set' })
  @MaxLength(MAX_KEY_LENGTH, { message: `must be at most ${MAX_KEY_LENGTH} characters` })
  PROXY_API_KEY?: string;

  @IsOptional() @Transform(toBoolean) @IsBoolean(BOOL)
  LOG_REQUEST_METRICS?: boolean;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number, 1 or more' })
  @Min(1, { message: 'must be a whole number, 1 or more' })
  LOG_SUMMARY_INTERVAL_REQUESTS?: number;

  @IsOptional() @Transform(toBoolean) @IsBoolean(BOOL)
  VDM_ACTIVE_REQUESTS_SSE_ENABLED?: boolean;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number, 1 or more' })
  @Min(1, { message: 'must be a whole number, 1 or more' })
  VDM_ACTIVE_REQUESTS_SSE_MAX_CLIENTS?: number;

  @IsOptional() @Transform(toBoolean) @IsBoolean(BOOL)
  VDM_METRICS_PUBLIC?: boolean;

  @IsOptional() @IsString() @MinLength(1, { message: 'must name a configured provider' })
  VDM_DEFAULT_PROVIDER?: string;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  REQUEST_TIMEOUT_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  REQUEST_BODY_TIMEOUT_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  STREAMING_CONNECT_TIMEOUT_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  STREAMING_READ_TIMEOUT_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of bytes, 1 or more' })
  @Min(1, { message: 'must be a whole number of bytes, 1 or more' })
  REQUEST_BODY_LIMIT_BYTES?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of bytes, 1 or more' })
  @Min(1, { message: 'must be a whole number of bytes, 1 or more' })
  UPSTREAM_RESPONSE_LIMIT_BYTES?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, SECONDS) @Min(0, SECONDS)
  SHUTDOWN_GRACE_SECONDS?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number, 1 or more' })
  @Min(1, { message: 'must be a whole number, 1 or more' })
  VDM_MAX_MODELS_PER_PROVIDER?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, SECONDS) @Min(0, SECONDS)
  DEMO_TOKEN_DELAY_SECONDS?: number;

  @IsOptional() @IsString() @MinLength(1, { message: 'must be the path of a YAML prices file when set' })
  VDM_PRICES_FILE?: string;

  @IsOptional() @IsString() @MinLength(1, { message: 'must be the path of a YAML file of budgets and rate limits when set' })
  VDM_LIMITS_FILE?: string;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of tokens, 1 or more' })
  @Min(1, { message: 'must be a whole number of tokens, 1 or more' })
  VDM_DEFAULT_MAX_OUTPUT_TOKENS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, POSITIVE_SECONDS) @Min(0.001, POSITIVE_SECONDS)
  VDM_RESERVATION_LEASE_SECONDS?: number;

  @IsOptional() @IsString() @MinLength(1, { message: 'must be the path of a YAML file of client keys' })
  VDM_CLIENT_KEYS_FILE?: string;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number, 1 or more' })
  @Min(1, { message: 'must be a whole number, 1 or more' })
  VDM_MAX_CLIENTS?: number;

  /** The key docker compose's scrapers send; only checked at start-up against the gateway's keys. */
  @IsOptional() @IsString() @MinLength(1, { message: 'must not be empty when set' })
  VDM_SCRAPE_KEY?: string;

  @IsOptional() @IsString() @Matches(/^(none|sqlite:.+|postgres(ql)?:\/\/.+)$/, { message: 'must be none, sqlite:<path> or postgres://...' })
  VDM_STORE?: string;

  @IsOptional() @IsString() @MinLength(1)
  VDM_INSTANCE_ID?: string;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of ms, 1 or more' })
  @Min(1, { message: 'must be a whole number of ms, 1 or more' })
  VDM_STORE_FLUSH_MS?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number, 1 or more' })
  @Min(1, { message: 'must be a whole number, 1 or more' })
  VDM_STORE_QUEUE_MAX?: number;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of days, 1 or more' })
  @Min(1, { message: 'must be a whole number of days, 1 or more' })
  VDM_STORE_RETENTION_DAYS?: number;

  @IsOptional() @IsString() @Matches(/^\s*\d+(\.\d+)?\s*[smhd]?\s*$/i, { message: 'must be a duration: seconds, or a number with s, m, h or d (e.g. 1h, 30m), at least 60 s' })
  VDM_RECONCILE_INTERVAL?: string;

  @IsOptional() @Transform(toNumber) @IsInt({ message: 'must be a whole number of days from 1 to 90' })
  @Min(1, { message: 'must be a whole number of days from 1 to 90' }) @Max(90, { message: 'must be a whole number of days from 1 to 90' })
  VDM_RECONCILE_DAYS?: number;

  @IsOptional() @Transform(toNumber) @IsNumber({}, { message: 'must be a fraction from 0 to 1 (0.01 is 1%)' })
  @Min(0, { message: 'must be a fraction from 0 to 1 (0.01 is 1%)' }) @Max(1, { message: 'must be a fraction from 0 to 1 (0.01 is 1%)' })
  VDM_RECONCILE_TOLERANCE?: number;
}

const DURATION_UNITS_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration as VDM_RECONCILE_INTERVAL takes it (`1h`, `30m`, `90s`, `3600`), in ms. */
export function durationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * DURATION_UNITS_S[(m[2] || 's').toLowerCase()] * 1000;
}

/**
 * Not read by the gateway but by docker-compose.yml (or a client, as in the README's Codex recipe),
 * so a `.env` shared with compose carries them; start-up does not call them unknown.
 */
export const NOT_GATEWAY_VARIABLES: readonly string[] = ['VDM_PUBLISH_ADDRESS', 'VDM_KEY'];

/** Every variable EnvDto declares, from its validation metadata: the one list of what the gateway reads. */
export function declaredVariables(): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(EnvDto, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))];
}
