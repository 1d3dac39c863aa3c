import { isResponsesToolCall, responsesResponseUsage } from '../../core/usage';
import { classifyInBandError } from '../../core/error-table';
import { redactSecrets, type Redact } from '../../core/redact';
import { EventRelay } from './event-relay';
import { isRecord, type JsonObject } from '../../core/json';
import { closeSseEvent, type SseEvent } from './sse-events';
import type { StreamRelay, StreamSink } from './types';

export interface ResponsesRelayOptions {
  sink: StreamSink;
  /** The upstream answers with `from`; the client asked for `to` and must see it in every response object. */
  rewriteModel?: { from: string; to: string };
  /** Masks secrets an upstream echoes in an error event, in the relayed text and the reported message. */
  redact?: Redact;
}

/** Relays an OpenAI Responses API event stream unchanged (but for the model alias) while observing usage. */
export function createResponsesRelay(opts: ResponsesRelayOptions): StreamRelay {
  return new ResponsesRelay(opts);
}

/** Deltas of generated output: the first is the time to first token, each moves the in-flight row. */
const OUTPUT_DELTAS: ReadonlySet<string> = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
]);

/** The events that end a response; `response.incomplete` is a success that keeps its reason for the client. */
const SUCCESS_ENDS: ReadonlySet<string> = new Set(['response.completed', 'response.incomplete']);

class ResponsesRelay extends EventRelay {
  private readonly redact: Redact;

  constructor(opts: ResponsesRelayOptions) {
    super(opts.sink, opts.rewriteModel);
    this.redact = opts.redact ?? redactSecrets;
  }

  protected relay(event: SseEvent): string {
    if (!event.hasData) return event.raw;
    const raw = event.terminated ? event.raw : closeSseEvent(event.raw);
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      // A cut-off tail is a truncated stream (complete stays false), not a protocol violation.
      if (!event.terminated) return '';
      this.malformed ??= 'invalid JSON in a stream event';
      return event.raw;
    }
    if (!isRecord(payload)) {
      this.malformed ??= 'stream event is not a JSON object';
      return raw;
    }
    const type = typeof payload.type === 'string' ? payload.type : event.event;
    if (isRecord(payload.response)) this.noteAnswer(payload.response, SUCCESS_ENDS.has(type) || type === 'response.failed');
    if (OUTPUT_DELTAS.has(type)) {
      this.markFirstContent();
      if (typeof payload.delta === 'string' && payload.delta !== '') this.addOutput([payload.delta]);
    } else if (type === 'response.output_item.added') {
      if (isResponsesToolCall(payload.item)) this.addToolCalls(1);
    } else if (SUCCESS_ENDS.has(type) || type === 'response.failed') {
      this.complete = true;
      this.report(payload.response);
      if (type === 'response.failed') this.onError(isRecord(payload.response) && isRecord(payload.response.error) ? payload.response.error : {});
    } else if (type === 'error') {
      this.complete = true;
      this.onError(isRecord(payload.error) ? payload.error : payload);
      return this.redact(raw);
    }
    return isRecord(payload.response) ? this.withModelAlias(raw, payload, payload.response, event.event) : raw;
  }

  private report(response: unknown): void {
    const patch = responsesResponseUsage(response);
    if (Object.keys(patch).length > 0) this.sink.onUsage(patch);
  }

  private onError(error: JsonObject): void {
    const message = typeof error.message === 'string' && error.message ? error.message : 'stream error';
    this.sink.onError(classifyInBandError(error).errorType, this.redact(message));
  }
}
