import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';

/** Why a request was refused before it became usage (contract sections 10, 13 and 15). */
export type RejectionReason = KeyRejection | LimitRejection;
export type KeyRejection = 'missing_key' | 'invalid_key' | 'forbidden';
export type LimitRejection = 'budget' | 'rate_limit' | 'concurrency';

/** Requests refused for their credentials, a budget or a rate limit: not usage, so counted here and nowhere else. */
@Injectable()
export class RejectionCounter {
  /** Registered by the Prometheus exporter in its own registries (none of prom-client's global one). */
  readonly metric = new Counter<'reason'>({
    name: 'vdm_rejected_requests_total',
    help: 'Requests refused for a missing or wrong gateway key, a key whose role may not call the route, a budget, a rate limit or a concurrency limit, by reason; not usage, so in no other family.',
    labelNames: ['reason'],
    registers: [],
  });

  count(reason: RejectionReason): void {
    this.metric.inc({ reason });
  }
}
