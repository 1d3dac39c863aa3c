import type { RequestRecord } from './model/request-record';

/** What an upstream's answer says about itself (its id, its model, why it stopped): for traces, never counted. */
export interface AnswerFacts {
  id?: string;
  model?: string;
  finishReasons?: readonly string[];
}

/** Headers the upstream call carries for tracing (W3C `traceparent`); empty when tracing is off. */
export type TraceHeaders = Readonly<Record<string, string>>;

export const NO_TRACE_HEADERS: TraceHeaders = Object.freeze({});

/**
 * A request's trace, told by its metrics handle as the request goes (the one observer of the
 * request path), and ended once with the finalized record.
 */
export interface RequestSpan {
  /** The upstream call starts: returns the headers that carry its context upstream. */
  upstreamStarted(url: string): TraceHeaders;
  upstreamStatus(status: number): void;
  firstToken(): void;
  answer(facts: AnswerFacts): void;
  upstreamFinished(): void;
  /** The record is finalized (its cost and usage source set); `status` is the client's response status when known. */
  end(record: Readonly<RequestRecord>, status: number | undefined): void;
}

/** Tracing off: every method does nothing, and nothing is allocated per request. */
export const NOOP_SPAN: RequestSpan = Object.freeze({
  upstreamStarted: () => NO_TRACE_HEADERS,
  upstreamStatus: () => undefined,
  firstToken: () => undefined,
  answer: () => undefined,
  upstreamFinished: () => undefined,
  end: () => undefined,
});

/** Starts a request's trace: continues the client's when its headers carry a `traceparent`. */
export interface RequestTracer {
  /** `record`: the request's record as begun; `maxTokens`: the output limit the request set, if any. */
  begin(record: Readonly<RequestRecord>, maxTokens: number | undefined, incoming: Readonly<Record<string, string | string[] | undefined>> | undefined): RequestSpan;
}
