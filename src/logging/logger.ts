import type { LoggerService } from '@nestjs/common';
import pino, { type Logger as Pino } from 'pino';
import type { AppConfig } from '../config/app-config';

/** Header and body fields that carry credentials: never printed. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
];

export function createPino(config: Pick<AppConfig, 'logLevel' | 'logPretty'>, destination?: pino.DestinationStream): Pino {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: undefined,
  };
  if (config.logPretty && !destination) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return destination ? pino(options, destination) : pino(options);
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
