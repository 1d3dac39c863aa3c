import { foldUsage, openaiChunkUsage, type UsagePatch } from '../../core/usage';
import { EventRelay } from '../protocol/event-relay';
import { openaiDeltaText } from '../protocol/output-chars';
import { redactSecrets, type Redact } from '../../core/redact';
import type { SseEvent } from '../protocol/sse-events';
import type { StreamRelay, StreamSink } from '../protocol/types';
import { isNumber, isObject, isString } from './guards';
import { JsonCompleteness } from './json-completeness';
import {
  anthropicMessageId,
  mapStopReason,
  fallbackToolUseId,
  streamErrorToAnthropic,
  toAnthropicUsage,
} from './openai-to-anthropic';
import type {
  OpenAIChatChunk,
  OpenAIChunkChoice,
  OpenAIChunkToolCallDelta,
} from './wire-types';

export interface OpenAIToAnthropicRelayOptions {
  sink: StreamSink;
  /** The model the client asked for: the only model name the client ever sees. */
  requestedModel: string;
  /** Defaults to one derived from the upstream's first chunk id. */
  messageId?: string;
  /** The request's stop_sequences, to recognise a provider-named stop string (vLLM `stop_reason`). */
  stopSequences?: string[];
  /** Masks secrets an upstream echoes in an error chunk, in the client's error event and the reported message. */
  redact?: Redact;
}

export const EARLY_END_MESSAGE = 'upstream stream ended early';
export const MALFORMED_MESSAGE = 'upstream sent a malformed stream';

/**
 * Converts an OpenAI Chat Completions SSE stream into an Anthropic Messages SSE stream.
 *
 * Anthropic streams hold at most one open content block, while OpenAI may interleave the argument
 * deltas of parallel tool calls. A tool call's block is left only once its arguments so far parse as
 * complete JSON; deltas of other calls (and text) meanwhile wait in a buffer and are flushed when
 * their turn comes, or at the end. So sequential upstreams stream live and interleaved ones stay
 * valid. Argument text arriving for a call whose block is already closed (its JSON was complete)
 * cannot be valid JSON any more and is dropped.
 */
export function createOpenAIToAnthropicRelay(opts: OpenAIToAnthropicRelayOptions): StreamRelay {
  return new OpenAIToAnthropicRelay(opts);
}

interface ToolCallState {
  openaiIndex: number;
  id: string;
  name: string;
  /** Whether all argument text received so far is complete JSON, kept up to date delta by delta. */
  args: JsonCompleteness;
  /** Argument text received but not yet sent to the client. */
  unsent: string;
  blockIndex: number | null;
  closed: boolean;
}

type OpenBlock = { kind: 'text'; index: number } | { kind: 'tool'; tool: ToolCallState };

type RelayState = 'open' | 'stopped' | 'errored' | 'malformed' | 'cut';

class OpenAIToAnthropicRelay extends EventRelay {
  private state: RelayState = 'open';
  private started = false;
  private nextBlockIndex = 0;
  private open: OpenBlock | null = null;
  private pendingText = '';
  private readonly tools = new Map<number, ToolCallState>();
  private finishReason: string | null = null;
  private providerStop: string | number | null = null;
  /** Usage so far, folded as the record folds it: what the sink is told is what the client is sent. */
  private readonly usage: UsagePatch = {};
  private id: string | undefined;

  constructor(private readonly opts: OpenAIToAnthropicRelayOptions) {
    super({ sink: opts.sink });
  }

  protected relay(event: SseEvent): string {
    // A last event without its blank line is used only when whole; a cut-off fragment is ignored.
    if (!event.terminated && !isWholePayload(event.data)) return '';
    return this.handleEvent(event);
  }

  /** Never throws: a failure (even the sink's) ends the stream as malformed, dropping the text of its chunk. */
  protected override recover(error: unknown): string {
    this.takeOutput();
    return this.internalFailure(error);
  }

  protected override overflowed(reason: string): void {
    super.overflowed(reason);
    if (this.state === 'open') this.state = 'cut';
  }

  protected override close(): string {
    switch (this.state) {
      case 'stopped':
      case 'errored':
        return '';
      case 'malformed':
        return errorEvent('api_error', MALFORMED_MESSAGE);
      case 'cut':
        // The reason quotes nothing of the upstream's text, so the client may see it.
        return errorEvent('api_error', this.malformed ?? MALFORMED_MESSAGE);
      case 'open':
        if (this.finishReason !== null) return this.finalize();
        this.state = 'errored';
        return errorEvent('api_error', EARLY_END_MESSAGE);
    }
  }

  // ---------------------------------------------------------------- upstream events

  private handleEvent(event: SseEvent): string {
    if (this.state !== 'open') return '';
    const data = event.data.trim();
    if (data === '') return '';
    if (data === '[DONE]') return this.finalize();
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return this.markMalformed(`invalid JSON in upstream event: ${truncate(data)}`);
    }
    if (!isObject(payload))
      return this.markMalformed(`upstream event is not a JSON object: ${truncate(data)}`);
    if (event.event === 'error' || (payload.error !== undefined && payload.error !== null))
      return this.fail(payload);
    return this.handleChunk(payload);
  }

  private handleChunk(chunk: OpenAIChatChunk): string {
    const reportsUsage = isObject(chunk.usage);
    if (reportsUsage) {
      const patch = openaiChunkUsage(chunk);
      foldUsage(this.usage, patch);
      // A reported 0 is still a report (the fold keeps only non-zero news): the count is not the gateway's to estimate.
      if (patch.inputTokens !== undefined) this.usage.inputTokens ??= patch.inputTokens;
      if (patch.outputTokens !== undefined) this.usage.outputTokens ??= patch.outputTokens;
    }
    let out = this.ensureStarted(chunk);
    const choices: unknown[] = Array.isArray(chunk.choices) ? chunk.choices : [];
    const choice = choices.find((c): c is OpenAIChunkChoice => isObject(c) && (c.index ?? 0) === 0);
    if (choice !== undefined) {
      const delta = isObject(choice.delta) ? choice.delta : {};
      const pieces: string[] = [];
      openaiDeltaText(delta, pieces);
      this.addOutput(pieces);
      if (
        (isString(delta.reasoning_content) && delta.reasoning_content !== '') ||
        (isString(delta.reasoning) && delta.reasoning !== '')
      ) {
        // Reasoning has no signed Anthropic form, so it is not forwarded; it still is the first token.
        this.markFirstContent();
      }
      if (isString(delta.content)) out += this.text(delta.content);
      else if (isString(delta.refusal)) out += this.text(delta.refusal);
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls as unknown[]) {
          if (isObject(call)) out += this.toolDelta(call);
        }
      }
      if (isString(choice.finish_reason) && choice.finish_reason !== '') {
        this.finishReason = choice.finish_reason;
        this.providerStop =
          isString(choice.stop_reason) || isNumber(choice.stop_reason) ? choice.stop_reason : null;
        // Blocks close now; only message_delta waits, for the usage chunk that follows.
        out += this.closeBlocks();
      }
    }
    this.noteAnswer(chunk, choice !== undefined && isString(choice.finish_reason) && choice.finish_reason !== '');
    if (reportsUsage) {
      this.sink.onUsage({ ...this.usage, toolCallCount: this.tools.size });
      // include_usage sends usage in its own chunk (no choices) after the finish_reason chunk.
      if (this.finishReason !== null && choices.length === 0) out += this.finalize();
    }
    return out;
  }

  private fail(payload: Record<string, unknown>): string {
    const { type, message: upstreamMessage, errorType } = streamErrorToAnthropic(payload);
    const message = (this.opts.redact ?? redactSecrets)(upstreamMessage);
    this.state = 'errored';
    this.sink.onError(errorType, message);
    return errorEvent(type, message);
  }

  private markMalformed(reason: string): string {
    this.state = 'malformed';
    this.malformed = reason;
    return '';
  }

  private internalFailure(error: unknown): string {
    if (this.state === 'open')
      this.markMalformed(`relay failure: ${error instanceof Error ? error.message : String(error)}`);
    return '';
  }

  // ---------------------------------------------------------------- content blocks

  private text(text: string): string {
    if (text === '') return '';
    this.markFirstContent();
    if (this.open?.kind === 'text') return textDelta(this.open.index, text);
    if (!this.canRelease()) {
      this.pendingText += text;
      return '';
    }
    return this.release() + this.openText(text);
  }

  private toolDelta(call: OpenAIChunkToolCallDelta): string {
    const tool = this.toolFor(call);
    const fn = isObject(call.function) ? call.function : {};
    if (tool.id === '' && isString(call.id)) tool.id = call.id;
    // Some providers repeat the name in every delta, so the first one wins rather than concatenating.
    if (tool.name === '' && isString(fn.name)) tool.name = fn.name;
    const args = isString(fn.arguments) ? fn.arguments : '';
    this.markFirstContent();
    if (tool.closed) return '';
    tool.args.feed(args);
    if (this.open?.kind === 'tool' && this.open.tool === tool)
      return args === '' ? '' : jsonDelta(tool, args);
    tool.unsent += args;
    if (tool.name === '' || !this.canRelease()) return '';
    return this.release() + this.openTool(tool);
  }

  private toolFor(call: OpenAIChunkToolCallDelta): ToolCallState {
    let index: number;
    if (isNumber(call.index)) index = call.index;
    else {
      // No index (some servers): the call with this id, a new call for a new id, else the latest call.
      const id = isString(call.id) && call.id !== '' ? call.id : undefined;
      const known = [...this.tools.values()];
      const match = id === undefined ? known.at(-1) : known.find((t) => t.id === id);
      index = match?.openaiIndex ?? (known.length === 0 ? 0 : Math.max(...this.tools.keys()) + 1);
    }
    let tool = this.tools.get(index);
    if (tool === undefined) {
      tool = {
        openaiIndex: index,
        id: '',
        name: '',
        args: new JsonCompleteness(),
        unsent: '',
        blockIndex: null,
        closed: false,
      };
      this.tools.set(index, tool);
      this.sink.onUsage({ toolCallCount: this.tools.size });
    }
    return tool;
  }

  /** The open block may be closed now: text always, a tool call once its arguments are complete JSON. */
  private canRelease(): boolean {
    if (this.open?.kind !== 'tool') return true;
    return this.open.tool.args.complete;
  }

  /** Closes the open block, then sends text that waited behind it as its own block. */
  private release(): string {
    let out = '';
    if (this.open !== null) {
      if (this.open.kind === 'text') out += blockStop(this.open.index);
      else {
        out += blockStop(this.open.tool.blockIndex ?? 0);
        this.open.tool.closed = true;
      }
      this.open = null;
    }
    if (this.pendingText !== '') {
      const text = this.pendingText;
      this.pendingText = '';
      out += this.openText(text) + this.release();
    }
    return out;
  }

  private openText(text: string): string {
    const index = this.nextBlockIndex++;
    this.open = { kind: 'text', index };
    return (
      sse('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      }) + textDelta(index, text)
    );
  }

  private openTool(tool: ToolCallState): string {
    tool.blockIndex = this.nextBlockIndex++;
    if (tool.id === '') tool.id = fallbackToolUseId(this.messageId(), tool.openaiIndex);
    this.open = { kind: 'tool', tool };
    let out = sse('content_block_start', {
      type: 'content_block_start',
      index: tool.blockIndex,
      content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} },
    });
    if (tool.unsent !== '') out += jsonDelta(tool, tool.unsent);
    tool.unsent = '';
    return out;
  }

  // ---------------------------------------------------------------- message framing

  private messageId(upstreamId?: unknown): string {
    this.id ??= this.opts.messageId ?? anthropicMessageId(upstreamId);
    return this.id;
  }

  private ensureStarted(chunk?: OpenAIChatChunk): string {
    if (this.started) return '';
    this.started = true;
    // Output is counted in message_delta; message_start carries the input side only.
    const usage = { ...toAnthropicUsage(this.usage), output_tokens: 0 };
    const message = {
      id: this.messageId(chunk?.id),
      type: 'message',
      role: 'assistant',
      model: this.opts.requestedModel,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    };
    return sse('message_start', { type: 'message_start', message }) + sse('ping', { type: 'ping' });
  }

  /** Closes the open block; tool calls still waiting in the buffer get their whole block now, in index order. */
  private closeBlocks(): string {
    let out = this.release();
    const waiting = [...this.tools.values()]
      .filter((t) => !t.closed)
      .sort((a, b) => a.openaiIndex - b.openaiIndex);
    for (const tool of waiting) out += this.openTool(tool) + this.release();
    return out;
  }

  /** Closes every block, then message_delta + message_stop. */
  private finalize(): string {
    let out = this.ensureStarted() + this.closeBlocks();
    const stop = mapStopReason({
      finishReason: this.finishReason,
      providerStop: this.providerStop,
      hasToolUse: this.tools.size > 0,
      stopSequences: this.opts.stopSequences,
    });
    out += sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop.stopReason, stop_sequence: stop.stopSequence },
      usage: toAnthropicUsage(this.usage),
    });
    out += sse('message_stop', { type: 'message_stop' });
    this.state = 'stopped';
    this.complete = true;
    return out;
  }
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function errorEvent(type: string, message: string): string {
  return sse('error', { type: 'error', error: { type, message } });
}

function textDelta(index: number, text: string): string {
  return sse('content_block_delta', {
    type: 'content_block_delta',
    index,
    delta: { type: 'text_delta', text },
  });
}

function jsonDelta(tool: ToolCallState, partial: string): string {
  return sse('content_block_delta', {
    type: 'content_block_delta',
    index: tool.blockIndex ?? 0,
    delta: { type: 'input_json_delta', partial_json: partial },
  });
}

function blockStop(index: number): string {
  return sse('content_block_stop', { type: 'content_block_stop', index });
}

function isCompleteJson(text: string): boolean {
  if (text.trim() === '') return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isWholePayload(data: string): boolean {
  const trimmed = data.trim();
  return trimmed === '[DONE]' || isCompleteJson(trimmed);
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
