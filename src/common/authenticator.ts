import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './api-error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { keysMatch, presentedKeys } from '../core/client-key';
import { routeFactsOf, type RouteFacts } from '../core/route-facts';
import { keyFingerprint } from '../logging/logger';
import { RejectionCounter, type RejectionReason } from '../metrics/rejections';

/** Who sent a request, as far as the gateway's keys tell. */
export interface ClientIdentity {
  /** The client's name: the gateway key's name, or `anonymous` when no gateway key is configured. */
  name: string;
  /** Fingerprint of the gateway key it used, for log correlation; never the key. */
  keyFingerprint?: string;
}

interface GatewayKey {
  name: string;
  key: string;
}

const identities = new WeakMap<FastifyRequest, ClientIdentity>();

/** The identity the authentication hook gave a request (undefined on a public route). */
export function clientOf(request: FastifyRequest): ClientIdentity | undefined {
  return identities.get(request);
}

const MESSAGES: Record<RejectionReason, string> = {
  missing_key: 'Missing API key: send it as x-api-key or Authorization: Bearer',
  invalid_key: 'Invalid API key',
};

/**
 * Authentication, decided in Fastify's onRequest hook from the facts of the route the router
 * matched (so after the path was decoded and matched) and before the body is read. Deny by
 * default: every route needs a key unless it is declared public. The header that carried the
 * gateway key is removed from the request, so nothing downstream can forward or log it.
 */
@Injectable()
export class Authenticator {
  private readonly keys: GatewayKey[];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rejections: RejectionCounter,
  ) {
    this.keys = config.proxyApiKey === undefined ? [] : [{ name: 'default', key: config.proxyApiKey }];
  }

  /** True when the request was refused (the 401 is on its way); false to go on. */
  refused(request: FastifyRequest, reply: FastifyReply): boolean {
    const facts = routeFactsOf(request.routeOptions.config);
    if (this.keys.length === 0 || this.isOpen(facts)) {
      if (facts.api !== undefined) identities.set(request, { name: 'anonymous' });
      return false;
    }
    const presented = presentedKeys(request.headers);
    let identity: ClientIdentity | undefined;
    for (const { header, key } of presented) {
      const match = this.match(key);
      if (match === undefined) continue;
      identity ??= { name: match.name, keyFingerprint: keyFingerprint(key) };
      // Every header holding a gateway key goes, so none of them can travel upstream.
      delete request.headers[header];
    }
    if (identity !== undefined) {
      identities.set(request, identity);
      return false;
    }
    const reason: RejectionReason = presented.length === 0 ? 'missing_key' : 'invalid_key';
    this.rejections.count(reason);
    void reply.code(401);
    // A body announced but unread would otherwise have to be drained before the socket is reused.
    if (hasBody(request)) void reply.header('connection', 'close');
    void reply.send(errorBody(facts.errors, 401, MESSAGES[reason]));
    return true;
  }

  private isOpen(facts: RouteFacts): boolean {
    return facts.access === 'public' || (facts.access === 'scrape' && this.config.metricsPublic);
  }

  /** Every key is compared, so the time taken does not tell which one matched. */
  private match(presented: string): GatewayKey | undefined {
    let found: GatewayKey | undefined;
    for (const candidate of this.keys) if (keysMatch(presented, candidate.key) && found === undefined) found = candidate;
    return found;
  }
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}
