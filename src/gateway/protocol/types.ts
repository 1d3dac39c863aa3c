import type { ErrorType } from '../../core/error-type';
import type { UsagePatch } from '../../core/usage';
import type { AnswerFacts } from '../../metrics/request-span';

/** Facts counted from a request body before it is sent upstream (contract section 1). */
export interface RequestFacts {
  /** Messages, plus one per system block (a string system prompt counts 1). */
  messageCount: number;
  /** tool_use blocks (Anthropic) / assistant tool_calls entries (OpenAI) in the message history. */
  toolUseCount: number;
  /** tool_result blocks (Anthropic) / role "tool" messages (OpenAI) in the message history. */
  toolResultCount: number;
}

/** Where a stream relay reports what it sees, as it sees it. */
export interface StreamSink {
  /** Usage so far, in the Anthropic convention (input excludes cache reads). Fields absent = not reported. */
  onUsage(patch: UsagePatch): void;
  /** The first content (text, tool arguments, thinking) arrived: time to first token. */
  onFirstContent(): void;
  /** The output of one content delta (text, thinking, tool arguments), as non-empty pieces; optional for sinks that only account usage. */
  onOutput?(pieces: readonly string[]): void;
  /** An error event inside an otherwise successful (HTTP 200) stream. */
  onError(errorType: ErrorType, message: string): void;
  /** What the answer says about itself (id, model, finish reasons); optional for sinks that only account usage. */
  onAnswer?(facts: AnswerFacts): void;
}

export interface StreamVerdict {
  /** The stream reached its proper end (`message_stop` / `data: [DONE]`). */
  complete: boolean;
  /** Set when the bytes were not a valid event stream of this protocol (bad JSON in an event, ...). */
  malformed?: string;
  /** Bytes still owed to the client at the end (for example a converted closing sequence); may be empty. */
  trailing: string;
}

/**
 * Sits between the upstream's SSE bytes and the client. Robust to events split across chunks:
 * only complete events are passed on. Never throws on bad input; it records it in the verdict.
 */
export interface StreamRelay {
  /** Feeds upstream bytes; returns the text to write to the client now (possibly ''). */
  push(chunk: Uint8Array): string;
  /** The relay takes no more input (an event outgrew the limit): stop reading the upstream and finish. */
  readonly stopped: boolean;
  /** The first protocol violation seen so far, as soon as it is seen. */
  readonly fault: string | undefined;
  /** The upstream ended (or was cut): returns the verdict and any trailing text to send. */
  finish(): StreamVerdict;
}
