import { createHash } from 'node:crypto';
import { BadRequestException } from '@nestjs/common';
import type {
  AnthropicMessagesRequest,
  AnthropicToolChoice,
  OpenAIChatRequest,
  OpenAIMessage,
  OpenAITool,
  OpenAIToolCall,
  OpenAIToolChoice,
  OpenAIUserPart,
} from './wire-types';
import { isNumber, isObject, isString } from './guards';

/** Separator between Anthropic text blocks folded into one OpenAI string content. */
const TEXT_JOIN = '\n\n';
const TOOL_ERROR_PREFIX = 'Error: ';
const TOOL_IMAGE_NOTE = '(image output attached in the next user message)';
const THINKING_OPEN = '<thinking>\n';
const THINKING_CLOSE = '\n</thinking>';
/** Blocks of tools Anthropic runs on its servers (their results all end in `_tool_result`). */
const SERVER_BLOCKS: ReadonlySet<string> = new Set(['server_tool_use', 'mcp_tool_use', 'mcp_tool_result', 'container_upload']);
/** OpenAI-compatible providers refuse a longer `user`. */
const OPENAI_USER_MAX = 64;

/**
 * A request the conversion would have to change to send: a role, block or source the OpenAI side has
 * no form for. Refused whole (400, `bad_request`) rather than sent without it.
 */
export class UnconvertibleRequestError extends BadRequestException {}

/** At most this much of a client-chosen type name goes into an error message. */
const NAME_IN_ERROR_MAX = 40;

function refuse(path: string, why: string): never {
  throw new UnconvertibleRequestError(
    `${path}: ${why}; an openai-format provider has no form for it, so the request is refused rather than sent without it (send it to an anthropic-format provider)`,
  );
}

/** A client-chosen type, quoted and cut short for an error message. */
function named(value: unknown): string {
  if (!isString(value)) return value === undefined ? 'a block with no type' : `a ${typeof value} type`;
  return JSON.stringify(value.length > NAME_IN_ERROR_MAX ? `${value.slice(0, NAME_IN_ERROR_MAX)}...` : value);
}

/**
 * Anthropic Messages request -> OpenAI Chat Completions request. Every role, block and source is
 * carried over or refused (UnconvertibleRequestError); nothing a client sent is dropped silently.
 * Only Anthropic-only knobs are left out (top_k, thinking, cache_control, service_tier, ...).
 */
export function toOpenAIRequest(body: AnthropicMessagesRequest, upstreamModel: string): OpenAIChatRequest {
  const messages: OpenAIMessage[] = [];
  const system = systemText(body.system, 'system');
  if (system !== undefined) messages.push({ role: 'system', content: system });
  const input: unknown = body.messages;
  if (Array.isArray(input)) input.forEach((message: unknown, i) => messages.push(...convertMessage(message, `messages[${i}]`)));

  const out: OpenAIChatRequest = { model: upstreamModel, messages };
  if (isNumber(body.max_tokens)) out.max_tokens = body.max_tokens;
  if (isNumber(body.temperature)) out.temperature = body.temperature;
  if (isNumber(body.top_p)) out.top_p = body.top_p;
  const stop = Array.isArray(body.stop_sequences) ? body.stop_sequences.filter(isString) : [];
  if (stop.length > 0) out.stop = stop;
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }

  const tools = Array.isArray(body.tools) ? body.tools.map((tool, i) => convertTool(tool, `tools[${i}]`)) : [];
  // OpenAI rejects tool_choice / parallel_tool_calls without tools, so they only travel with tools.
  if (tools.length > 0) {
    out.tools = tools;
    const choice = body.tool_choice;
    if (isObject(choice)) {
      out.tool_choice = convertToolChoice(choice);
      if ('disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true) {
        out.parallel_tool_calls = false;
      }
    }
  }

  const userId = isObject(body.metadata) ? body.metadata.user_id : undefined;
  if (isString(userId) && userId !== '') out.user = upstreamUser(userId);
  return out;
}

/** The client's user id as OpenAI `user`: as is up to 64 characters, else a stable digest of it (47 characters). */
function upstreamUser(userId: string): string {
  if (userId.length <= OPENAI_USER_MAX) return userId;
  return `vdm-${createHash('sha256').update(userId).digest('base64url')}`;
}

/** A system prompt (the top-level one, or a `system` message): a string or text blocks, joined. */
function systemText(system: unknown, path: string): string | undefined {
  if (system === undefined || system === null) return undefined;
  if (isString(system)) return system === '' ? undefined : system;
  if (!Array.isArray(system)) refuse(path, 'a system prompt must be a string or text blocks');
  const texts = (system as unknown[]).map((block, i) => {
    if (!isObject(block) || block.type !== 'text' || !isString(block.text)) {
      refuse(`${path}[${i}]`, `${isObject(block) ? named(block.type) : 'a non-object'} block in a system prompt (only text blocks are)`);
    }
    return block.text;
  });
  const kept = texts.filter((text) => text !== '');
  return kept.length > 0 ? kept.join(TEXT_JOIN) : undefined;
}

function convertMessage(message: unknown, path: string): OpenAIMessage[] {
  if (!isObject(message)) refuse(path, 'a message must be an object');
  const content: unknown = message.content;
  // The Claude Agent SDK sends its environment block as a system message for models other than Claude's: kept in place.
  if (message.role === 'system') {
    const text = systemText(content, `${path}.content`);
    return text === undefined ? [] : [{ role: 'system', content: text }];
  }
  if (message.role !== 'user' && message.role !== 'assistant') refuse(`${path}.role`, `the role ${named(message.role)}`);
  if (!isString(content) && !Array.isArray(content)) refuse(`${path}.content`, 'content must be a string or an array of blocks');
  const blocks = isString(content) ? undefined : (content as unknown[]);
  if (message.role === 'assistant') return blocks === undefined ? [{ role: 'assistant', content: content as string }] : convertAssistantBlocks(blocks, `${path}.content`);
  return blocks === undefined ? [{ role: 'user', content: content as string }] : convertUserBlocks(blocks, `${path}.content`);
}

function convertAssistantBlocks(blocks: unknown[], path: string): OpenAIMessage[] {
  const texts: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  blocks.forEach((block, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(block)) refuse(at, 'a content block must be an object');
    switch (block.type) {
      case 'text':
        if (!isString(block.text)) refuse(at, 'a text block without text');
        if (block.text !== '') texts.push(block.text);
        return;
      case 'tool_use':
        toolCalls.push({
          id: isString(block.id) ? block.id : '',
          type: 'function',
          function: {
            name: isString(block.name) ? block.name : '',
            arguments: JSON.stringify(block.input ?? {}),
          },
        });
        return;
      case 'thinking':
        // Earlier reasoning (a conversation moved from a Claude model) stays with its turn, marked as such; its signature is Anthropic's.
        if (!isString(block.thinking)) refuse(at, 'a thinking block without thinking');
        if (block.thinking !== '') texts.push(`${THINKING_OPEN}${block.thinking}${THINKING_CLOSE}`);
        return;
      case 'redacted_thinking':
        return refuse(at, 'a redacted_thinking block (reasoning encrypted for Claude models)');
      default:
        return refuse(at, unconvertibleBlock(block.type, 'an assistant message'));
    }
  });
  // An assistant turn with no content at all has nothing to carry.
  if (texts.length === 0 && toolCalls.length === 0) return [];
  const text = texts.length > 0 ? texts.join(TEXT_JOIN) : null;
  if (toolCalls.length === 0) return [{ role: 'assistant', content: text ?? '' }];
  return [{ role: 'assistant', content: text, tool_calls: toolCalls }];
}

/** Why a block type cannot travel: a server tool's blocks run only at Anthropic; anything else is unknown here. */
function unconvertibleBlock(type: unknown, where: string): string {
  if (isString(type) && (SERVER_BLOCKS.has(type) || type.endsWith('_tool_result'))) {
    return `${named(type)}, a block of a tool Anthropic runs on its servers`;
  }
  return `${named(type)} blocks in ${where}`;
}

/** tool_result blocks become `tool` messages first (OpenAI wants them right after the tool calls), then the rest. */
function convertUserBlocks(blocks: unknown[], path: string): OpenAIMessage[] {
  const toolMessages: OpenAIMessage[] = [];
  const toolParts: OpenAIUserPart[] = [];
  const parts: OpenAIUserPart[] = [];
  blocks.forEach((block, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(block)) refuse(at, 'a content block must be an object');
    if (block.type !== 'tool_result') {
      parts.push(...convertUserPart(block, at, 'a user message'));
      return;
    }
    const result = convertToolResultContent(block.content, `${at}.content`);
    let text = result.text;
    if (result.parts.length > 0) {
      text = text === '' ? TOOL_IMAGE_NOTE : `${text}\n${TOOL_IMAGE_NOTE}`;
      toolParts.push(...result.parts);
    }
    if (block.is_error === true) text = `${TOOL_ERROR_PREFIX}${text}`;
    toolMessages.push({
      role: 'tool',
      tool_call_id: isString(block.tool_use_id) ? block.tool_use_id : '',
      content: text,
    });
  });
  const userParts = [...toolParts, ...parts];
  if (userParts.length === 0) {
    // A user message with no content at all still keeps its turn.
    return toolMessages.length > 0 ? toolMessages : [{ role: 'user', content: '' }];
  }
  return [...toolMessages, { role: 'user', content: collapseParts(userParts) }];
}

/** One block of user content (or of a tool result, or of a document's content). */
function convertUserPart(block: Record<string, unknown>, path: string, where: string): OpenAIUserPart[] {
  switch (block.type) {
    case 'text':
      if (!isString(block.text)) refuse(path, 'a text block without text');
      return [{ type: 'text', text: block.text }];
    case 'image':
      return [{ type: 'image_url', image_url: { url: imageUrl(block.source, `${path}.source`) } }];
    case 'document':
      return convertDocument(block, path);
    case 'search_result':
      return [{ type: 'text', text: searchResultText(block, path) }];
    default:
      return refuse(path, unconvertibleBlock(block.type, where));
  }
}

function imageUrl(source: unknown, path: string): string {
  if (!isObject(source)) refuse(path, 'an image without a source');
  if (source.type === 'base64' && isString(source.data)) {
    const mediaType = isString(source.media_type) ? source.media_type : 'image/png';
    return `data:${mediaType};base64,${source.data}`;
  }
  if (source.type === 'url' && isString(source.url)) return source.url;
  return refuse(path, `an image source of type ${named(source.type)} (only base64 and url are carried)`);
}

function convertDocument(block: Record<string, unknown>, path: string): OpenAIUserPart[] {
  const source = block.source;
  const title = isString(block.title) && block.title !== '' ? block.title : undefined;
  const context = isString(block.context) && block.context !== '' ? block.context : undefined;
  // The title and the context the client gave a document lead its text.
  const lead = [title, context].filter((v): v is string => v !== undefined);
  if (!isObject(source)) refuse(`${path}.source`, 'a document without a source');
  if (source.type === 'text' && isString(source.data)) {
    return [{ type: 'text', text: [...lead, source.data].join(TEXT_JOIN) }];
  }
  if (source.type === 'base64' && isString(source.data)) {
    const mediaType = isString(source.media_type) ? source.media_type : 'application/pdf';
    const file: { filename?: string; file_data: string } = {
      file_data: `data:${mediaType};base64,${source.data}`,
    };
    if (title !== undefined) file.filename = title;
    return context === undefined ? [{ type: 'file', file }] : [{ type: 'text', text: context }, { type: 'file', file }];
  }
  if (source.type === 'content') {
    const head: OpenAIUserPart[] = lead.length === 0 ? [] : [{ type: 'text', text: lead.join(TEXT_JOIN) }];
    if (isString(source.content)) return [...head, { type: 'text', text: source.content }];
    if (Array.isArray(source.content)) {
      return [
        ...head,
        ...(source.content as unknown[]).flatMap((b, i) => {
          const at = `${path}.source.content[${i}]`;
          if (!isObject(b)) refuse(at, 'a content block must be an object');
          return convertUserPart(b, at, 'a document');
        }),
      ];
    }
  }
  // url and file sources are fetched by Anthropic; an OpenAI file part needs the bytes.
  return refuse(`${path}.source`, `a document source of type ${named(source.type)} (only text, base64 and content are carried)`);
}

/** A search result (retrieved text with its origin) as plain text: title, source, then its text blocks. */
function searchResultText(block: Record<string, unknown>, path: string): string {
  const head = [block.title, block.source].filter((v): v is string => isString(v) && v !== '');
  const content: unknown = block.content;
  const texts = Array.isArray(content)
    ? (content as unknown[]).map((b, i) => {
        if (!isObject(b) || b.type !== 'text' || !isString(b.text)) refuse(`${path}.content[${i}]`, 'a search result holds text blocks only');
        return b.text;
      })
    : [];
  return [...head, ...texts].join(TEXT_JOIN);
}

/** A tool result's text, and the parts OpenAI takes only in a user message (images, files) that follow it. */
function convertToolResultContent(content: unknown, path: string): { text: string; parts: OpenAIUserPart[] } {
  if (content === undefined || content === null) return { text: '', parts: [] };
  if (isString(content)) return { text: content, parts: [] };
  if (!Array.isArray(content)) refuse(path, 'a tool result must hold a string or an array of blocks');
  const texts: string[] = [];
  const parts: OpenAIUserPart[] = [];
  (content as unknown[]).forEach((block, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(block)) refuse(at, 'a content block must be an object');
    for (const part of convertUserPart(block, at, 'a tool result')) {
      if (part.type === 'text') texts.push(part.text);
      else parts.push(part);
    }
  });
  return { text: texts.join(TEXT_JOIN), parts };
}

/** Text-only content goes as one string: every OpenAI-compatible server accepts that form. */
function collapseParts(parts: OpenAIUserPart[]): string | OpenAIUserPart[] {
  if (parts.every((part) => part.type === 'text')) {
    return parts.map((part) => (part.type === 'text' ? part.text : '')).join(TEXT_JOIN);
  }
  return parts;
}

/** Tools with a schema; Anthropic-defined ones without (web_search_..., bash_...) are refused. */
function convertTool(tool: unknown, path: string): OpenAITool {
  if (!isObject(tool)) refuse(path, 'a tool must be an object');
  if (!isString(tool.name) || tool.name === '') refuse(`${path}.name`, 'a tool without a name');
  const isClientTool = tool.type === undefined || tool.type === null || tool.type === 'custom';
  if (!isClientTool && !isObject(tool.input_schema)) {
    refuse(path, `the tool type ${named(tool.type)}, a tool Anthropic defines (run on its servers, or with a schema only Claude models know)`);
  }
  const parameters = isObject(tool.input_schema) ? tool.input_schema : { type: 'object', properties: {} };
  const fn: OpenAITool['function'] = { name: tool.name, parameters };
  if (isString(tool.description) && tool.description !== '') fn.description = tool.description;
  return { type: 'function', function: fn };
}

function convertToolChoice(choice: AnthropicToolChoice): OpenAIToolChoice {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      if (!isString(choice.name)) refuse('tool_choice.name', 'a tool choice of type "tool" without a name');
      return { type: 'function', function: { name: choice.name } };
    default:
      return refuse('tool_choice.type', `the tool choice ${named((choice as { type?: unknown }).type)}`);
  }
}
