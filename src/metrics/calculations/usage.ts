import type { RequestRecord, UsagePatch } from '../model/request-record';

/**
 * Each usage field takes the latest non-zero value reported: an Anthropic `message_delta` that
 * carries `input_tokens: 0` or omits cache fields must not wipe what `message_start` said.
 * Returns whether anything changed.
 */
export function mergeUsage(record: RequestRecord, patch: UsagePatch): boolean {
  let changed = false;
  if (patch.inputTokens && patch.inputTokens !== record.inputTokens) {
    record.inputTokens = patch.inputTokens;
    changed = true;
  }
  if (patch.outputTokens && patch.outputTokens !== record.outputTokens) {
    record.outputTokens = patch.outputTokens;
    changed = true;
  }
  if (patch.cacheReadTokens && patch.cacheReadTokens !== record.cacheReadTokens) {
    record.cacheReadTokens = patch.cacheReadTokens;
    changed = true;
  }
  if (patch.cacheCreationTokens && patch.cacheCreationTokens !== record.cacheCreationTokens) {
    record.cacheCreationTokens = patch.cacheCreationTokens;
    changed = true;
  }
  if (patch.toolCallCount && patch.toolCallCount !== record.toolCallCount) {
    record.toolCallCount = patch.toolCallCount;
    changed = true;
  }
  return changed;
}
