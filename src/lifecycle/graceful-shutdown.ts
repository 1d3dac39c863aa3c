import { Inject, Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../common/api-error';
import { routeFactsOf } from '../core/route-facts';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { TrackerService } from '../metrics/tracker.service';
import { UsageStore } from '../store/usage-store.service';

export const SHUTDOWN_CANCEL_REASON = 'The gateway shut down before the request finished';

/**
 * Stop accepting, let in-flight requests finish for up to SHUTDOWN_GRACE_SECONDS, then finalize the
 * rest as `cancelled` and drop their connections. It runs BEFORE Nest's close(): Nest's destroy
 * hooks run first there and would tear down the upstream client under in-flight requests.
 */
@Injectable()
export class GracefulShutdown {
  private draining = false;

  constructor(
    private readonly tracker: TrackerService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get fastify(): FastifyInstance {
    return this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
  }

  /**
   * Called from the app's onRequest hook: while draining, requests on kept-alive connections get
   * 503 and `connection: close`. True when the request was answered so.
   */
  refused(request: FastifyRequest, reply: FastifyReply): boolean {
    if (!this.draining) return false;
    const errors = routeFactsOf(request.routeOptions.config).errors;
    void reply.code(503).header('connection', 'close').send(errorBody(errors, 503, 'The gateway is shutting down'));
    return true;
  }

  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const { server, log } = this.fastify;
    if (server.listening) server.close();
    const graceMs = this.config.shutdownGraceMs;
    const inFlight = this.tracker.activeCount;
    if (inFlight === 0) return;
    log.info({ in_flight: inFlight, grace_ms: graceMs }, 'Shutting down: waiting for in-flight requests');
    if (await this.tracker.whenIdle(graceMs)) return;
    const cancelled = this.tracker.cancelActive(SHUTDOWN_CANCEL_REASON);
    log.warn({ cancelled, grace_ms: graceMs }, 'Shutdown grace period over: in-flight requests cancelled');
    server.closeAllConnections();
  }
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The last line of a shutdown (a warning when rows are left behind): what the usage store wrote, and what it could not. */
export function shutdownReport(store: UsageStore, writtenBefore: number): { level: 'info' | 'warn'; msg: string } {
  if (!store.enabled) return { level: 'info', msg: 'Shutdown complete (no usage store)' };
  const { written, waiting } = store.rowCounts;
  const left = waiting === 0 ? 'none left behind' : `${plural(waiting, 'row')} left behind, not written`;
  const msg = `Shutdown complete: ${plural(written - writtenBefore, 'usage store row')} written at shutdown (${written} since start), ${left}`;
  return { level: waiting === 0 ? 'info' : 'warn', msg };
}

/** The line of a second signal: what exiting at once abandons. */
export function abandonReport(signal: NodeJS.Signals, tracker: TrackerService, store: UsageStore): string {
  const queued = store.enabled ? store.rowCounts.waiting : 0;
  return `Second ${signal}: exiting now, abandoning ${plural(tracker.activeCount, 'in-flight request')} and ${plural(queued, 'queued usage store row')}`;
}

/**
 * SIGTERM / SIGINT: drain, close the app (Nest hooks, Fastify; the store writes its queue), log
 * one final line, exit. A second signal exits at once, after one line saying what it abandons.
 */
export function closeOnSignals(app: INestApplication, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
  let started = false;
  const log = app.get(HttpAdapterHost).httpAdapter.getInstance<FastifyInstance>().log;
  const tracker = app.get(TrackerService);
  const store = app.get(UsageStore);
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      log.warn(abandonReport(signal, tracker, store));
      process.exit(1);
    }
    started = true;
    const writtenBefore = store.rowCounts.written;
    log.info({ signal }, 'Shutdown signal received');
    app
      .get(GracefulShutdown)
      .drain()
      .then(() => app.close())
      .then(
        () => {
          const report = shutdownReport(store, writtenBefore);
          log[report.level](report.msg);
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'Shutdown failed');
          process.exit(1);
        },
      );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
