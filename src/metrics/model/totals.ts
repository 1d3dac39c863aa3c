import type { ErrorType } from '../../core/error-type';
import type { Counts } from './counted-fields';
import type { BucketDistributions } from './distributions';

/** Additive counters of one section (total, streaming or non_streaming) of a bucket: the fields of COUNTED_FIELDS. */
export type Totals = Counts;

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
  /** Latest start (unix s) of this client's requests in the bucket: the bucket's last access as that client sees it. */
  lastStart?: number;
  streamingOutcomes: Map<string, Map<'success' | ErrorType, number>>;
  nonStreamingOutcomes: Map<string, Map<'success' | ErrorType, number>>;
}
