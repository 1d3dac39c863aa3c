/**
 * The usage parsers, one per protocol (contract section 1). Both the metrics and the protocol
 * conversion read usage only through them, so what is recorded and what a client is sent agree.
 */
import { withoutControlCharacters } from './bounded-text';
import { isRecord } from './json';

/** The counts a protocol parser reports: each a whole number, absent when not reported. */
export interface UsageCounts {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
  /** Already included in outputTokens, never added to it. */
  reasoningTokens?: number;
  toolCallCount?: number;
  /** Of cacheCreationTokens, those written with the 1-hour lifetime (Anthropic `cache_creation.ephemeral_1h_input_tokens`). */
  cacheWrite1hTokens?: number;
  /** Anthropic `server_tool_use.web_search_requests`: priced per search. */
  webSearchRequests?: number;
}

/** Usage as a protocol parser reports it; absent fields leave the record as it is. */
export interface UsagePatch extends UsageCounts {
  /**
   * The service tier the upstream says it served the request at, lower-cased (OpenAI `service_tier`:
   * `default`, `flex`, `priority`, `scale`; Anthropic `usage.service_tier`: `standard`, `priority`, `batch`).
   */
  serviceTier?: string;
}

export type UsageField = keyof UsageCounts;

/**
 * Where a request's counts came from (contract section 14): all from the upstream's usage, some
 * reported and the rest estimated, all estimated (the upstream answered but its usage never
 * arrived), or none (the request never reached the upstream, or it answered nothing to count).
 */
export type UsageSource = 'reported' | 'partial' | 'estimated' | 'none';

export const USAGE_SOURCES: readonly UsageSource[] = ['reported', 'partial', 'estimated', 'none'];

export const USAGE_FIELDS: readonly UsageField[] = [
  'inputTokens',
  'outputTokens',
  'cacheReadTokens',
  'cacheCreationTokens',
  'reasoningTokens',
  'toolCallCount',
  'cacheWrite1hTokens',
  'webSearchRequests',
];


/**
 * A token count as reported. Counts are integers: a fraction is rounded down (a token counts once
 * whole, and the record and the client's body hold the same integer). Negative, non-finite, beyond
 * exact integers (2^53) or not a number (a numeric string too): not reported, so it changes nothing.
 */
export function tokenCount(value: unknown): number | undefined {
  if (typeof value !== 'number' || !(value >= 0)) return undefined;
  const count = Math.floor(value);
  return Number.isSafeInteger(count) ? count : undefined;
}

/**
 * Tiers billed at a model's standard rates: OpenAI `default` (and `auto`, which the answer should
 * resolve but may echo), Anthropic `standard`, Groq `on_demand`. A request that reports none is standard too.
 */
export const STANDARD_SERVICE_TIERS: ReadonlySet<string> = new Set(['default', 'auto', 'standard', 'on_demand']);

export const isStandardServiceTier = (tier: string | undefined): boolean => tier === undefined || STANDARD_SERVICE_TIERS.has(tier);

/** Longer reported tiers are cut: the tier is a cache key and a log field, and real ones are short words. */
const SERVICE_TIER_MAX = 64;

/** A reported `service_tier`, lower-cased; anything but a non-empty string (`null` included) is not reported. */
export function serviceTierOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  // Only the start is looked at, control characters removed: the tier is a trace field and a stored column.
  const tier = withoutControlCharacters(value.slice(0, 4 * SERVICE_TIER_MAX)).trim().toLowerCase().slice(0, SERVICE_TIER_MAX);
  return tier === '' ? undefined : tier;
}

/**
 * Folds a later report into what is known: each count takes the latest non-zero value, the service
 * tier the latest one reported. A later 0 is no news (Anthropic's message_delta repeats input as 0;
 * counts are cumulative). Returns whether anything changed.
 * Field by field, spelled out: it runs on every usage event of every request.
 */
export function foldUsage(known: Partial<Record<UsageField, number>> & { serviceTier?: string }, patch: UsagePatch): boolean {
  let changed = false;
  if (patch.inputTokens && patch.inputTokens !== known.inputTokens) {
    known.inputTokens = patch.inputTokens;
    changed = true;
  }
  if (patch.outputTokens && patch.outputTokens !== known.outputTokens) {
    known.outputTokens = patch.outputTokens;
    changed = true;
  }
  if (patch.cacheReadTokens && patch.cacheReadTokens !== known.cacheReadTokens) {
    known.cacheReadTokens = patch.cacheReadTokens;
    changed = true;
  }
  if (patch.cacheCreationTokens && patch.cacheCreationTokens !== known.cacheCreationTokens) {
    known.cacheCreationTokens = patch.cacheCreationTokens;
    changed = true;
  }
  if (patch.reasoningTokens && patch.reasoningTokens !== known.reasoningTokens) {
    known.reasoningTokens = patch.reasoningTokens;
    changed = true;
  }
  if (patch.toolCallCount && patch.toolCallCount !== known.toolCallCount) {
    known.toolCallCount = patch.toolCallCount;
    changed = true;
  }
  if (patch.cacheWrite1hTokens && patch.cacheWrite1hTokens !== known.cacheWrite1hTokens) {
    known.cacheWrite1hTokens = patch.cacheWrite1hTokens;
    changed = true;
  }
  if (patch.webSearchRequests && patch.webSearchRequests !== known.webSearchRequests) {
    known.webSearchRequests = patch.webSearchRequests;
    changed = true;
  }
  if (patch.serviceTier !== undefined && patch.serviceTier !== known.serviceTier) {
    known.serviceTier = patch.serviceTier;
    changed = true;
  }
  return changed;
}

/** An Anthropic `usage` object (response body, message_start or message_delta) as a patch. */
export function anthropicUsage(usage: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(usage)) return patch;
  setIfDefined(patch, 'inputTokens', tokenCount(usage.input_tokens));
  setIfDefined(patch, 'outputTokens', tokenCount(usage.output_tokens));
  setIfDefined(patch, 'cacheReadTokens', tokenCount(usage.cache_read_input_tokens));
  setIfDefined(patch, 'cacheCreationTokens', tokenCount(usage.cache_creation_input_tokens));
  // Only non-zero: these refine the cost, and a reported 0 changes nothing.
  const write1h = isRecord(usage.cache_creation) ? tokenCount(usage.cache_creation.ephemeral_1h_input_tokens) : undefined;
  if (write1h) patch.cacheWrite1hTokens = write1h;
  const searches = isRecord(usage.server_tool_use) ? tokenCount(usage.server_tool_use.web_search_requests) : undefined;
  if (searches) patch.webSearchRequests = searches;
  setIfDefined(patch, 'serviceTier', serviceTierOf(usage.service_tier));
  return patch;
}

/**
 * An OpenAI `usage` object (response body or stream chunk), in the Anthropic convention: input
 * excludes cache reads. Cached tokens are part of prompt_tokens, so cache reads never exceed it
 * (input + cache reads = the prompt the upstream billed, never negative input).
 */
export function openaiUsage(usage: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(usage)) return patch;
  const prompt = tokenCount(usage.prompt_tokens);
  const details = usage.prompt_tokens_details;
  // DeepSeek reports cache hits as prompt_cache_hit_tokens instead of prompt_tokens_details.
  let cached =
    (isRecord(details) ? tokenCount(details.cached_tokens) : undefined) ??
    tokenCount(usage.prompt_cache_hit_tokens);
  if (prompt !== undefined) {
    if (cached !== undefined) cached = Math.min(cached, prompt);
    patch.inputTokens = prompt - (cached ?? 0);
  }
  setIfDefined(patch, 'cacheReadTokens', cached);
  setIfDefined(patch, 'outputTokens', tokenCount(usage.completion_tokens));
  const completion = usage.completion_tokens_details;
  if (isRecord(completion)) setIfDefined(patch, 'reasoningTokens', tokenCount(completion.reasoning_tokens));
  return patch;
}

/** Usage of a non-streaming Anthropic Messages response, with its tool_use blocks. */
export function anthropicMessageUsage(body: unknown): UsagePatch {
  if (!isRecord(body)) return {};
  const patch = anthropicUsage(body.usage);
  if (Array.isArray(body.content)) {
    let toolCalls = 0;
    for (const block of body.content) {
      if (isRecord(block) && block.type === 'tool_use') toolCalls += 1;
    }
    patch.toolCallCount = toolCalls;
  }
  return patch;
}

/** Usage of a chat.completion.chunk that carries it (the last one, with `stream_options.include_usage`), with its service tier. */
export function openaiChunkUsage(chunk: unknown): UsagePatch {
  if (!isRecord(chunk)) return {};
  const patch = openaiUsage(chunk.usage);
  setIfDefined(patch, 'serviceTier', serviceTierOf(chunk.service_tier));
  return patch;
}

/** Usage of a non-streaming OpenAI chat.completion, with its service tier and the tool calls of all its choices. */
export function openaiCompletionUsage(body: unknown): UsagePatch {
  if (!isRecord(body)) return {};
  const patch = openaiChunkUsage(body);
  if (Array.isArray(body.choices)) {
    let toolCalls = 0;
    for (const choice of body.choices) {
      if (!isRecord(choice) || !isRecord(choice.message)) continue;
      const calls = choice.message.tool_calls;
      if (Array.isArray(calls)) toolCalls += calls.length;
    }
    patch.toolCallCount = toolCalls;
  }
  return patch;
}

/**
 * A Responses API `usage` object (response body, or the response of a terminal stream event): input
 * excludes cached tokens, which are cache reads (never more than input).
 */
export function responsesUsage(usage: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(usage)) return patch;
  const input = tokenCount(usage.input_tokens);
  const details = usage.input_tokens_details;
  let cached = isRecord(details) ? tokenCount(details.cached_tokens) : undefined;
  if (input !== undefined) {
    if (cached !== undefined) cached = Math.min(cached, input);
    patch.inputTokens = input - (cached ?? 0);
  }
  setIfDefined(patch, 'cacheReadTokens', cached);
  setIfDefined(patch, 'outputTokens', tokenCount(usage.output_tokens));
  const output = usage.output_tokens_details;
  if (isRecord(output)) setIfDefined(patch, 'reasoningTokens', tokenCount(output.reasoning_tokens));
  return patch;
}

/** Output item types that are tool calls the model made. */
const RESPONSES_TOOL_CALLS: ReadonlySet<unknown> = new Set(['function_call', 'custom_tool_call']);

export function isResponsesToolCall(item: unknown): boolean {
  return isRecord(item) && RESPONSES_TOOL_CALLS.has(item.type);
}

/** Usage of a Responses API `response` object, with its service tier and the tool call items of its output. */
export function responsesResponseUsage(response: unknown): UsagePatch {
  if (!isRecord(response)) return {};
  const patch = responsesUsage(response.usage);
  setIfDefined(patch, 'serviceTier', serviceTierOf(response.service_tier));
  if (Array.isArray(response.output)) patch.toolCallCount = response.output.filter(isResponsesToolCall).length;
  return patch;
}

/** Usage of an embeddings answer: its prompt tokens are input. */
export function embeddingsUsage(body: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(body) || !isRecord(body.usage)) return patch;
  setIfDefined(patch, 'inputTokens', tokenCount(body.usage.prompt_tokens));
  return patch;
}

function setIfDefined<K extends keyof UsagePatch>(patch: UsagePatch, key: K, value: UsagePatch[K] | undefined): void {
  if (value !== undefined) patch[key] = value;
}
