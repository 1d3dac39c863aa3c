import type { ErrorType } from '../../core/error-type';
import type { ResolvedPrice } from '../pricing/price-book';
import type { ClientApi } from '../../core/api';
import type { UsageSource } from '../../core/usage';

/** One request's measurements (contract section 1), in internal names; the wire names live in format/wire.ts. */
export interface RequestRecord {
  requestId: string;
  /** Unix seconds. */
  startTime: number;
  /** Monotonic clock at start (ms), for durations that ignore wall-clock jumps. */
  startMono: number;
  endTime?: number;
  durationMs?: number;
  /** The model string exactly as the client sent it. */
  requestedModel?: string;
  /** The resolved upstream model name. */
  resolvedModel?: string;
  provider?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Already included in outputTokens. */
  reasoningTokens: number;
  /** The client API the request came in on. */
  api?: ClientApi;
  messageCount: number;
  requestSize: number;
  responseSize: number;
  isStreaming: boolean;
  error?: string;
  errorType?: ErrorType;
  toolUseCount: number;
  toolResultCount: number;
  toolCallCount: number;
  /** Characters of streamed content deltas (text, thinking, tool arguments) received so far, and how many deltas. */
  outputChars: number;
  outputChunks: number;
  /** Time to first token (ms from start), streams only. */
  ttftMs?: number;
  /** Time spent waiting on the upstream (ms); duration minus this is the gateway's own overhead. */
  upstreamMs?: number;
  /** Of cacheCreationTokens, those written for one hour; and web search requests: both priced apart. */
  cacheWrite1hTokens: number;
  webSearchRequests: number;
  /** The service tier the upstream reported serving it at (lower-cased); undefined when it reported none. */
  serviceTier?: string;
  /** The price of its provider/model, resolved when routed (cached per provider/model); a non-standard tier has its own (`atTier`). */
  pricing?: ResolvedPrice;
  /** Where the counts came from (contract section 14); set when finalized. */
  usageSource?: UsageSource;
  /** Set when finalized: nanodollars, or null when no price is known. */
  costNano?: number | null;
  /** Who sent it: the client key's name, a key fingerprint, `anonymous` or `other` (bounded, so a label). */
  client: string;
  /** The end user and session the client named; unbounded, so in traces only. */
  user?: string;
  session?: string;
}

export interface RequestStart {
  requestId: string;
  requestedModel?: string;
  isStreaming?: boolean;
  provider?: string;
  resolvedModel?: string;
  messageCount?: number;
  requestSize?: number;
  toolUseCount?: number;
  toolResultCount?: number;
  api?: ClientApi;
  client?: string;
  user?: string;
  session?: string;
  /** The most output tokens the request allows (`max_tokens`, `max_completion_tokens`, `max_output_tokens`): traced only. */
  maxTokens?: number;
}

export function newRecord(start: RequestStart, nowUnix: number, nowMono: number, requestId = start.requestId): RequestRecord {
  return {
    requestId,
    startTime: nowUnix,
    startMono: nowMono,
    requestedModel: start.requestedModel,
    resolvedModel: start.resolvedModel,
    provider: start.provider,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    reasoningTokens: 0,
    api: start.api,
    messageCount: start.messageCount ?? 0,
    requestSize: start.requestSize ?? 0,
    responseSize: 0,
    isStreaming: start.isStreaming ?? false,
    toolUseCount: start.toolUseCount ?? 0,
    toolResultCount: start.toolResultCount ?? 0,
    toolCallCount: 0,
    outputChars: 0,
    outputChunks: 0,
    cacheWrite1hTokens: 0,
    webSearchRequests: 0,
    client: start.client ?? 'anonymous',
    user: start.user,
    session: start.session,
  };
}
