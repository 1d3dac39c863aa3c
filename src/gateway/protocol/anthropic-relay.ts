import { anthropicUsage } from '../../core/usage';
import { classifyInBandError } from '../../core/error-table';
import { EventRelay, type MalformedNames, type RelayOptions } from './event-relay';
import { isRecord, type JsonObject } from '../../core/json';
import { anthropicDeltaText } from './output-chars';
import { closeSseEvent, type SseEvent } from './sse-events';
import type { StreamRelay } from './types';

/** The client sees its model alias in `message_start`. */
export type AnthropicRelayOptions = RelayOptions;

/** Relays an Anthropic Messages event stream unchanged (but for the model alias) while observing usage. */
export function createAnthropicRelay(opts: AnthropicRelayOptions): StreamRelay {
  return new AnthropicRelay(opts);
}

const ANTHROPIC_MALFORMED: MalformedNames = (event) => {
  const name = event.event || 'message';
  return { invalidJson: `invalid JSON in ${name} event`, notObject: `${name} event data is not a JSON object` };
};

class AnthropicRelay extends EventRelay {
  protected relay(event: SseEvent): string {
    if (!event.hasData) return event.raw;
    const raw = event.terminated ? event.raw : closeSseEvent(event.raw);
    const payload = this.payloadOf(event, raw, ANTHROPIC_MALFORMED);
    if (typeof payload === 'string') return payload;
    const type = typeof payload.type === 'string' ? payload.type : event.event;
    switch (type) {
      case 'message_start':
        return this.onMessageStart(payload, event, raw);
      case 'message_delta':
        this.onMessageDelta(payload);
        return raw;
      case 'content_block_start':
        if (isRecord(payload.content_block) && payload.content_block.type === 'tool_use')
          this.addToolCalls(1);
        return raw;
      case 'content_block_delta':
        this.markFirstContent();
        this.addOutput(this.deltaText(payload.delta));
        return raw;
      case 'message_stop':
        this.complete = true;
        return raw;
      case 'error':
        this.onErrorEvent(payload);
        return this.redact(raw);
      default:
        return raw;
    }
  }

  private deltaText(delta: unknown): string[] {
    const pieces: string[] = [];
    anthropicDeltaText(delta, pieces);
    return pieces;
  }

  private onMessageStart(payload: JsonObject, event: SseEvent, raw: string): string {
    const message = payload.message;
    if (!isRecord(message)) return raw;
    // Its output_tokens (1 or so) is a placeholder, not a count: output is reported by message_delta.
    this.noteAnswer(message, false);
    const patch = anthropicUsage(message.usage);
    delete patch.outputTokens;
    if (Object.keys(patch).length > 0) this.sink.onUsage(patch);
    return this.withModelAlias(raw, payload, message, event.event || 'message_start');
  }

  /** Deltas repeat input/cache fields as 0 or omit them; the record's merge keeps what message_start said. */
  private onMessageDelta(payload: JsonObject): void {
    this.noteAnswer(payload.delta, true);
    this.report(payload.usage);
  }

  private onErrorEvent(payload: JsonObject): void {
    const error = isRecord(payload.error) ? payload.error : {};
    const type = typeof error.type === 'string' ? error.type : undefined;
    const message =
      typeof error.message === 'string' && error.message ? error.message : (type ?? 'stream error');
    this.sink.onError(classifyInBandError({ type }).errorType, this.redact(message));
  }

  private report(usage: unknown): void {
    const patch = anthropicUsage(usage);
    if (Object.keys(patch).length > 0) this.sink.onUsage(patch);
  }
}
