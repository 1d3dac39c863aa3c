import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type AttributeValue, type Context, type HrTime, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { hrTime, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ClientApi } from '../core/api';
import type { RequestRecord } from '../metrics/model/request-record';
import { usd } from '../metrics/pricing/cost';
import { NOOP_SPAN, type AnswerFacts, type RequestSpan, type RequestTracer, type TraceHeaders } from '../metrics/request-span';
import { FIRST_TOKEN_EVENT, GEN_AI, GENERAL, VDM } from './genai-conventions';
import type { GenAiInstruments } from './genai-metrics';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const propagator = new W3CTraceContextPropagator();

/** Reads the client's trace headers (one value each: a repeated header is not a trace context). */
const HEADER_GETTER: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

const HEADER_SETTER: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The conventions' operation name for each client API: the Responses API and Messages are chat. */
export function operationOf(api: ClientApi | undefined): string {
  return api === 'openai_embeddings' ? 'embeddings' : 'chat';
}

const spanName = (operation: string, model: string | undefined): string => (model ? `${operation} ${model}` : operation);

/** Upstream URLs come from the configured providers, so they are few; this many are remembered. */
const SERVERS_KEPT = 256;
const servers = new Map<string, Attributes>();

/** The host and port of an upstream URL, for `server.address` and `server.port`. */
function serverOf(url: string): Attributes {
  let found = servers.get(url);
  if (found !== undefined) return found;
  try {
    const parsed = new URL(url);
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    found = { [GENERAL.serverAddress]: parsed.hostname, [GENERAL.serverPort]: port };
  } catch {
    found = {};
  }
  if (servers.size < SERVERS_KEPT) servers.set(url, found);
  return found;
}

/**
 * Starts each request's trace: a SERVER span for the client's request, continuing the client's
 * trace when it sent a `traceparent`. The record is read, never written.
 */
export class OtelRequestTracer implements RequestTracer {
  /** Metrics without traces: the record is read once, when it ends. */
  private readonly metricsOnly?: RequestSpan;

  constructor(
    private readonly tracer: Tracer | undefined,
    private readonly instruments: GenAiInstruments | undefined,
  ) {
    if (tracer === undefined && instruments !== undefined) this.metricsOnly = { ...NOOP_SPAN, end: (r) => instruments.record(r, operationOf(r.api)) };
  }

  begin(record: Readonly<RequestRecord>, maxTokens: number | undefined, incoming: Headers | undefined): RequestSpan {
    if (this.tracer === undefined) return this.metricsOnly ?? NOOP_SPAN;
    const parent = incoming === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, incoming, HEADER_GETTER);
    return new OtelRequestSpan(this.tracer, this.instruments, record, maxTokens, parent);
  }
}

/** Sets only what is known: an absent value is left out, not sent as empty. */
function put(attributes: Attributes, key: string, value: AttributeValue | undefined): void {
  if (value !== undefined) attributes[key] = value;
}

/**
 * One request's spans. No message content is ever set: names, counts, ids and the error's type only
 * (the record's error message may quote the upstream, which may quote the prompt). The attributes are
 * set once, at the end, from the finalized record: each is on one span only (the request's on the
 * SERVER span, the answer and its usage on the CLIENT span, where the conventions put them).
 */
class OtelRequestSpan implements RequestSpan {
  private readonly server: Span;
  private readonly operation: string;
  private client?: Span;
  private clientHeaders?: TraceHeaders;
  private url = '';
  private status?: number;
  private upstreamStartMs?: number;
  private firstTokenMs?: number;
  private clientEnd?: HrTime;
  private responseId?: string;
  private responseModel?: string;
  private finishReasons?: readonly string[];

  constructor(
    private readonly tracer: Tracer,
    private readonly instruments: GenAiInstruments | undefined,
    private readonly record: Readonly<RequestRecord>,
    private readonly maxTokens: number | undefined,
    parent: Context,
  ) {
    this.operation = operationOf(record.api);
    this.server = tracer.startSpan(spanName(this.operation, record.requestedModel), { kind: SpanKind.SERVER }, parent);
  }

  upstreamStarted(url: string): TraceHeaders {
    if (this.clientHeaders !== undefined) return this.clientHeaders;
    this.url = url;
    this.upstreamStartMs = performance.now();
    this.client = this.tracer.startSpan(spanName(this.operation, this.record.resolvedModel), { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, this.server));
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.client), headers, HEADER_SETTER);
    this.clientHeaders = headers;
    return headers;
  }

  upstreamStatus(status: number): void {
    this.status ??= status;
  }

  firstToken(): void {
    this.firstTokenMs = performance.now();
    (this.client ?? this.server).addEvent(FIRST_TOKEN_EVENT);
  }

  answer(facts: AnswerFacts): void {
    if (facts.id !== undefined) this.responseId = facts.id;
    if (facts.model !== undefined) this.responseModel = facts.model;
    if (facts.finishReasons !== undefined) this.finishReasons = facts.finishReasons;
  }

  upstreamFinished(): void {
    this.clientEnd ??= hrTime();
  }

  end(r: Readonly<RequestRecord>, status: number | undefined): void {
    const costUsd = r.costNano === undefined || r.costNano === null ? undefined : usd(r.costNano);
    const client = this.client;
    if (client !== undefined) {
      const a: Attributes = {
        [GEN_AI.operationName]: this.operation,
        [GEN_AI.requestStream]: r.isStreaming,
        // The conventions count every input token, cache reads and writes included; the record keeps them apart.
        [GEN_AI.usageInputTokens]: r.inputTokens + r.cacheReadTokens + r.cacheCreationTokens,
        [GEN_AI.usageOutputTokens]: r.outputTokens,
        [GEN_AI.usageCacheReadInputTokens]: r.cacheReadTokens,
        [GEN_AI.usageCacheCreationInputTokens]: r.cacheCreationTokens,
        [GEN_AI.usageReasoningOutputTokens]: r.reasoningTokens,
      };
      put(a, GEN_AI.providerName, r.provider);
      put(a, GEN_AI.requestModel, r.resolvedModel);
      put(a, GEN_AI.responseModel, this.responseModel);
      put(a, GEN_AI.responseId, this.responseId);
      if (this.finishReasons !== undefined) a[GEN_AI.responseFinishReasons] = [...this.finishReasons];
      put(a, GEN_AI.usageCost, costUsd);
      put(a, GENERAL.httpResponseStatusCode, this.status);
      put(a, GENERAL.errorType, r.errorType);
      Object.assign(a, serverOf(this.url));
      if (this.firstTokenMs !== undefined && this.upstreamStartMs !== undefined) {
        // Measured from the upstream call's start, as its client sees it.
        a[GEN_AI.responseTimeToFirstChunk] = (this.firstTokenMs - this.upstreamStartMs) / 1000;
      }
      client.setAttributes(a);
      if (r.errorType !== undefined) client.setStatus({ code: SpanStatusCode.ERROR, message: r.errorType });
      client.end(this.clientEnd);
    }
    const a: Attributes = { [GEN_AI.operationName]: this.operation, [VDM.client]: r.client, [VDM.requestId]: r.requestId };
    put(a, GEN_AI.providerName, r.provider);
    put(a, GEN_AI.requestModel, r.requestedModel);
    put(a, GEN_AI.requestMaxTokens, this.maxTokens);
    put(a, GEN_AI.conversationId, r.session);
    put(a, GENERAL.userId, r.user);
    put(a, GENERAL.httpResponseStatusCode, status);
    put(a, GENERAL.errorType, r.errorType);
    put(a, GEN_AI.responseTimeToFirstChunk, r.ttftMs === undefined ? undefined : r.ttftMs / 1000);
    put(a, VDM.api, r.api);
    put(a, VDM.costUsd, costUsd);
    put(a, VDM.usageSource, r.usageSource);
    this.server.setAttributes(a);
    if (r.errorType !== undefined) this.server.setStatus({ code: SpanStatusCode.ERROR, message: r.errorType });
    this.server.end();
    this.instruments?.record(r, this.operation);
  }
}
