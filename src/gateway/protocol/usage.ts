import type { UsagePatch } from '../../metrics/model/request-record';
import { isRecord, tokenCount } from './json-fields';

/** Usage of a non-streaming Anthropic Messages response; fields the upstream did not report stay absent. */
export function anthropicUsage(body: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(body)) return patch;
  const { usage, content } = body;
  if (isRecord(usage)) {
    setIfDefined(patch, 'inputTokens', tokenCount(usage.input_tokens));
    setIfDefined(patch, 'outputTokens', tokenCount(usage.output_tokens));
    setIfDefined(patch, 'cacheReadTokens', tokenCount(usage.cache_read_input_tokens));
    setIfDefined(patch, 'cacheCreationTokens', tokenCount(usage.cache_creation_input_tokens));
  }
  if (Array.isArray(content)) {
    let toolCalls = 0;
    for (const block of content) {
      if (isRecord(block) && block.type === 'tool_use') toolCalls += 1;
    }
    patch.toolCallCount = toolCalls;
  }
  return patch;
}

/** Usage of a non-streaming OpenAI chat.completion, in the Anthropic convention (input excludes cache reads). */
export function openaiUsage(body: unknown): UsagePatch {
  if (!isRecord(body)) return {};
  const patch = openaiUsageFromObject(body.usage);
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

/** An OpenAI `usage` object (response body or final stream chunk) as a patch; never negative. */
export function openaiUsageFromObject(usage: unknown): UsagePatch {
  const patch: UsagePatch = {};
  if (!isRecord(usage)) return patch;
  const prompt = tokenCount(usage.prompt_tokens);
  const details = usage.prompt_tokens_details;
  // DeepSeek reports cache hits as prompt_cache_hit_tokens instead of prompt_tokens_details.
  const cached =
    (isRecord(details) ? tokenCount(details.cached_tokens) : undefined) ??
    tokenCount(usage.prompt_cache_hit_tokens);
  if (prompt !== undefined) patch.inputTokens = Math.max(0, prompt - (cached ?? 0));
  setIfDefined(patch, 'cacheReadTokens', cached);
  setIfDefined(patch, 'outputTokens', tokenCount(usage.completion_tokens));
  return patch;
}

function setIfDefined(patch: UsagePatch, key: keyof UsagePatch, value: number | undefined): void {
  if (value !== undefined) patch[key] = value;
}
