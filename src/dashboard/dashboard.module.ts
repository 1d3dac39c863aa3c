import { Logger, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ROUTE_FACTS_KEY, type RouteFacts } from '../core/route-facts';
import { DashboardController } from './dashboard.controller';
import { CHART_JS_FILE, chartJsDistDir, DASHBOARD_PUBLIC_DIR } from './dashboard.paths';

/** Everything the page loads comes from this origin: no CDN, no inline script. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const PUBLIC_FILES: RouteFacts = { access: 'public', errors: 'generic' };

function securityHeaders(reply: FastifyReply, path: string): void {
  void reply.header('content-security-policy', DASHBOARD_CSP);
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'no-referrer');
  // The page is small and changes with the service: always revalidate (ETag makes it cheap).
  if (!path.endsWith(CHART_JS_FILE)) void reply.header('cache-control', 'no-cache');
}

/**
 * GET /dashboard/: a static page (public/) plus chart.js from node_modules under /dashboard/vendor/.
 * Public on purpose: the page asks for the gateway key and sends it in headers to /metrics/*.
 */
@Module({ controllers: [DashboardController] })
export class DashboardModule implements OnModuleInit {
  private readonly logger = new Logger(DashboardModule.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /**
   * The plugins are queued, not awaited: awaiting `register` here would make Fastify build every
   * route registered so far before Nest installs its error handler (bad JSON would then get
   * Fastify's default error body instead of the API's own format). They load at listen / ready.
   */
  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'fastify') {
      this.logger.warn('Dashboard not served: it needs the Fastify HTTP adapter');
      return;
    }
    const fastify = adapter.getInstance<FastifyInstance>();
    // One scope for the static files: every route in it is declared public, whatever its path.
    void fastify.register(async (scope) => {
      scope.addHook('onRoute', (route) => {
        route.config = { ...(route.config), [ROUTE_FACTS_KEY]: PUBLIC_FILES };
      });
      await scope.register(fastifyStatic, {
        root: DASHBOARD_PUBLIC_DIR,
        prefix: '/dashboard/',
        index: ['index.html'],
        wildcard: true,
        decorateReply: false,
        allowedPath: (pathName) => !pathName.endsWith('.json'),
        setHeaders: securityHeaders,
      });
      await scope.register(fastifyStatic, {
        root: chartJsDistDir(),
        prefix: '/dashboard/vendor/',
        wildcard: true,
        decorateReply: false,
        index: false,
        maxAge: '1d',
        allowedPath: (pathName) => pathName === `/${CHART_JS_FILE}`,
        setHeaders: securityHeaders,
      });
    });
  }
}
