/**
 * Minimal wire shapes of the two protocols, as far as the converters read or write them.
 * Request-side types are deliberately loose (clients send odd things); the converters check
 * shapes at run time and convert what is convertible.
 */

// ---------------------------------------------------------------- Anthropic Messages (request)

export interface AnthropicCacheControl {
  type: string;
  ttl?: string;
}

export interface AnthropicTextBlockParam {
  type: 'text';
  text: string;
  cache_control?: AnthropicCacheControl | null;
  citations?: unknown;
}

export type AnthropicImageSource =
  { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };

export interface AnthropicImageBlockParam {
  type: 'image';
  source: AnthropicImageSource;
  cache_control?: AnthropicCacheControl | null;
}

export type AnthropicDocumentSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'text'; media_type?: string; data: string }
  | { type: 'url'; url: string }
  | { type: 'content'; content: string | AnthropicContentBlockParam[] };

export interface AnthropicDocumentBlockParam {
  type: 'document';
  source: AnthropicDocumentSource;
  title?: string | null;
  cache_control?: AnthropicCacheControl | null;
}

export interface AnthropicToolUseBlockParam {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
  cache_control?: AnthropicCacheControl | null;
}

export interface AnthropicToolResultBlockParam {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | AnthropicContentBlockParam[];
  is_error?: boolean;
  cache_control?: AnthropicCacheControl | null;
}

/** thinking, redacted_thinking, server tool blocks, ...: dropped by the converter. */
export interface AnthropicOtherBlockParam {
  type: 'thinking' | 'redacted_thinking' | 'server_tool_use' | 'web_search_tool_result' | 'search_result';
  [field: string]: unknown;
}

export type AnthropicContentBlockParam =
  | AnthropicTextBlockParam
  | AnthropicImageBlockParam
  | AnthropicDocumentBlockParam
  | AnthropicToolUseBlockParam
  | AnthropicToolResultBlockParam
  | AnthropicOtherBlockParam;

export interface AnthropicMessageParam {
  role: 'user' | 'assistant';
  content: string | AnthropicContentBlockParam[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  /** Absent or 'custom' for client tools; server tools (web_search_..., ...) carry a versioned type. */
  type?: string;
  cache_control?: AnthropicCacheControl | null;
}

export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface AnthropicMessagesRequest {
  model: string;
  messages: AnthropicMessageParam[];
  max_tokens: number;
  system?: string | AnthropicTextBlockParam[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  stream?: boolean;
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  metadata?: { user_id?: string | null };
  thinking?: unknown;
  service_tier?: string;
}

// ---------------------------------------------------------------- Anthropic Messages (response)

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
}

export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export type AnthropicContentBlock = AnthropicTextBlock | AnthropicToolUseBlock;

export type AnthropicStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

// ---------------------------------------------------------------- OpenAI Chat Completions (request)

export interface OpenAITextPart {
  type: 'text';
  text: string;
}

export interface OpenAIImagePart {
  type: 'image_url';
  image_url: { url: string };
}

export interface OpenAIFilePart {
  type: 'file';
  file: { filename?: string; file_data: string };
}

export type OpenAIUserPart = OpenAITextPart | OpenAIImagePart | OpenAIFilePart;

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type OpenAIMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | OpenAIUserPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export interface OpenAITool {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

export type OpenAIToolChoice =
  'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIMessage[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  parallel_tool_calls?: boolean;
  user?: string;
}

// ---------------------------------------------------------------- OpenAI Chat Completions (response)

export interface OpenAIUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  /** DeepSeek's name for cached prompt tokens (part of prompt_tokens, like cached_tokens). */
  prompt_cache_hit_tokens?: number | null;
}

export interface OpenAIResponseToolCall {
  id?: string | null;
  type?: string;
  function?: { name?: string | null; arguments?: string | null } | null;
}

export interface OpenAIChoice {
  index?: number;
  message?: {
    role?: string;
    content?: string | null;
    refusal?: string | null;
    tool_calls?: OpenAIResponseToolCall[] | null;
    /** Legacy single function call. */
    function_call?: { name?: string | null; arguments?: string | null } | null;
  } | null;
  finish_reason?: string | null;
  /** vLLM: the stop string (or token id) that ended generation. */
  stop_reason?: string | number | null;
}

export interface OpenAIChatCompletion {
  id?: string | null;
  object?: string;
  created?: number;
  model?: string;
  choices?: OpenAIChoice[] | null;
  usage?: OpenAIUsage | null;
}

export interface OpenAIChunkToolCallDelta {
  index?: number;
  id?: string | null;
  type?: string;
  function?: { name?: string | null; arguments?: string | null } | null;
}

export interface OpenAIChunkChoice {
  index?: number;
  delta?: {
    role?: string | null;
    content?: string | null;
    refusal?: string | null;
    reasoning_content?: string | null;
    reasoning?: string | null;
    tool_calls?: OpenAIChunkToolCallDelta[] | null;
  } | null;
  finish_reason?: string | null;
  stop_reason?: string | number | null;
}

export interface OpenAIChatChunk {
  id?: string | null;
  object?: string;
  model?: string;
  choices?: OpenAIChunkChoice[] | null;
  usage?: OpenAIUsage | null;
  error?: unknown;
}
