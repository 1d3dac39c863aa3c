import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { clientOf } from '../core/caller';
import { UNKNOWN } from './calculations/hierarchical';

export type CountTokensOutcome = 'ok' | 'error';

/** One `POST /v1/messages/count_tokens` call: its provider once routed, and its outcome counted once. */
export interface CountTokensCall {
  routed(provider: string): void;
  finish(outcome: CountTokensOutcome): void;
}

/**
 * count_tokens calls (contract section 12, `api` `anthropic_count_tokens`): answered, but not a model
 * call, so counted here by provider and outcome and in no request, token or cost figure. A call
 * refused before its handler ran (an unreadable body) counts under provider `unknown`.
 */
@Injectable()
export class CountTokensCounter {
  private readonly counts = new Map<string, Map<CountTokensOutcome, number>>();
  private readonly calls = new WeakMap<FastifyRequest, CountTokensCall>();
  private total = 0;
  /** Calls by client (client names are bounded by configuration, VDM_MAX_CLIENTS in open mode). */
  private readonly byClient = new Map<string, number>();

  /** The handler's view of a call; the exception filter finishes it as an error if it throws. */
  begin(request: FastifyRequest): CountTokensCall {
    let provider = UNKNOWN;
    let done = false;
    const client = clientOf(request)?.name;
    const call: CountTokensCall = {
      routed: (name) => (provider = name),
      finish: (outcome) => {
        if (done) return;
        done = true;
        this.count(provider, outcome, client);
      },
    };
    this.calls.set(request, call);
    return call;
  }

  /** A count_tokens call answered with an error: the one its handler began, or one refused before it. */
  failed(request: FastifyRequest): void {
    const call = this.calls.get(request);
    if (call === undefined) this.count(UNKNOWN, 'error', clientOf(request)?.name);
    else call.finish('error');
  }

  /** Every call counted since start. */
  get requests(): number {
    return this.total;
  }

  /** The calls one client made since start. */
  requestsOf(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  entries(): { provider: string; outcome: CountTokensOutcome; value: number }[] {
    return [...this.counts].flatMap(([provider, byOutcome]) => [...byOutcome].map(([outcome, value]) => ({ provider, outcome, value })));
  }

  private count(provider: string, outcome: CountTokensOutcome, client: string | undefined): void {
    if (client !== undefined) this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1);
    let byOutcome = this.counts.get(provider);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.counts.set(provider, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    this.total++;
  }
}
