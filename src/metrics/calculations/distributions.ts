import {
  LATENCY_BOUNDS,
  OVERHEAD_BOUNDS,
  TOKEN_COUNT_BOUNDS,
  TOKEN_INTERVAL_BOUNDS,
  TOKEN_RATE_BOUNDS,
  TOKEN_TYPES,
  type BucketDistributions,
  type Distributions,
  type TokenType,
} from '../model/distributions';
import type { RequestRecord } from '../model/request-record';
import { addHistogram, newHistogram, observe, type Histogram } from './histogram';

export function newDistributions(): Distributions {
  return {
    duration: newHistogram(LATENCY_BOUNDS),
    timeToFirstToken: newHistogram(LATENCY_BOUNDS),
    timePerOutputToken: newHistogram(TOKEN_INTERVAL_BOUNDS),
    overhead: newHistogram(OVERHEAD_BOUNDS),
    outputTokensPerSecond: newHistogram(TOKEN_RATE_BOUNDS),
    tokens: newTokenHistograms(),
    errorsByType: new Map(),
  };
}

/** One token-count histogram per token type. */
export function newTokenHistograms(): Record<TokenType, Histogram> {
  const tokens = {} as Record<TokenType, Histogram>;
  for (const type of TOKEN_TYPES) tokens[type] = newHistogram(TOKEN_COUNT_BOUNDS);
  return tokens;
}

export function newBucketDistributions(): BucketDistributions {
  return { streaming: newDistributions(), nonStreaming: newDistributions() };
}

/**
 * Adds one FINISHED request (durationMs set); streams that produced tokens also add their token pace.
 * Token type by token type, spelled out: it runs for every request (counted-fields.spec.ts holds it to the table).
 */
export function addToDistributions(d: Distributions, r: RequestRecord): void {
  const durationMs = r.durationMs ?? 0;
  observe(d.duration, LATENCY_BOUNDS, durationMs / 1000);
  observe(d.tokens.input, TOKEN_COUNT_BOUNDS, r.inputTokens);
  observe(d.tokens.output, TOKEN_COUNT_BOUNDS, r.outputTokens);
  observe(d.tokens.cache_read, TOKEN_COUNT_BOUNDS, r.cacheReadTokens);
  observe(d.tokens.cache_creation, TOKEN_COUNT_BOUNDS, r.cacheCreationTokens);
  observe(d.tokens.reasoning, TOKEN_COUNT_BOUNDS, r.reasoningTokens);
  if (r.upstreamMs !== undefined) observe(d.overhead, OVERHEAD_BOUNDS, Math.max(0, durationMs - r.upstreamMs) / 1000);
  if (r.errorType !== undefined) d.errorsByType.set(r.errorType, (d.errorsByType.get(r.errorType) ?? 0) + 1);
  if (r.ttftMs === undefined) return;
  observe(d.timeToFirstToken, LATENCY_BOUNDS, r.ttftMs / 1000);
  const generatingMs = durationMs - r.ttftMs;
  if (!r.isStreaming || r.errorType !== undefined || r.outputTokens === 0 || generatingMs <= 0) return;
  observe(d.timePerOutputToken, TOKEN_INTERVAL_BOUNDS, generatingMs / 1000 / Math.max(1, r.outputTokens - 1));
  observe(d.outputTokensPerSecond, TOKEN_RATE_BOUNDS, r.outputTokens / (generatingMs / 1000));
}

export function addBucketDistributions(target: BucketDistributions, r: RequestRecord): void {
  addToDistributions(r.isStreaming ? target.streaming : target.nonStreaming, r);
}

/** Adds one section's distributions to another (folding models into `other`). */
export function addDistributions(target: Distributions, source: Distributions): void {
  addHistogram(target.duration, source.duration);
  addHistogram(target.timeToFirstToken, source.timeToFirstToken);
  addHistogram(target.timePerOutputToken, source.timePerOutputToken);
  addHistogram(target.overhead, source.overhead);
  addHistogram(target.outputTokensPerSecond, source.outputTokensPerSecond);
  for (const t of TOKEN_TYPES) addHistogram(target.tokens[t], source.tokens[t]);
  for (const [type, n] of source.errorsByType) target.errorsByType.set(type, (target.errorsByType.get(type) ?? 0) + n);
}
