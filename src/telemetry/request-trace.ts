import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type HrTime, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { hrTime, hrTimeDuration, hrTimeToMilliseconds, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ClientApi } from '../core/api';
import type { RequestRecord } from '../metrics/model/request-record';
import { usdOrNull } from '../metrics/pricing/cost';
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

/** The host and port of an upstream URL, for `server.address` and `server.port`. */
function serverOf(url: string): Attributes {
  try {
    const parsed = new URL(url);
    const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
    return { [GENERAL.serverAddress]: parsed.hostname, [GENERAL.serverPort]: port };
  } catch {
    return {};
  }
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

/**
 * One request's spans. No message content is ever set: names, counts, ids and the error's type only
 * (the record's error message may quote the upstream, which may quote the prompt).
 */
class OtelRequestSpan implements RequestSpan {
  private readonly server: Span;
  private readonly operation: string;
  private client?: Span;
  private clientContext?: Context;
  private clientHeaders?: TraceHeaders;
  private clientEnd?: HrTime;
  private upstreamStart?: HrTime;
  private firstTokenAt?: HrTime;
  private facts: AnswerFacts = {};

  constructor(
    private readonly tracer: Tracer,
    private readonly instruments: GenAiInstruments | undefined,
    private readonly record: Readonly<RequestRecord>,
    maxTokens: number | undefined,
    parent: Context,
  ) {
    this.operation = operationOf(record.api);
    const attributes: Attributes = {
      [GEN_AI.operationName]: this.operation,
      [GEN_AI.requestModel]: record.requestedModel,
      [GEN_AI.requestStream]: record.isStreaming,
      [GEN_AI.requestMaxTokens]: maxTokens,
      [GEN_AI.conversationId]: record.session,
      [GENERAL.userId]: record.user,
      [VDM.api]: record.api,
      [VDM.client]: record.client,
      [VDM.requestId]: record.requestId,
    };
    this.server = tracer.startSpan(spanName(this.operation, record.requestedModel), { kind: SpanKind.SERVER, attributes }, parent);
  }

  upstreamStarted(url: string): TraceHeaders {
    if (this.clientHeaders !== undefined) return this.clientHeaders;
    const r = this.record;
    this.upstreamStart = hrTime();
    const parent = trace.setSpan(ROOT_CONTEXT, this.server);
    this.client = this.tracer.startSpan(
      spanName(this.operation, r.resolvedModel),
      {
        kind: SpanKind.CLIENT,
        startTime: this.upstreamStart,
        attributes: {
          [GEN_AI.operationName]: this.operation,
          [GEN_AI.providerName]: r.provider,
          [GEN_AI.requestModel]: r.resolvedModel,
          [GEN_AI.requestStream]: r.isStreaming,
          ...serverOf(url),
        },
      },
      parent,
    );
    this.clientContext = trace.setSpan(ROOT_CONTEXT, this.client);
    const headers: Record<string, string> = {};
    propagator.inject(this.clientContext, headers, HEADER_SETTER);
    this.clientHeaders = headers;
    return headers;
  }

  upstreamStatus(status: number): void {
    this.client?.setAttribute(GENERAL.httpResponseStatusCode, status);
  }

  firstToken(): void {
    this.firstTokenAt = hrTime();
    (this.client ?? this.server).addEvent(FIRST_TOKEN_EVENT, this.firstTokenAt);
  }

  answer(facts: AnswerFacts): void {
    this.facts = {
      id: facts.id ?? this.facts.id,
      model: facts.model ?? this.facts.model,
      finishReasons: facts.finishReasons ?? this.facts.finishReasons,
    };
  }

  upstreamFinished(): void {
    this.clientEnd ??= hrTime();
  }

  end(r: Readonly<RequestRecord>, status: number | undefined): void {
    const costUsd = r.costNano === undefined ? null : usdOrNull(r.costNano);
    const failed = r.errorType !== undefined;
    const answer: Attributes = {
      [GEN_AI.responseModel]: this.facts.model,
      [GEN_AI.responseId]: this.facts.id,
      [GEN_AI.responseFinishReasons]: this.facts.finishReasons === undefined ? undefined : [...this.facts.finishReasons],
      [GENERAL.errorType]: r.errorType,
      [VDM.costUsd]: costUsd ?? undefined,
      [VDM.usageSource]: r.usageSource,
    };
    const client = this.client;
    if (client !== undefined) {
      client.setAttributes(answer);
      client.setAttributes({
        // The conventions count every input token, cache reads and writes included; the record keeps them apart.
        [GEN_AI.usageInputTokens]: r.inputTokens + r.cacheReadTokens + r.cacheCreationTokens,
        [GEN_AI.usageOutputTokens]: r.outputTokens,
        [GEN_AI.usageCacheReadInputTokens]: r.cacheReadTokens,
        [GEN_AI.usageCacheCreationInputTokens]: r.cacheCreationTokens,
        [GEN_AI.usageReasoningOutputTokens]: r.reasoningTokens,
        [GEN_AI.usageCost]: costUsd ?? undefined,
      });
      if (this.firstTokenAt !== undefined && this.upstreamStart !== undefined) {
        // Measured from the upstream call's start, as its client sees it.
        client.setAttribute(GEN_AI.responseTimeToFirstChunk, hrTimeToMilliseconds(hrTimeDuration(this.upstreamStart, this.firstTokenAt)) / 1000);
      }
      if (failed) client.setStatus({ code: SpanStatusCode.ERROR, message: r.errorType });
      client.end(this.clientEnd);
    }
    this.server.setAttributes(answer);
    this.server.setAttributes({
      [GEN_AI.providerName]: r.provider,
      [GEN_AI.requestModel]: r.requestedModel,
      [GENERAL.httpResponseStatusCode]: status,
      [GEN_AI.responseTimeToFirstChunk]: r.ttftMs === undefined ? undefined : r.ttftMs / 1000,
    });
    if (failed) this.server.setStatus({ code: SpanStatusCode.ERROR, message: r.errorType });
    this.server.end();
    this.instruments?.record(r, this.operation);
  }
}
