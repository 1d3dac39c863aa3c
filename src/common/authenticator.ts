import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './api-error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { keyDigest, KeyRing, presentedKeys } from '../core/client-key';
import { routeFactsOf, type RouteFacts } from '../core/route-facts';
import { keyFingerprint } from '../logging/logger';
import { RejectionCounter, type RejectionReason } from '../metrics/rejections';
import { TrackerService } from '../metrics/tracker.service';

/** Who sent a request, as far as the gateway's keys tell. */
export interface ClientIdentity {
  /**
   * The client's name: the gateway key's name (`default` for PROXY_API_KEY); with no gateway key
   * configured, `key:<first 16 hex of sha256>` of the presented key (`other` past VDM_MAX_CLIENTS), or `anonymous`.
   */
  name: string;
  /** Fingerprint of the gateway key it used, for log correlation; never the key. */
  keyFingerprint?: string;
}

/** An open-mode client name as the gateway gives it now (older, shorter fingerprints do not count toward the cap). */
const FINGERPRINT = /^key:[0-9a-f]{16}$/;

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
  /** Client names by key digest. */
  private readonly keys = new KeyRing<string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rejections: RejectionCounter,
    private readonly tracker: TrackerService,
  ) {
    if (config.proxyApiKey !== undefined) this.keys.add(keyDigest(config.proxyApiKey), 'default');
    for (const client of config.clientKeys) this.keys.add(client.sha256, client.name);
  }

  /**
   * Fingerprints named as clients so far (open mode), bounded by VDM_MAX_CLIENTS; the ones restored
   * from the usage store count too, so a restart does not open the cap again.
   */
  private fingerprints?: Set<string>;

  /** True when the request was refused (the 401 is on its way); false to go on. */
  refused(request: FastifyRequest, reply: FastifyReply): boolean {
    const facts = routeFactsOf(request.routeOptions.config);
    if (this.keys.size === 0) {
      if (facts.api !== undefined) identities.set(request, this.openIdentity(request));
      return false;
    }
    if (this.isOpen(facts)) {
      if (facts.api !== undefined) identities.set(request, { name: 'anonymous' });
      return false;
    }
    const presented = presentedKeys(request.headers);
    let identity: ClientIdentity | undefined;
    for (const { header, key } of presented) {
      const name = this.keys.find(key);
      if (name === undefined) continue;
      identity ??= { name, keyFingerprint: keyFingerprint(key) };
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

  /** No gateway key configured: the client is named by its key's fingerprint, never by the key. */
  private openIdentity(request: FastifyRequest): ClientIdentity {
    const key = presentedKeys(request.headers)[0]?.key;
    if (key === undefined) return { name: 'anonymous' };
    // 64 bits: finding a second key with the same name takes about 2^32 tries per name.
    const name = `key:${keyDigest(key).toString('hex').slice(0, 16)}`;
    // Read on the first request: the store restores the tracker before the gateway listens.
    const fingerprints = (this.fingerprints ??= new Set([...this.tracker.clientNames()].filter((c) => FINGERPRINT.test(c))));
    if (fingerprints.has(name)) return { name };
    if (fingerprints.size >= this.config.maxClients) return { name: 'other' };
    fingerprints.add(name);
    return { name };
  }

  private isOpen(facts: RouteFacts): boolean {
    return facts.access === 'public' || (facts.access === 'scrape' && this.config.metricsPublic);
  }
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}
