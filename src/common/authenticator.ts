import { Inject, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './api-error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { keyDigest, KeyRing, presentedKeys } from '../core/client-key';
import { identities, type ClientIdentity } from '../core/caller';
import { roleMayCall, routeFactsOf, type Role, type RouteFacts } from '../core/route-facts';
import { keyFingerprint } from '../logging/logger';
import { RejectionCounter, type KeyRejection } from '../metrics/rejections';
import { TrackerService } from '../metrics/tracker.service';

/** An open-mode client name as the gateway gives it now (older, shorter fingerprints do not count toward the cap). */
const FINGERPRINT = /^key:[0-9a-f]{16}$/;

const MESSAGES: Record<KeyRejection, string> = {
  missing_key: 'Missing API key: send it as x-api-key or Authorization: Bearer',
  invalid_key: 'Invalid API key',
  forbidden: 'This key may not call this route',
};

/** The client name VDM_SCRAPE_KEY gets (it never calls a client API, so it is never a usage client). */
const SCRAPE_KEY_NAME = 'scrape';

/**
 * Authentication, decided in Fastify's onRequest hook from the facts of the route the router
 * matched (so after the path was decoded and matched) and before the body is read. Deny by
 * default: every route needs a key unless it is declared public. The header that carried the
 * gateway key is removed from the request, so nothing downstream can forward or log it.
 */
@Injectable()
export class Authenticator {
  /** Client names and roles by key digest. */
  private readonly keys = new KeyRing<{ name: string; role: Role }>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rejections: RejectionCounter,
    private readonly tracker: TrackerService,
  ) {
    if (config.proxyApiKey !== undefined) this.keys.add(keyDigest(config.proxyApiKey), { name: 'default', role: 'admin' });
    for (const client of config.clientKeys) this.keys.add(client.sha256, { name: client.name, role: client.role });
    // Only beside other gateway keys (open mode asks for none); a key already listed keeps its own role.
    if (config.scrapeKey !== undefined && this.keys.size > 0) this.keys.add(keyDigest(config.scrapeKey), { name: SCRAPE_KEY_NAME, role: 'scrape' });
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
      // Open mode: anyone calls and reads everything, as admin.
      if (facts.api !== undefined) identities.set(request, this.openIdentity(request));
      else if (facts.access !== 'public') identities.set(request, { name: 'anonymous', role: 'admin' });
      return false;
    }
    if (this.isOpen(facts)) {
      if (facts.api !== undefined) identities.set(request, { name: 'anonymous', role: 'client' });
      return false;
    }
    const presented = presentedKeys(request.headers);
    let identity: ClientIdentity | undefined;
    for (const { header, key } of presented) {
      const found = this.keys.find(key);
      if (found === undefined) continue;
      identity ??= { name: found.name, role: found.role, keyFingerprint: keyFingerprint(key) };
      // Every header holding a gateway key goes, so none of them can travel upstream.
      delete request.headers[header];
    }
    // A path no route matches is a 404 for any valid key: there is nothing there to withhold.
    if (identity !== undefined && (roleMayCall(facts, identity.role) || request.is404)) {
      identities.set(request, identity);
      return false;
    }
    const reason: KeyRejection = identity !== undefined ? 'forbidden' : presented.length === 0 ? 'missing_key' : 'invalid_key';
    this.rejections.count(reason);
    const status = reason === 'forbidden' ? 403 : 401;
    void reply.code(status);
    // A body announced but unread would otherwise have to be drained before the socket is reused.
    if (hasBody(request)) void reply.header('connection', 'close');
    void reply.send(errorBody(facts.errors, status, reason === 'forbidden' ? `${MESSAGES.forbidden} (its role is ${identity!.role})` : MESSAGES[reason]));
    return true;
  }

  /** No gateway key configured: the client is named by its key's fingerprint, never by the key. */
  private openIdentity(request: FastifyRequest): ClientIdentity {
    const key = presentedKeys(request.headers)[0]?.key;
    if (key === undefined) return { name: 'anonymous', role: 'admin' };
    // 64 bits: finding a second key with the same name takes about 2^32 tries per name.
    const name = `key:${keyDigest(key).toString('hex').slice(0, 16)}`;
    // Read on the first request: the store restores the tracker before the gateway listens.
    const fingerprints = (this.fingerprints ??= new Set([...this.tracker.clientNames()].filter((c) => FINGERPRINT.test(c))));
    if (fingerprints.has(name)) return { name, role: 'admin' };
    if (fingerprints.size >= this.config.maxClients) return { name: 'other', role: 'admin' };
    fingerprints.add(name);
    return { name, role: 'admin' };
  }

  private isOpen(facts: RouteFacts): boolean {
    return facts.access === 'public' || (facts.access === 'scrape' && this.config.metricsPublic);
  }
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}
