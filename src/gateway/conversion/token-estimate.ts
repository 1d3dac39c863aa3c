
/** Collects the text a model would read from an Anthropic Messages request. */
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
  }
}

/**
 * An estimate of a Messages request's input tokens for providers that have no count endpoint:
 * an OpenAI tokenizer over the text, plus a few tokens per message and the tool schemas.
 */
export function estimateInputTokens(body: { system?: unknown; messages?: unknown; tools?: unknown }): number {
  // Loaded on first use: the encoder tables are large and most deployments never need them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { countTokens } = require('gpt-tokenizer') as typeof import('gpt-tokenizer');
  const parts: string[] = [];
  textOf(body.system, parts);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) textOf(m, parts);
  if (Array.isArray(body.tools)) parts.push(JSON.stringify(body.tools));
  const perMessage = 4;
  return countTokens(parts.join('\n')) + perMessage * messages.length;
}
