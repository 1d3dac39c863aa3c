import { applyDecorators, SetMetadata } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { formatOfApi } from './api';
import type { ClientApi } from './api';
import { ROUTE_FACTS_KEY, type CountedApi, type ErrorFormat, type RouteFacts } from './route-facts';

/** Nest metadata key, for readers that go through the Reflector. */
export const ROUTE_FACTS = 'vdm:route-facts';

/**
 * Declares a handler's route facts once. They land in Fastify's route config, so the onRequest
 * authentication hook sees the facts of the route that will really handle the request, after the
 * router has decoded and matched the path.
 */
export const Route = (facts: RouteFacts): MethodDecorator =>
  applyDecorators(RouteConfig({ [ROUTE_FACTS_KEY]: facts }), SetMetadata(ROUTE_FACTS, facts));

/** A proxied client API: needs the key, answers errors in that API's format, and is accounted. */
export const ProxyRoute = (api: ClientApi): MethodDecorator => Route({ access: 'key', errors: formatOfApi(api), api });

/** Another route of a client API (models): needs the key, that API's error format, not usage. */
export const ApiRoute = (errors: ErrorFormat): MethodDecorator => Route({ access: 'key', errors });

/** A client API call that is not usage (count_tokens): needs the key, Anthropic errors, counted in its own counter. */
export const CountedRoute = (counted: CountedApi): MethodDecorator => Route({ access: 'key', errors: 'anthropic', counted });

/** Open to anyone, whatever keys are configured. */
export const PublicRoute = (): MethodDecorator => Route({ access: 'public', errors: 'generic' });

/** The Prometheus scrape: public when VDM_METRICS_PUBLIC is set, else needs the key. */
export const ScrapeRoute = (): MethodDecorator => Route({ access: 'scrape', errors: 'generic' });
