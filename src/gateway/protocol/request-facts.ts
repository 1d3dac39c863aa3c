import { isRecord } from '../../core/json';
import type { ClientApi } from '../../core/api';
import type { RequestFacts } from './types';

/** Counts an Anthropic Messages request: messages plus system blocks, tool_use and tool_result blocks. */
export function anthropicRequestFacts(body: unknown): RequestFacts {
  const facts: RequestFacts = { messageCount: 0, toolUseCount: 0, toolResultCount: 0 };
  if (!isRecord(body)) return facts;
  const { messages, system } = body;
  if (typeof system === 'string') facts.messageCount += 1;
  else if (Array.isArray(system)) facts.messageCount += system.length;
  if (!Array.isArray(messages)) return facts;
  facts.messageCount += messages.length;
  for (const message of messages) {
    if (!isRecord(message) || !Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (!isRecord(block)) continue;
      if (block.type === 'tool_use') facts.toolUseCount += 1;
      else if (block.type === 'tool_result') facts.toolResultCount += 1;
    }
  }
  return facts;
}

/** Counts an OpenAI Chat Completions request: messages, assistant tool_calls entries, role "tool" messages. */
export function openaiRequestFacts(body: unknown): RequestFacts {
  const facts: RequestFacts = { messageCount: 0, toolUseCount: 0, toolResultCount: 0 };
  if (!isRecord(body) || !Array.isArray(body.messages)) return facts;
  facts.messageCount = body.messages.length;
  for (const message of body.messages) {
    if (!isRecord(message)) continue;
    if (message.role === 'assistant' && Array.isArray(message.tool_calls)) {
      facts.toolUseCount += message.tool_calls.length;
    } else if (message.role === 'tool') {
      facts.toolResultCount += 1;
    }
  }
  return facts;
}

const RESPONSES_TOOL_USES: ReadonlySet<unknown> = new Set(['function_call', 'custom_tool_call']);
const RESPONSES_TOOL_RESULTS: ReadonlySet<unknown> = new Set(['function_call_output', 'custom_tool_call_output']);

/** Counts a Responses API request: message items plus `instructions`, tool call items, tool output items. */
export function responsesRequestFacts(body: unknown): RequestFacts {
  const facts: RequestFacts = { messageCount: 0, toolUseCount: 0, toolResultCount: 0 };
  if (!isRecord(body)) return facts;
  if (typeof body.instructions === 'string' && body.instructions !== '') facts.messageCount += 1;
  const { input } = body;
  if (typeof input === 'string') facts.messageCount += 1;
  if (!Array.isArray(input)) return facts;
  for (const item of input) {
    if (!isRecord(item)) continue;
    // An item with a role and no type is a message (the SDK's EasyInputMessage).
    if (item.type === 'message' || (item.type === undefined && typeof item.role === 'string')) facts.messageCount += 1;
    else if (RESPONSES_TOOL_USES.has(item.type)) facts.toolUseCount += 1;
    else if (RESPONSES_TOOL_RESULTS.has(item.type)) facts.toolResultCount += 1;
  }
  return facts;
}

/** The request facts of a body sent to a proxied API. */
export function requestFactsFor(api: ClientApi | undefined, body: unknown): RequestFacts {
  switch (api) {
    case 'anthropic_messages':
      return anthropicRequestFacts(body);
    case 'openai_responses':
      return responsesRequestFacts(body);
    case 'openai_embeddings':
      return { messageCount: 0, toolUseCount: 0, toolResultCount: 0 };
    case 'openai_chat':
    case undefined:
      return openaiRequestFacts(body);
  }
}

/** The output limit a request sets (`max_tokens`, `max_completion_tokens` or `max_output_tokens`), for traces; undefined when it sets none. */
export function maxTokensOf(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  for (const value of [body.max_tokens, body.max_completion_tokens, body.max_output_tokens]) {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  }
  return undefined;
}
