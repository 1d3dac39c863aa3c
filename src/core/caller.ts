import { ForbiddenException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Glob } from './glob';
import type { Role } from './route-facts';

/** Who sent a request, as far as the gateway's keys tell. */
export interface ClientIdentity {
  /**
   * The client's name: the gateway key's name (`default` for PROXY_API_KEY); with no gateway key
   * configured, `key:<first 16 hex of sha256>` of the presented key (`other` past VDM_MAX_CLIENTS), or `anonymous`.
   */
  name: string;
  /** What its key may do (contract section 13); `admin` for everyone in open mode. */
  role: Role;
  /** Fingerprint of the gateway key it used, for log correlation; never the key. */
  keyFingerprint?: string;
}

/** Set by the authentication hook, read by everything that needs to know who called. */
export const identities = new WeakMap<FastifyRequest, ClientIdentity>();

/** The identity the authentication hook gave a request (undefined on a public route when keys are configured). */
export function clientOf(request: FastifyRequest): ClientIdentity | undefined {
  return identities.get(request);
}

/** What a caller may read: every client's data, or (a client key) its own client's only. */
export interface CallerScope {
  role: Role;
  /** Set for a client key: the one client whose data it reads (exact name, compared as is). */
  client?: string;
}

/**
 * The caller's scope, for a handler that answers with data of several clients. A request without an
 * identity (a public route while keys are configured) reads nothing: 403.
 */
export function callerScope(request: FastifyRequest): CallerScope {
  const identity = identities.get(request);
  if (identity === undefined) throw new ForbiddenException('This route needs a gateway key');
  return identity.role === 'client' ? { role: 'client', client: identity.name } : { role: identity.role };
}

/**
 * The client filter (a glob) a client-view query may run with: as given for admin and scrape keys; for a
 * client key, its own name, and a 403 when the filter names another client (matches not its own name).
 * The caller then applies `scope.client` as an exact match too, so a glob can never widen it.
 */
export function scopedClientFilter(request: FastifyRequest, given: string | undefined): string | undefined {
  const scope = callerScope(request);
  if (scope.client === undefined) return given;
  if (given !== undefined && !new Glob(given).test(scope.client)) {
    throw new ForbiddenException(`client=${JSON.stringify(given.slice(0, 128))} names another client: this key reads its own client (${scope.client}) only`);
  }
  return scope.client;
}
