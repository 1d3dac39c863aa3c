import { exponentialBounds, type Histogram } from '../calculations/histogram';
import type { ErrorType } from '../../core/error-type';

import type { TokenType } from './counted-fields';

export { TOKEN_TYPES, type TokenType } from './counted-fields';

/** Seconds. The OTel GenAI doubling buckets from 10 ms, extended to about five minutes. */
export const LATENCY_BOUNDS = exponentialBounds(0.01, 2, 16);
/** Seconds per output token, 1 ms to 4 s. */
export const TOKEN_INTERVAL_BOUNDS = exponentialBounds(0.001, 2, 13);
/** Seconds of the gateway's own time: 50 us to 1.6 s. */
export const OVERHEAD_BOUNDS = exponentialBounds(0.00005, 2, 16);
/** Output tokens per second of a stream, 1 to 8192. */
export const TOKEN_RATE_BOUNDS = exponentialBounds(1, 2, 14);
/** Tokens per request: the OTel GenAI `gen_ai.client.token.usage` buckets, 1 to 4^13. */
export const TOKEN_COUNT_BOUNDS = exponentialBounds(1, 4, 14);

/** Per-request distributions of one section (streaming or non_streaming) of a bucket. */
export interface Distributions {
  duration: Histogram;
  timeToFirstToken: Histogram;
  timePerOutputToken: Histogram;
  overhead: Histogram;
  outputTokensPerSecond: Histogram;
  tokens: Record<TokenType, Histogram>;
  errorsByType: Map<ErrorType, number>;
}

export interface BucketDistributions {
  streaming: Distributions;
  nonStreaming: Distributions;
}
