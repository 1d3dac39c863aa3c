import { openaiChunkUsage } from '../../core/usage';
import { classifyInBandError } from '../../core/error-table';
import { EventRelay, type MalformedNames, type RelayOptions } from './event-relay';
import { isRecord, type JsonObject } from '../../core/json';
import { openaiDeltaText } from './output-chars';
import { closeSseEvent, type SseEvent } from './sse-events';
import type { StreamRelay } from './types';

/** The client sees its model alias in every chunk. */
export interface OpenAIRelayOptions extends RelayOptions {
  /** The gateway added `stream_options.include_usage` itself: observe the usage-only chunk but do not forward it. */
  dropUsageChunk: boolean;
}

const OPENAI_MALFORMED: MalformedNames = () => ({ invalidJson: 'invalid JSON in a stream chunk', notObject: 'stream chunk is not a JSON object' });

/** Relays an OpenAI chat.completion.chunk stream unchanged (but for the model alias) while observing usage. */
export function createOpenAIRelay(opts: OpenAIRelayOptions): StreamRelay {
  return new OpenAIRelay(opts);
}

// Keys a tool call by choice and tool-call index in one number (both are small non-negative integers).
const CHOICE_STRIDE = 1_000_000;

class OpenAIRelay extends EventRelay {
  private readonly dropUsageChunk: boolean;
  /** Tool calls seen, by choice/index key, with the id each carried ('' before one arrived). */
  private readonly toolCallIds = new Map<number, string>();

  constructor(opts: OpenAIRelayOptions) {
    super(opts);
    this.dropUsageChunk = opts.dropUsageChunk;
  }

  protected relay(event: SseEvent): string {
    if (!event.hasData) return event.raw;
    const raw = event.terminated ? event.raw : closeSseEvent(event.raw);
    if (event.data === '[DONE]') {
      this.complete = true;
      return raw;
    }
    const payload = this.payloadOf(event, raw, OPENAI_MALFORMED);
    if (typeof payload === 'string') return payload;
    if (isRecord(payload.error)) {
      this.onErrorChunk(payload.error);
      return this.redact(raw);
    }
    const { choices, usage } = payload;
    const hasChoices = Array.isArray(choices) && choices.length > 0;
    const stopping = hasChoices && this.observeChoices(choices);
    this.noteAnswer(payload, stopping);
    if (isRecord(usage)) {
      const patch = openaiChunkUsage(payload);
      if (Object.keys(patch).length > 0) this.sink.onUsage(patch);
      if (this.dropUsageChunk && !hasChoices) return '';
    }
    return this.withModelAlias(raw, payload, payload, event.event);
  }

  /** Returns whether a choice said why it stopped (its finish_reason). */
  private observeChoices(choices: unknown[]): boolean {
    let newCalls = 0;
    let stopping = false;
    const pieces: string[] = [];
    for (let position = 0; position < choices.length; position++) {
      const choice = choices[position];
      if (!isRecord(choice) || !isRecord(choice.delta)) continue;
      const delta = choice.delta;
      if (typeof choice.finish_reason === 'string') stopping = true;
      openaiDeltaText(delta, pieces);
      const toolCalls = delta.tool_calls;
      const hasToolCalls = Array.isArray(toolCalls) && toolCalls.length > 0;
      if (hasToolCalls || hasText(delta)) this.markFirstContent();
      if (hasToolCalls) newCalls += this.observeToolCalls(indexOf(choice.index, position), toolCalls);
    }
    if (newCalls > 0) this.addToolCalls(newCalls);
    this.addOutput(pieces);
    return stopping;
  }

  /** Returns how many calls started: a new index, or a known index with a new id (providers reusing index 0). */
  private observeToolCalls(choiceIndex: number, toolCalls: unknown[]): number {
    let started = 0;
    for (let position = 0; position < toolCalls.length; position++) {
      const call = toolCalls[position];
      if (!isRecord(call)) continue;
      const key = choiceIndex * CHOICE_STRIDE + indexOf(call.index, position);
      const id = typeof call.id === 'string' ? call.id : '';
      const known = this.toolCallIds.get(key);
      if (known === undefined) {
        this.toolCallIds.set(key, id);
        started += 1;
      } else if (id && id !== known) {
        this.toolCallIds.set(key, id);
        if (known) started += 1;
      }
    }
    return started;
  }

  private onErrorChunk(error: JsonObject): void {
    const message = typeof error.message === 'string' && error.message ? error.message : 'stream error';
    this.sink.onError(classifyInBandError(error).errorType, this.redact(message));
  }
}

function hasText(delta: JsonObject): boolean {
  return (
    nonEmptyString(delta.content) ||
    nonEmptyString(delta.reasoning_content) ||
    nonEmptyString(delta.reasoning) ||
    nonEmptyString(delta.refusal)
  );
}

function nonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

function indexOf(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < CHOICE_STRIDE
    ? value
    : fallback;
}
