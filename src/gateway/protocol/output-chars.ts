import { isRecord } from './json-fields';

/**
 * Characters of output in one streamed delta: text, thinking and tool arguments (a signature or an
 * empty delta is none). Counted as they arrive, so in-flight requests show progress before the
 * upstream reports output tokens.
 */
export function anthropicDeltaChars(delta: unknown): number {
  if (!isRecord(delta)) return 0;
  return length(delta.text) + length(delta.partial_json) + length(delta.thinking);
}

/** The same for an OpenAI chat.completion.chunk choice's `delta`. */
export function openaiDeltaChars(delta: unknown): number {
  if (!isRecord(delta)) return 0;
  let chars = length(delta.content) + length(delta.refusal) + length(delta.reasoning_content) + length(delta.reasoning);
  const calls = delta.tool_calls;
  if (Array.isArray(calls)) {
    for (const call of calls as unknown[]) {
      if (isRecord(call) && isRecord(call.function)) chars += length(call.function.arguments);
    }
  }
  return chars;
}

function length(value: unknown): number {
  return typeof value === 'string' ? value.length : 0;
}
