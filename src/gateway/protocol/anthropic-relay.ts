import type { UsagePatch } from '../../metrics/model/request-record';
import { errorTypeForApiError } from './error-classification';
import { isRecord, positiveCount, tokenCount, type JsonObject } from './json-fields';
import { createModelRewriter } from './model-rewrite';
import { redactSecrets } from './redact';
import { closeSseEvent, type SseEvent, SseEventSplitter, sseLineBreak } from './sse-events';
import type { StreamRelay, StreamSink, StreamVerdict } from './types';

export interface AnthropicRelayOptions {
  sink: StreamSink;
  /** The upstream answers with `from`; the client asked for `to` and must see it in `message_start`. */
  rewriteModel?: { from: string; to: string };
}

/** Relays an Anthropic Messages event stream unchanged (but for the model alias) while observing usage. */
export function createAnthropicRelay(opts: AnthropicRelayOptions): StreamRelay {
  return new AnthropicRelay(opts);
}

class AnthropicRelay implements StreamRelay {
  private readonly sink: StreamSink;
  private readonly rewrite?: { from: string; to: string; apply: (raw: string) => string | undefined };
  private readonly splitter = new SseEventSplitter();
  private out = '';
  private complete = false;
  private malformed?: string;
  private firstContentSeen = false;
  private toolCalls = 0;
  private readonly collect = (event: SseEvent): void => {
    this.out += this.relay(event);
  };

  constructor(opts: AnthropicRelayOptions) {
    this.sink = opts.sink;
    if (opts.rewriteModel) {
      const { from, to } = opts.rewriteModel;
      this.rewrite = { from, to, apply: createModelRewriter(from, to) };
    }
  }

  push(chunk: Uint8Array): string {
    this.splitter.push(chunk, this.collect);
    const out = this.out;
    this.out = '';
    return out;
  }

  finish(): StreamVerdict {
    this.splitter.end(this.collect);
    const trailing = this.out;
    this.out = '';
    const verdict: StreamVerdict = { complete: this.complete, trailing };
    if (this.malformed !== undefined) verdict.malformed = this.malformed;
    return verdict;
  }

  private relay(event: SseEvent): string {
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
        if (isRecord(payload.content_block) && payload.content_block.type === 'tool_use') {
          this.toolCalls += 1;
          this.sink.onUsage({ toolCallCount: this.toolCalls });
        }
        return raw;
      case 'content_block_delta':
        if (!this.firstContentSeen) {
          this.firstContentSeen = true;
          this.sink.onFirstContent();
        }
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
    const rewrite = this.rewrite;
    if (!rewrite || message.model !== rewrite.from) return raw;
    const rewritten = rewrite.apply(raw);
    if (rewritten !== undefined) return rewritten;
    // The upstream escaped the name differently: re-serialize this one event.
    message.model = rewrite.to;
    const eol = sseLineBreak(raw);
    return `event: ${event.event || 'message_start'}${eol}data: ${JSON.stringify(payload)}${eol}${eol}`;
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
    this.sink.onError(errorTypeForApiError(type), redactSecrets(message));
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
