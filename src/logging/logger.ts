import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { LoggerService } from '@nestjs/common';
import pino, { levels, type Level, type Logger as Pino } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { AppConfig } from '../config/app-config';
import { REDACTED, Redactor } from '../core/redact';

/**
 * Header and body fields that carry credentials: never printed. Literal paths only: a leading `*` made
 * every line ~10x slower, and the line redaction masks configured secrets and key patterns anywhere.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["proxy-authorization"]',
  'req.headers["x-goog-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["proxy-authorization"]',
  'headers["x-goog-api-key"]',
  'headers.cookie',
  'request.headers.authorization',
  'request.headers["x-api-key"]',
  'request.headers["api-key"]',
  'request.headers["proxy-authorization"]',
  'request.headers["x-goog-api-key"]',
  'request.headers.cookie',
  'apiKey',
  'api_key',
];

/** Header names that carry credentials or account identifiers, whatever the provider calls them. */
const SENSITIVE_HEADER = /authorization|cookie|api[-_]?key|token|secret|password|session|signature|credential|organization|project/i;

/** Headers for a log line, with the value of every sensitive-looking header masked. */
export function redactHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = SENSITIVE_HEADER.test(name) ? REDACTED : value;
  return out;
}

export type LogFormat = 'json' | 'pretty';

/** How the gateway logs, as `/metrics/logs` reports it: what was asked for and what runs. */
export interface LoggingMode {
  requested: LogFormat;
  effective: LogFormat;
  /** `stdout:json`, `stdout:pretty`, or `stream:*` when a destination was handed in (tests). */
  handler: string;
  level: string;
}

export interface Logging {
  pino: Pino;
  mode: LoggingMode;
}

/** Whether `logger` writes lines of `level` (`silent`, or any unknown level, writes none). */
export function levelEnabled(logger: { level: string }, level: Level): boolean {
  const current = levels.values[logger.level] as number | undefined;
  return current !== undefined && current <= levels.values[level];
}

/** Fingerprints of recently seen keys: a gateway sees few distinct keys, each on many requests. */
const fingerprints = new Map<string, string>();
const FINGERPRINT_CACHE_SIZE = 256;

/** A short, stable fingerprint of a secret, to correlate log lines without printing the secret. */
export function keyFingerprint(secret: string): string {
  let fingerprint = fingerprints.get(secret);
  if (fingerprint === undefined) {
    fingerprint = `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;
    if (fingerprints.size >= FINGERPRINT_CACHE_SIZE) fingerprints.clear();
    fingerprints.set(secret, fingerprint);
  }
  return fingerprint;
}

/** Pretty lines lead with the first 8 characters of the request id: `[1a2b3c4d] request completed`. */
export function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = typeof log[messageKey] === 'string' ? log[messageKey] : '';
  return typeof log.reqId === 'string' ? `[${log.reqId.slice(0, 8)}] ${message}` : message;
}

/** pino-pretty is a dev dependency: the production image has none, and then logs stay JSON. */
function loadPretty(): typeof PinoPretty | undefined {
  try {
    return createRequire(__filename)('pino-pretty') as typeof PinoPretty;
  } catch {
    return undefined;
  }
}

/**
 * pino to stdout (or `destination`): JSON lines, or pretty when LOG_PRETTY=true and pino-pretty is installed.
 * Every finished line (message, nested objects, error stacks) passes through `redactor` before it is written.
 */
export function createLogging(
  config: Pick<AppConfig, 'logLevel' | 'logPretty'>,
  destination?: pino.DestinationStream,
  redactor = new Redactor([]),
): Logging {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: redactor.redact },
    base: undefined,
  };
  const requested: LogFormat = config.logPretty ? 'pretty' : 'json';
  const target = destination ? 'stream' : 'stdout';
  const pretty = config.logPretty ? loadPretty() : undefined;
  if (pretty) {
    const stream = pretty({
      destination: destination ?? 1,
      sync: true,
      colorize: !destination && process.stdout.isTTY,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,reqId',
      messageFormat: prettyMessage,
    });
    return { pino: pino(options, stream), mode: { requested, effective: 'pretty', handler: `${target}:pretty`, level: config.logLevel } };
  }
  const logger = destination ? pino(options, destination) : pino(options);
  if (config.logPretty) logger.warn('LOG_PRETTY=true but pino-pretty is not installed (a production image): logging JSON lines');
  return { pino: logger, mode: { requested, effective: 'json', handler: `${target}:json`, level: config.logLevel } };
}

export function createPino(config: Pick<AppConfig, 'logLevel' | 'logPretty'>, destination?: pino.DestinationStream): Pino {
  return createLogging(config, destination).pino;
}

/** Nest's logger interface over pino, so framework and application lines share one stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pino: Pino) {}

  log(message: unknown, context?: string): void {
    this.pino.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, String(message));
  }
  fatal(message: unknown, context?: string): void {
    this.pino.fatal({ context }, String(message));
  }
}
