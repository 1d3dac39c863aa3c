import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import type { DestinationStream, Logger as Pino } from 'pino';
import { AppModule } from './app.module';
import type { AppConfig } from './config/app-config';
import { Authenticator } from './common/authenticator';
import { limitBodyTime } from './common/body-timeout';
import { configuredSecrets } from './config/secrets';
import { Redactor } from './core/redact';
import { GlobalExceptionFilter } from './common/global-exception.filter';
import { installJsonBodyParser } from './common/json-body';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';
import { CountTokensCounter } from './metrics/count-tokens';
import { RequestOrchestrator } from './gateway/request/request-orchestrator.interceptor';
import { createLogging, PinoNestLogger, type Logging } from './logging/logger';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
let fallbackSeq = 0;

/** Honours a sane incoming x-request-id, else makes one. */
export function requestIdFor(header: string | string[] | undefined): string {
  if (typeof header === 'string' && SANE_REQUEST_ID.test(header)) return header;
  return globalThis.crypto?.randomUUID?.() ?? `req-${Date.now()}-${++fallbackSeq}`;
}

export interface CreateAppOptions {
  /** A ready logger (tests capture output this way); it is reported as a `custom` handler. */
  pino?: Pino;
  /** Where the app's own logger writes instead of stdout (tests capture output this way). */
  logDestination?: DestinationStream;
}

function loggingFor(config: AppConfig, options: CreateAppOptions, redactor: Redactor): Logging {
  if (!options.pino) return createLogging(config, options.logDestination, redactor);
  const format = config.logPretty ? 'pretty' : 'json';
  return { pino: options.pino, mode: { requested: format, effective: 'json', handler: 'custom', level: options.pino.level } };
}

export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  // Built once: every relayed error, record and log line is masked with it.
  const redactor = new Redactor(configuredSecrets(config));
  const logging = loggingFor(config, options, redactor);
  const logger = logging.pino;
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFor(req.headers['x-request-id']),
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, logging.mode, redactor), adapter, {
    logger: new PinoNestLogger(logger),
    // The JSON parser is the gateway's own (installJsonBodyParser); the API takes nothing else.
    bodyParser: false,
  });
  app.useGlobalFilters(new GlobalExceptionFilter(app.get(RequestOrchestrator), config.bodyLimitBytes, app.get(CountTokensCounter)));
  const fastify = app.getHttpAdapter().getInstance();
  installJsonBodyParser(fastify);
  const shutdown = app.get(GracefulShutdown);
  const authenticator = app.get(Authenticator);
  // One onRequest hook for everything: each hook is a step on every request's path. Authentication
  // happens here, on the matched route's declared facts, before any byte of the body is read.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (!shutdown.refused(request, reply) && !authenticator.refused(request, reply)) done();
  });
  limitBodyTime(fastify, config.bodyTimeoutMs);
  const orchestrator = app.get(RequestOrchestrator);
  // Bodies sent whole (JSON answers, errors); streamed bodies are counted as they are relayed.
  fastify.addHook('onSend', (request, _reply, payload, done) => {
    if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
      orchestrator.contextOf(request)?.metrics.addResponseBytes(Buffer.byteLength(payload));
    }
    done(null, payload);
  });
  return app;
}
