
import { countTextTokens } from '../../core/token-count';

/** Collects the text a model would read from a request's messages (Anthropic Messages, OpenAI chat or Responses items). */
function textOf(value: unknown, out: string[]): void {
  if (typeof value === 'string') {
    out.push(value);
  } else if (Array.isArray(value)) {
    for (const item of value) textOf(item, out);
  } else if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>;
    if (typeof v.text === 'string') out.push(v.text);
    if (v.type === 'tool_use') out.push(typeof v.name === 'string' ? v.name : '', JSON.stringify(v.input ?? {}));
    if (v.type === 'tool_result') textOf(v.content, out);
    if (typeof v.content === 'string' || Array.isArray(v.content)) {
      if (v.type !== 'tool_result') textOf(v.content, out);
    }
    // OpenAI: an assistant's tool calls, and Responses function calls and their outputs.
    if (Array.isArray(v.tool_calls)) textOf(v.tool_calls, out);
    if (typeof v.function === 'object' && v.function !== null) textOf(v.function, out);
    if (typeof v.arguments === 'string') out.push(v.arguments);
    if (typeof v.output === 'string') out.push(v.output);
  }
}

/**
 * An estimate of a Messages request's input tokens for providers that have no count endpoint:
 * an OpenAI tokenizer over the text, plus a few tokens per message and the tool schemas.
 */
export function estimateInputTokens(body: { system?: unknown; messages?: unknown; tools?: unknown }): number {
  const parts: string[] = [];
  textOf(body.system, parts);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) textOf(m, parts);
  if (Array.isArray(body.tools)) parts.push(JSON.stringify(body.tools));
  const perMessage = 4;
  return countTextTokens(parts) + perMessage * messages.length;
}
