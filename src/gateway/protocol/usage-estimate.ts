import { countTextTokens } from '../../core/token-count';
import type { ClientApi } from '../../core/api';
import type { UsageEstimator } from '../../metrics/request-metrics';
import { estimateInputTokens } from '../conversion/token-estimate';
import { isRecord } from '../../core/json';

/**
 * How a request's usage is estimated should the upstream answer without reporting it (contract
 * section 14): its input from the body, the way count_tokens estimates it; embeddings have no output.
 */
export function usageEstimator(api: ClientApi, body: Record<string, unknown>): UsageEstimator {
  // Computed once: a budget's reservation and the finalization's estimate share it.
  let input: number | undefined;
  return { input: () => (input ??= estimateRequestInput(api, body)), hasOutput: api !== 'openai_embeddings' };
}

export function estimateRequestInput(api: ClientApi, body: Record<string, unknown>): number {
  switch (api) {
    case 'anthropic_messages':
      return estimateInputTokens(body);
    case 'openai_chat':
      return estimateInputTokens({ messages: body.messages, tools: body.tools });
    case 'openai_responses':
      return estimateInputTokens({ system: body.instructions, messages: typeof body.input === 'string' ? [body.input] : body.input, tools: body.tools });
    case 'openai_embeddings':
      return embeddingsInputTokens(body.input);
  }
}

/** Embeddings input: a text, texts, or token arrays already (their length is their count). */
function embeddingsInputTokens(input: unknown): number {
  if (typeof input === 'string') return countTextTokens([input]);
  if (!Array.isArray(input)) return 0;
  const texts: string[] = [];
  let tokens = 0;
  for (const item of input as unknown[]) {
    if (typeof item === 'string') texts.push(item);
    else if (typeof item === 'number') tokens += 1;
    else if (Array.isArray(item)) tokens += item.length;
  }
  return tokens + countTextTokens(texts);
}

/** The output of an Anthropic Messages answer: text, thinking and tool inputs. */
export function anthropicAnswerText(body: unknown): string[] {
  const out: string[] = [];
  if (!isRecord(body) || !Array.isArray(body.content)) return out;
  for (const block of body.content as unknown[]) {
    if (!isRecord(block)) continue;
    add(out, block.text);
    add(out, block.thinking);
    if (block.type === 'tool_use' && block.input !== undefined) out.push(JSON.stringify(block.input));
  }
  return out;
}

/** The output of an OpenAI chat.completion: every choice's content, refusal, reasoning and tool arguments. */
export function chatAnswerText(body: unknown): string[] {
  const out: string[] = [];
  if (!isRecord(body) || !Array.isArray(body.choices)) return out;
  for (const choice of body.choices as unknown[]) {
    if (!isRecord(choice) || !isRecord(choice.message)) continue;
    const m = choice.message;
    add(out, m.content);
    add(out, m.refusal);
    add(out, m.reasoning_content);
    add(out, m.reasoning);
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls as unknown[]) if (isRecord(call) && isRecord(call.function)) add(out, call.function.arguments);
    }
  }
  return out;
}

/** The output of a Responses API response: output text and refusals, reasoning text, tool call arguments and inputs. */
export function responsesAnswerText(body: unknown): string[] {
  const out: string[] = [];
  if (!isRecord(body) || !Array.isArray(body.output)) return out;
  for (const item of body.output as unknown[]) {
    if (!isRecord(item)) continue;
    add(out, item.arguments);
    add(out, item.input);
    for (const list of [item.content, item.summary]) {
      if (!Array.isArray(list)) continue;
      for (const part of list as unknown[]) {
        if (!isRecord(part)) continue;
        add(out, part.text);
        add(out, part.refusal);
      }
    }
  }
  return out;
}

function add(into: string[], value: unknown): void {
  if (typeof value === 'string' && value.length > 0) into.push(value);
}
