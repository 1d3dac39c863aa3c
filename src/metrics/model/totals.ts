import type { ErrorType } from '../../core/error-type';
import type { BucketDistributions } from './distributions';

/** Additive counters of one section (total, streaming or non_streaming) of a bucket. */
export interface Totals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  reasoningTokens: number;
  toolUses: number;
  toolResults: number;
  toolCalls: number;
  /** Finished requests: the denominator of average_duration_ms (in-flight requests have no duration). */
  completed: number;
  /** Sum of per-request durations in whole ms, never wall-clock time. */
  totalDurationMs: number;
  ttftCount: number;
  totalTtftMs: number;
  overheadCount: number;
  totalOverheadMs: number;
  /** Nanodollars of the requests whose price is known (integers, so every sum is exact). */
  costNano: number;
  /** Requests with no known price, so a partial cost is never mistaken for the whole. */
  unpriced: number;
  /** Requests whose counts were estimated in whole or in part (contract section 14). */
  estimatedRequests: number;
}

export interface Split {
  total: Totals;
  streaming: Totals;
  nonStreaming: Totals;
}

export type SectionName = 'total' | 'streaming' | 'non_streaming';

/** Completed requests of one `provider:model` bucket (contract section 2). */
export interface Bucket {
  key: string;
  provider?: string;
  model?: string;
  split: Split;
  /** Finished requests only: latency, token and error-type distributions for Prometheus. */
  distributions: BucketDistributions;
  /** The same requests by client (bounded: names from configuration, capped fingerprints). */
  clients: Map<string, ClientCell>;
}

/**
 * One client's share of a bucket: the same sections, and per mode its finished requests by client api
 * and outcome (`success` or the error type), for labelled counters.
 */
export interface ClientCell {
  split: Split;
  streamingOutcomes: Map<string, Map<'success' | ErrorType, number>>;
  nonStreamingOutcomes: Map<string, Map<'success' | ErrorType, number>>;
}
