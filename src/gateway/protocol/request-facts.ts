import { isRecord } from './json-fields';
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
