/**
 * What a route is, declared once on its handler and read by everything that needs to know: the
 * authentication hook, the exception filter and the request orchestrator. Nothing tests URL strings.
 */

import type { ApiFormat, ClientApi } from './api';

/** Calls of a client API that are answered but are not usage: each is counted in its own counter (contract section 12). */
export type CountedApi = 'anthropic_count_tokens';

/** The error body format clients of a route expect. */
export type ErrorFormat = ApiFormat | 'generic';

/**
 * Who may call a route: `key` needs a gateway key when one is configured (the default for every
 * route, declared or not), `public` never does, `scrape` is public when VDM_METRICS_PUBLIC is set.
 */
export type Access = 'key' | 'public' | 'scrape';

/**
 * What a gateway key may do (contract section 13): `admin` calls and reads everything, `client`
 * calls the client APIs and reads its own view, `scrape` reads the Prometheus scrape and the
 * json_exporter feed. Open mode (no gateway key configured) gives every caller `admin`.
 */
export type Role = 'admin' | 'client' | 'scrape';

export const ROLES: readonly Role[] = Object.freeze(['admin', 'client', 'scrape']);

export interface RouteFacts {
  access: Access;
  errors: ErrorFormat;
  /**
   * The roles whose keys may call the route (on a route that needs a key); `admin` always may.
   * Undeclared: admin only (deny by default).
   */
  roles?: readonly Role[];
  /** Set on proxy routes: requests to them are usage and are accounted. */
  api?: ClientApi;
  /** Set on routes whose calls are counted apart from usage (count_tokens). */
  counted?: CountedApi;
}

/** The key under which the facts travel in Fastify's per-route `config`. */
export const ROUTE_FACTS_KEY = 'vdmRoute';

/** What an undeclared route, or a path no route matches, is: needs the key, generic errors. */
export const UNDECLARED: RouteFacts = Object.freeze({ access: 'key', errors: 'generic' });

/** The facts of the route Fastify matched, from its route config; deny by default. */
export function routeFactsOf(routeConfig: unknown): RouteFacts {
  const facts = (routeConfig as Record<string, unknown> | undefined)?.[ROUTE_FACTS_KEY];
  return facts === undefined ? UNDECLARED : (facts as RouteFacts);
}

/** Whether a key of this role may call a route with these facts: admin everywhere, the others where the route lists them. */
export function roleMayCall(facts: RouteFacts, role: Role): boolean {
  return role === 'admin' || (facts.roles?.includes(role) ?? false);
}
