import { classifyInBandError } from '../../core/error-table';
import type { UsagePatch } from '../../metrics/model/request-record';
import { EventRelay } from './event-relay';
import { isRecord, positiveCount, tokenCount, type JsonObject } from './json-fields';
import { redactSecrets } from './redact';
import { closeSseEvent, type SseEvent } from './sse-events';
import type { StreamRelay, StreamSink } from './types';

export interface AnthropicRelayOptions {
  sink: StreamSink;
  /** The upstream answers with `from`; the client asked for `to` and must see it in `message_start`. */
  rewriteModel?: { from: string; to: string };
}

/** Relays an Anthropic Messages event stream unchanged (but for the model alias) while observing usage. */
export function createAnthropicRelay(opts: AnthropicRelayOptions): StreamRelay {
  return new AnthropicRelay(opts);
}

class AnthropicRelay extends EventRelay {
  constructor(opts: AnthropicRelayOptions) {
    super(opts.sink, opts.rewriteModel);
  }

  protected relay(event: SseEvent): string {
    if (!event.hasData) return event.raw;
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      // A cut-off tail is a truncated stream (complete stays false), not a protocol violation.
      if (!event.terminated) return '';
      this.malformed ??= `invalid JSON in ${event.event || 'message'} event`;
      return event.raw;
    }
    const raw = event.terminated ? event.raw : closeSseEvent(event.raw);
    if (!isRecord(payload)) {
      this.malformed ??= `${event.event || 'message'} event data is not a JSON object`;
      return raw;
    }
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
        return raw;
      case 'message_stop':
        this.complete = true;
        return raw;
      case 'error':
        this.onErrorEvent(payload);
        return raw;
      default:
        return raw;
    }
  }

  private onMessageStart(payload: JsonObject, event: SseEvent, raw: string): string {
    const message = payload.message;
    if (!isRecord(message)) return raw;
    if (isRecord(message.usage)) {
      const usage = message.usage;
      this.report({
        inputTokens: tokenCount(usage.input_tokens),
        outputTokens: tokenCount(usage.output_tokens),
        cacheReadTokens: tokenCount(usage.cache_read_input_tokens),
        cacheCreationTokens: tokenCount(usage.cache_creation_input_tokens),
      });
    }
    return this.withModelAlias(raw, payload, message, event.event || 'message_start');
  }

  private onMessageDelta(payload: JsonObject): void {
    const usage = payload.usage;
    if (!isRecord(usage)) return;
    // Deltas repeat input/cache fields as 0 or omit them: only real values may be reported.
    this.report({
      inputTokens: positiveCount(usage.input_tokens),
      outputTokens: tokenCount(usage.output_tokens),
      cacheReadTokens: positiveCount(usage.cache_read_input_tokens),
      cacheCreationTokens: positiveCount(usage.cache_creation_input_tokens),
    });
  }

  private onErrorEvent(payload: JsonObject): void {
    const error = isRecord(payload.error) ? payload.error : {};
    const type = typeof error.type === 'string' ? error.type : undefined;
    const message =
      typeof error.message === 'string' && error.message ? error.message : (type ?? 'stream error');
    this.sink.onError(classifyInBandError({ type }).errorType, redactSecrets(message));
  }

  private report(fields: UsagePatch): void {
    const patch: UsagePatch = {};
    let any = false;
    for (const key of USAGE_KEYS) {
      const value = fields[key];
      if (value !== undefined) {
        patch[key] = value;
        any = true;
      }
    }
    if (any) this.sink.onUsage(patch);
  }
}

const USAGE_KEYS = ['inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheCreationTokens'] as const;
