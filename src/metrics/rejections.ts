import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';

/** Why a request was refused before it became usage (contract section 10). */
export type RejectionReason = 'missing_key' | 'invalid_key' | 'forbidden';

/** Requests refused for their credentials: not usage, so counted here and nowhere else. */
@Injectable()
export class RejectionCounter {
  /** Registered by the Prometheus exporter in its own registries (none of prom-client's global one). */
  readonly metric = new Counter<'reason'>({
    name: 'vdm_rejected_requests_total',
    help: 'Requests refused for a missing or wrong gateway key, or a key whose role may not call the route, by reason; not usage, so in no other family.',
    labelNames: ['reason'],
    registers: [],
  });

  count(reason: RejectionReason): void {
    this.metric.inc({ reason });
  }
}
