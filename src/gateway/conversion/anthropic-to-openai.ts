import { createHash } from 'node:crypto';
import type {
  AnthropicContentBlockParam,
  AnthropicMessageParam,
  AnthropicMessagesRequest,
  AnthropicTool,
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
/** OpenAI-compatible providers refuse a longer `user`. */
const OPENAI_USER_MAX = 64;

/**
 * Anthropic Messages request -> OpenAI Chat Completions request.
 * Never throws on odd input: blocks it cannot express (thinking, server tools, ...) are dropped,
 * and so are Anthropic-only knobs (top_k, thinking, cache_control, service_tier).
 */
export function toOpenAIRequest(body: AnthropicMessagesRequest, upstreamModel: string): OpenAIChatRequest {
  const messages: OpenAIMessage[] = [];
  const system = systemText(body.system);
  if (system !== undefined) messages.push({ role: 'system', content: system });
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    messages.push(...convertMessage(message));
  }

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

  const tools = Array.isArray(body.tools) ? body.tools.flatMap(convertTool) : [];
  // OpenAI rejects tool_choice / parallel_tool_calls without tools, so they only travel with tools.
  if (tools.length > 0) {
    out.tools = tools;
    const choice = body.tool_choice;
    if (isObject(choice)) {
      const converted = convertToolChoice(choice);
      if (converted !== undefined) out.tool_choice = converted;
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

function systemText(system: AnthropicMessagesRequest['system']): string | undefined {
  if (isString(system)) return system === '' ? undefined : system;
  if (!Array.isArray(system)) return undefined;
  const texts = system.flatMap((block) =>
    isObject(block) && isString(block.text) && block.text !== '' ? [block.text] : [],
  );
  return texts.length > 0 ? texts.join(TEXT_JOIN) : undefined;
}

function convertMessage(message: AnthropicMessageParam): OpenAIMessage[] {
  if (!isObject(message)) return [];
  const content = message.content;
  if (message.role === 'assistant') {
    if (isString(content)) return [{ role: 'assistant', content }];
    return Array.isArray(content) ? convertAssistantBlocks(content) : [];
  }
  if (message.role !== 'user') return [];
  if (isString(content)) return [{ role: 'user', content }];
  return Array.isArray(content) ? convertUserBlocks(content) : [];
}

function convertAssistantBlocks(blocks: AnthropicContentBlockParam[]): OpenAIMessage[] {
  const texts: string[] = [];
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && isString(block.text)) {
      if (block.text !== '') texts.push(block.text);
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: isString(block.id) ? block.id : '',
        type: 'function',
        function: {
          name: isString(block.name) ? block.name : '',
          arguments: JSON.stringify(block.input ?? {}),
        },
      });
    }
    // thinking / redacted_thinking / server tool blocks: no OpenAI equivalent, dropped.
  }
  if (texts.length === 0 && toolCalls.length === 0) return [];
  const text = texts.length > 0 ? texts.join(TEXT_JOIN) : null;
  if (toolCalls.length === 0) return [{ role: 'assistant', content: text ?? '' }];
  return [{ role: 'assistant', content: text, tool_calls: toolCalls }];
}

/** tool_result blocks become `tool` messages first (OpenAI wants them right after the tool calls), then the rest. */
function convertUserBlocks(blocks: AnthropicContentBlockParam[]): OpenAIMessage[] {
  const toolMessages: OpenAIMessage[] = [];
  const toolImages: OpenAIUserPart[] = [];
  const parts: OpenAIUserPart[] = [];
  for (const block of blocks) {
    if (!isObject(block)) continue;
    if (block.type === 'tool_result') {
      const result = convertToolResultContent(block.content);
      let text = result.text;
      if (result.images.length > 0) {
        text = text === '' ? TOOL_IMAGE_NOTE : `${text}\n${TOOL_IMAGE_NOTE}`;
        toolImages.push(...result.images);
      }
      if (block.is_error === true) text = `${TOOL_ERROR_PREFIX}${text}`;
      toolMessages.push({
        role: 'tool',
        tool_call_id: isString(block.tool_use_id) ? block.tool_use_id : '',
        content: text,
      });
    } else {
      parts.push(...convertUserPart(block));
    }
  }
  const userParts = [...toolImages, ...parts];
  if (userParts.length === 0) {
    // A user message with no convertible content at all still keeps its turn.
    return toolMessages.length > 0 ? toolMessages : [{ role: 'user', content: '' }];
  }
  return [...toolMessages, { role: 'user', content: collapseParts(userParts) }];
}

function convertUserPart(block: AnthropicContentBlockParam): OpenAIUserPart[] {
  switch (block.type) {
    case 'text':
      return isString(block.text) ? [{ type: 'text', text: block.text }] : [];
    case 'image': {
      const url = imageUrl(block.source);
      return url === undefined ? [] : [{ type: 'image_url', image_url: { url } }];
    }
    case 'document':
      return convertDocument(block.source, block.title);
    case 'tool_use':
    case 'tool_result':
    case 'thinking':
    case 'redacted_thinking':
    case 'server_tool_use':
    case 'web_search_tool_result':
    case 'search_result':
      return [];
    default:
      return [];
  }
}

function imageUrl(source: unknown): string | undefined {
  if (!isObject(source)) return undefined;
  if (source.type === 'base64' && isString(source.data)) {
    const mediaType = isString(source.media_type) ? source.media_type : 'image/png';
    return `data:${mediaType};base64,${source.data}`;
  }
  if (source.type === 'url' && isString(source.url)) return source.url;
  return undefined;
}

function convertDocument(source: unknown, title: unknown): OpenAIUserPart[] {
  if (!isObject(source)) return [];
  if (source.type === 'text' && isString(source.data)) return [{ type: 'text', text: source.data }];
  if (source.type === 'base64' && isString(source.data)) {
    const mediaType = isString(source.media_type) ? source.media_type : 'application/pdf';
    const file: { filename?: string; file_data: string } = {
      file_data: `data:${mediaType};base64,${source.data}`,
    };
    if (isString(title) && title !== '') file.filename = title;
    return [{ type: 'file', file }];
  }
  if (source.type === 'content') {
    if (isString(source.content)) return [{ type: 'text', text: source.content }];
    if (Array.isArray(source.content)) {
      return (source.content as unknown[]).flatMap((b) =>
        isObject(b) ? convertUserPart(b as unknown as AnthropicContentBlockParam) : [],
      );
    }
  }
  return [];
}

function convertToolResultContent(content: unknown): { text: string; images: OpenAIUserPart[] } {
  if (isString(content)) return { text: content, images: [] };
  if (!Array.isArray(content)) return { text: '', images: [] };
  const texts: string[] = [];
  const images: OpenAIUserPart[] = [];
  for (const block of content as unknown[]) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && isString(block.text)) texts.push(block.text);
    else if (block.type === 'image') {
      const url = imageUrl(block.source);
      if (url !== undefined) images.push({ type: 'image_url', image_url: { url } });
    }
  }
  return { text: texts.join(TEXT_JOIN), images };
}

/** Text-only content goes as one string: every OpenAI-compatible server accepts that form. */
function collapseParts(parts: OpenAIUserPart[]): string | OpenAIUserPart[] {
  if (parts.every((part) => part.type === 'text')) {
    return parts.map((part) => (part.type === 'text' ? part.text : '')).join(TEXT_JOIN);
  }
  return parts;
}

/** Client tools only: server tools (web_search_..., code_execution_...) have no input_schema and cannot run upstream. */
function convertTool(tool: AnthropicTool): OpenAITool[] {
  if (!isObject(tool) || !isString(tool.name)) return [];
  const isClientTool = tool.type === undefined || tool.type === 'custom';
  if (!isClientTool && !isObject(tool.input_schema)) return [];
  const parameters = isObject(tool.input_schema) ? tool.input_schema : { type: 'object', properties: {} };
  const fn: OpenAITool['function'] = { name: tool.name, parameters };
  if (isString(tool.description) && tool.description !== '') fn.description = tool.description;
  return [{ type: 'function', function: fn }];
}

function convertToolChoice(choice: AnthropicToolChoice): OpenAIToolChoice | undefined {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return isString(choice.name) ? { type: 'function', function: { name: choice.name } } : undefined;
    default:
      return undefined;
  }
}
