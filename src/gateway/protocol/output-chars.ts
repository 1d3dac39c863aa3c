import { isRecord } from '../../core/json';

/**
 * The output in one streamed delta, as pieces pushed onto `into`: text, thinking and tool arguments
 * (a signature or an empty delta has none). Counted as they arrive, so in-flight requests show
 * progress before the upstream reports output tokens, and kept for an estimate should it never do.
 */
export function anthropicDeltaText(delta: unknown, into: string[]): void {
  if (!isRecord(delta)) return;
  add(into, delta.text);
  add(into, delta.partial_json);
  add(into, delta.thinking);
}

/** The same for an OpenAI chat.completion.chunk choice's `delta`. */
export function openaiDeltaText(delta: unknown, into: string[]): void {
  if (!isRecord(delta)) return;
  add(into, delta.content);
  add(into, delta.refusal);
  add(into, delta.reasoning_content);
  add(into, delta.reasoning);
  const calls = delta.tool_calls;
  if (Array.isArray(calls)) {
    for (const call of calls as unknown[]) {
      if (isRecord(call) && isRecord(call.function)) add(into, call.function.arguments);
    }
  }
}

function add(into: string[], value: unknown): void {
  if (typeof value === 'string' && value.length > 0) into.push(value);
}
