import { randomBytes } from 'node:crypto';
import { classifyHttpError, classifyInBandError, upstreamErrorKinds } from '../../core/error-table';
import type { ErrorType } from '../../core/error-type';
import { openaiUsage, type UsagePatch } from '../../core/usage';
import { isObject, isString } from './guards';
import type {
  AnthropicContentBlock,
  AnthropicErrorBody,
  AnthropicMessage,
  AnthropicStopReason,
  AnthropicToolUseBlock,
  AnthropicUsage,
  OpenAIChatCompletion,
  OpenAIResponseToolCall,
} from './wire-types';

/**
 * OpenAI Chat Completion -> Anthropic Message. Only the first choice is converted (Anthropic has one).
 * `model` is the model the client asked for, so the upstream's name never leaks; `usage` is the
 * patch recorded for this answer, so the body and the record agree.
 */
export function toAnthropicResponse(
  body: OpenAIChatCompletion,
  requestedModel: string,
  stopSequences?: string[],
  usage: UsagePatch = openaiUsage(isObject(body) ? body.usage : undefined),
): AnthropicMessage {
  const choice =
    isObject(body) && Array.isArray(body.choices) && isObject(body.choices[0]) ? body.choices[0] : undefined;
  const message = choice !== undefined && isObject(choice.message) ? choice.message : undefined;

  const id = anthropicMessageId(isObject(body) ? body.id : undefined);
  const content: AnthropicContentBlock[] = [];
  const text =
    isString(message?.content) && message.content !== ''
      ? message.content
      : isString(message?.refusal)
        ? message.refusal
        : '';
  if (text !== '') content.push({ type: 'text', text });
  const toolCalls: OpenAIResponseToolCall[] = Array.isArray(message?.tool_calls) ? message.tool_calls : [];
  if (toolCalls.length === 0 && isObject(message?.function_call))
    toolCalls.push({ function: message.function_call });
  toolCalls.forEach((call, i) => {
    if (isObject(call)) content.push(toolUseBlock(call, fallbackToolUseId(id, i)));
  });

  const stop = mapStopReason({
    finishReason: choice?.finish_reason,
    providerStop: choice?.stop_reason,
    hasToolUse: content.some((block) => block.type === 'tool_use'),
    stopSequences,
  });
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: requestedModel,
    content,
    stop_reason: stop.stopReason,
    stop_sequence: stop.stopSequence,
    usage: toAnthropicUsage(usage),
  };
}

function toolUseBlock(call: OpenAIResponseToolCall, fallbackId: string): AnthropicToolUseBlock {
  const fn = isObject(call.function) ? call.function : {};
  return {
    type: 'tool_use',
    id: isString(call.id) && call.id !== '' ? call.id : fallbackId,
    name: isString(fn.name) ? fn.name : '',
    input: parseToolArguments(isString(fn.arguments) ? fn.arguments : ''),
  };
}

/** Tool arguments as an input object; never throws: unparseable or non-object JSON is kept as `_raw_arguments`. */
export function parseToolArguments(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed)) return parsed;
  } catch {
    // fall through: keep the raw string so nothing the model produced is lost
  }
  return { _raw_arguments: args };
}

export interface StopInput {
  finishReason: string | null | undefined;
  /** vLLM's `stop_reason`: the stop string that matched (or a token id). */
  providerStop?: string | number | null;
  hasToolUse: boolean;
  stopSequences?: string[];
}

/**
 * finish_reason -> stop_reason. OpenAI does not say which stop sequence matched, so `stop` is
 * end_turn unless the provider named the matched string (vLLM `stop_reason`) and it is one of ours.
 * Tool calls win over `stop`/missing reasons: Ollama and some vLLM models report `stop` with tool calls.
 */
export function mapStopReason(input: StopInput): {
  stopReason: AnthropicStopReason;
  stopSequence: string | null;
} {
  if (input.finishReason === 'length') return { stopReason: 'max_tokens', stopSequence: null };
  if (input.finishReason === 'content_filter') return { stopReason: 'refusal', stopSequence: null };
  if (input.hasToolUse) return { stopReason: 'tool_use', stopSequence: null };
  const matched = input.providerStop;
  if (input.finishReason === 'stop' && isString(matched) && (input.stopSequences ?? []).includes(matched)) {
    return { stopReason: 'stop_sequence', stopSequence: matched };
  }
  return { stopReason: 'end_turn', stopSequence: null };
}

/** A parsed usage patch as the Anthropic `usage` object a client is sent; unreported fields are 0, as in the record. */
export function toAnthropicUsage(usage: UsagePatch): AnthropicUsage {
  return {
    input_tokens: usage.inputTokens ?? 0,
    cache_creation_input_tokens: usage.cacheCreationTokens ?? 0,
    cache_read_input_tokens: usage.cacheReadTokens ?? 0,
    output_tokens: usage.outputTokens ?? 0,
  };
}

/** `chatcmpl-abc123` -> `msg_abc123`; a fresh id when the upstream sent none. */
export function anthropicMessageId(upstreamId: unknown): string {
  const core = isString(upstreamId)
    ? upstreamId.replace(/^chatcmpl-/, '').replace(/[^A-Za-z0-9_-]/g, '')
    : '';
  return core === '' ? `msg_${randomBytes(12).toString('hex')}` : `msg_${core}`;
}

/** For a tool call the upstream sent without an id (legacy function_call, some local servers): unique per message. */
export function fallbackToolUseId(messageId: string, position: number): string {
  return `${messageId.replace(/^msg_/, 'toolu_')}_${position}`;
}

// ---------------------------------------------------------------- errors

/**
 * An upstream HTTP error -> the Anthropic error the client gets, keeping the upstream status and message.
 * Statuses below 400 (an error body on a success status) become 500 api_error.
 */
export function openaiErrorToAnthropic(
  status: number,
  body: unknown,
): { status: number; body: AnthropicErrorBody } {
  const effective = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
  const type = classifyHttpError(effective, upstreamErrorKinds(body)).anthropicType;
  const message = upstreamErrorMessage(body) ?? `Upstream request failed with status ${effective}`;
  return { status: effective, body: { type: 'error', error: { type, message } } };
}

/** The Anthropic error type and metrics category of an `{"error": {...}}` payload met inside a stream. */
export function streamErrorToAnthropic(payload: unknown): {
  type: string;
  message: string;
  errorType: ErrorType;
} {
  const found = classifyInBandError(upstreamErrorKinds(isObject(payload) && 'error' in payload ? payload : { error: payload }));
  const message = upstreamErrorMessage(payload) ?? 'upstream stream error';
  return { type: found.anthropicType, message, errorType: found.errorType };
}

/** The human message inside the usual upstream error shapes: `{error: {message}}`, `{error: "..."}`, `{message}`, text. */
function upstreamErrorMessage(body: unknown): string | undefined {
  if (isString(body)) return body.trim() === '' ? undefined : body;
  if (!isObject(body)) return undefined;
  const error = body.error;
  if (isString(error) && error !== '') return error;
  if (isObject(error)) {
    if (isString(error.message) && error.message !== '') return error.message;
    if (isString(error.detail) && error.detail !== '') return error.detail;
  }
  if (isString(body.message) && body.message !== '') return body.message;
  if (isString(body.detail) && body.detail !== '') return body.detail;
  return undefined;
}
