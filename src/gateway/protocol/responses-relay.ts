import { isResponsesToolCall, responsesResponseUsage } from '../../core/usage';
import { classifyInBandError } from '../../core/error-table';
import { EventRelay, type MalformedNames, type RelayOptions } from './event-relay';
import { isRecord, type JsonObject } from '../../core/json';
import { closeSseEvent, type SseEvent } from './sse-events';
import type { StreamRelay } from './types';

/** The client sees its model alias in every response object. */
export type ResponsesRelayOptions = RelayOptions;

const RESPONSES_MALFORMED: MalformedNames = () => ({ invalidJson: 'invalid JSON in a stream event', notObject: 'stream event is not a JSON object' });

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
  protected relay(event: SseEvent): string {
    if (!event.hasData) return event.raw;
    const raw = event.terminated ? event.raw : closeSseEvent(event.raw);
    const payload = this.payloadOf(event, raw, RESPONSES_MALFORMED);
    if (typeof payload === 'string') return payload;
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
