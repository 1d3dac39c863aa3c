import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { formatOfApi } from './api';
import type { ClientApi } from './api';
import { ROUTE_FACTS_KEY, type CountedApi, type ErrorFormat, type Role, type RouteFacts } from './route-facts';

/** Nest metadata key, for readers that go through the Reflector. */
export const ROUTE_FACTS = 'vdm:route-facts';

/**
 * Declares a handler's route facts once. They land in Fastify's route config, so the onRequest
 * authentication hook sees the facts of the route that will really handle the request, after the
 * router has decoded and matched the path.
 */
export const Route = (facts: RouteFacts): MethodDecorator =>
  applyDecorators(RouteConfig({ [ROUTE_FACTS_KEY]: facts }), SetMetadata(ROUTE_FACTS, facts));

/** Who calls the client APIs (`/v1`): admin and client keys, never a scrape key. */
const CALLERS: readonly Role[] = Object.freeze(['admin', 'client']);

/** A proxied client API: needs an admin or client key, answers errors in that API's format, and is accounted. */
export const ProxyRoute = (api: ClientApi): MethodDecorator => Route({ access: 'key', errors: formatOfApi(api), api, roles: CALLERS });

/** Another route of a client API (models): needs an admin or client key, that API's error format, not usage. */
export const ApiRoute = (errors: ErrorFormat): MethodDecorator => Route({ access: 'key', errors, roles: CALLERS });

/** A client API call that is not usage (count_tokens): needs an admin or client key, Anthropic errors, counted in its own counter. */
export const CountedRoute = (counted: CountedApi): MethodDecorator => Route({ access: 'key', errors: 'anthropic', counted, roles: CALLERS });

/** Open to anyone, whatever keys are configured. */
export const PublicRoute = (): MethodDecorator => Route({ access: 'public', errors: 'generic' });

/** The Prometheus scrape: admin and scrape keys (public when VDM_METRICS_PUBLIC is set). */
export const ScrapeRoute = (): MethodDecorator => Route({ access: 'scrape', errors: 'generic', roles: Object.freeze(['admin', 'scrape'] as const) });

/**
 * A metrics route a client key may read, its own view only: the handler narrows what it answers with
 * `callerScope`/`scopedClientFilter` (src/core/caller.ts). `scrape` adds scrape keys (the json_exporter feed).
 */
export const ClientViewRoute = (options: { scrape?: boolean } = {}): MethodDecorator =>
  Route({ access: 'key', errors: 'generic', roles: Object.freeze(options.scrape === true ? ['admin', 'client', 'scrape'] : CALLERS) });

/** A route only admin keys may call (and anyone in open mode). */
export const AdminRoute = (): MethodDecorator => Route({ access: 'key', errors: 'generic', roles: Object.freeze(['admin'] as const) });
