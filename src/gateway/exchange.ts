import { PassThroughError } from '../common/upstream-http.error';
import { speaks, type Provider } from '../config/provider';
import type { ApiFormat, ClientApi } from '../core/api';
import { classifyHttpError, classifyInBandError, isMissingApiPath, missingApiPathMessage, upstreamErrorKinds } from '../core/error-table';
import type { ErrorType } from '../core/error-type';
import { GatewayErrors } from '../core/errors';
import type { Redact } from '../core/redact';
import { anthropicMessageUsage, embeddingsUsage, openaiCompletionUsage, responsesResponseUsage, type UsagePatch } from '../core/usage';
import type { UsageEstimator } from '../metrics/request-metrics';
import type { AnswerFacts, TraceHeaders } from '../metrics/request-span';
import { answerFacts } from './protocol/answer-facts';
import { toOpenAIRequest } from './conversion/anthropic-to-openai';
import { createOpenAIToAnthropicRelay } from './conversion/openai-stream-to-anthropic';
import { openaiErrorToAnthropic, toAnthropicResponse } from './conversion/openai-to-anthropic';
import type { AnthropicMessagesRequest, OpenAIChatCompletion } from './conversion/wire-types';
import { createAnthropicRelay } from './protocol/anthropic-relay';
import { isRecord } from '../core/json';
import { createOpenAIRelay } from './protocol/openai-relay';
import { createResponsesRelay } from './protocol/responses-relay';
import type { StreamRelay, StreamSink } from './protocol/types';
import { anthropicAnswerText, chatAnswerText, responsesAnswerText } from './protocol/usage-estimate';
import type { Route } from './providers/model-router';
import { JSON_TYPE, parseJson, refuse, summarize, unusableAnswer } from './upstream/answer';

/** A client's request body once checked: a model name, and for the chat APIs a list of messages. */
export interface ChatBody {
  model: string;
  /** Required by the chat APIs only. */
  messages?: unknown[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

/**
 * What an exchange tells the request's record as it goes: routed, sent, answered, usage, output,
 * failures and the bytes the client got. The request's metrics handle is one.
 */
export interface ExchangeObserver {
  route(provider: string, model: string): void;
  estimateWith(estimator: UsageEstimator): void;
  /** The upstream call to `url` starts: returns the headers that carry the request's trace upstream. */
  upstreamStarted(url: string): TraceHeaders;
  /** The upstream's response headers arrived, with this status. */
  upstreamStatus(status: number): void;
  upstreamAnswered(): void;
  /** What the answer says about itself (id, model, finish reasons). */
  answer(facts: AnswerFacts): void;
  upstreamFinished(): void;
  firstToken(): void;
  usage(patch: UsagePatch): void;
  output(pieces: readonly string[]): void;
  fail(errorType: ErrorType, message: string): void;
  addResponseBytes(n: number): void;
}

/**
 * How one client request maps onto its upstream: the body to send, and how answers, streams and
 * errors come back. Passthrough in the client's format, or Anthropic converted to OpenAI.
 */
export interface Exchange {
  upstreamFormat: ApiFormat;
  /** The upstream path under an openai-format base URL (default `/chat/completions`). */
  path?: string;
  /** A failure a successful upstream JSON answer reports in its body (a Responses `status: failed`). */
  bodyError?(parsed: unknown): { errorType: ErrorType; message: string } | undefined;
  upstreamBody: unknown;
  usage(parsed: unknown): UsagePatch;
  /** The output of a successful upstream JSON answer (text, reasoning, tool arguments), for an estimate when it reports no output tokens. */
  answerText(parsed: unknown): string[];
  /** The client's body for a successful upstream JSON answer, with the usage recorded for it; undefined to send the upstream's text as is. */
  answer(parsed: unknown, usage: UsagePatch): unknown;
  relay(sink: StreamSink, redact: Redact): StreamRelay;
  failure(status: number, text: string, contentType: string): { status: number; body: string; contentType: string };
}


const passFailure = (status: number, body: string, contentType: string) => ({ status, body, contentType });

/** An answer that names the upstream's model is renamed back to the model the client asked for when it came through an alias. */
function renamer(route: Route): (parsed: unknown) => unknown {
  return (parsed) => {
    if (!route.viaAlias || typeof parsed !== 'object' || parsed === null || !('model' in parsed)) return undefined;
    return { ...parsed, model: route.requested };
  };
}

function rewrite(route: Route): { from: string; to: string } | undefined {
  return route.viaAlias ? { from: route.model, to: route.requested } : undefined;
}

type MakeExchange = (body: ChatBody, route: Route) => Exchange;

/** Passthrough: the client's own API, spoken by the provider. */
const anthropicMessages: MakeExchange = (body, route) => ({
  upstreamFormat: 'anthropic',
  upstreamBody: { ...body, model: route.model },
  usage: anthropicMessageUsage,
  answerText: anthropicAnswerText,
  answer: renamer(route),
  relay: (sink, redact) => createAnthropicRelay({ sink, rewriteModel: rewrite(route), redact }),
  failure: passFailure,
});

/** Anthropic Messages converted to an OpenAI Chat Completions provider, and its answers back. */
const anthropicViaChat: MakeExchange = (body, route) => {
  const request = body as unknown as AnthropicMessagesRequest;
  const stops = Array.isArray(request.stop_sequences) ? request.stop_sequences : undefined;
  return {
    upstreamFormat: 'openai',
    upstreamBody: toOpenAIRequest(request, route.model),
    usage: openaiCompletionUsage,
    answerText: chatAnswerText,
    answer: (parsed, usage) => toAnthropicResponse(parsed as OpenAIChatCompletion, route.requested, stops, usage),
    relay: (sink, redact) => createOpenAIToAnthropicRelay({ sink, requestedModel: route.requested, stopSequences: stops, redact }),
    failure: (status, text) => {
      const mapped = openaiErrorToAnthropic(status, parseJson(text));
      return { status: mapped.status, body: JSON.stringify(mapped.body), contentType: JSON_TYPE };
    },
  };
};

const chatCompletions: MakeExchange = (body, route) => {
  const clientAskedUsage = body.stream_options?.include_usage === true;
  const upstreamBody: ChatBody = { ...body, model: route.model };
  if (body.stream === true && !clientAskedUsage) upstreamBody.stream_options = { ...body.stream_options, include_usage: true };
  return {
    upstreamFormat: 'openai',
    upstreamBody,
    usage: openaiCompletionUsage,
    answerText: chatAnswerText,
    answer: renamer(route),
    relay: (sink, redact) => createOpenAIRelay({ sink, rewriteModel: rewrite(route), dropUsageChunk: !clientAskedUsage, redact }),
    failure: passFailure,
  };
};

const responses: MakeExchange = (body, route) => ({
  upstreamFormat: 'openai',
  path: '/responses',
  upstreamBody: { ...body, model: route.model },
  usage: responsesResponseUsage,
  answerText: responsesAnswerText,
  answer: renamer(route),
  bodyError: failedResponse,
  relay: (sink, redact) => createResponsesRelay({ sink, rewriteModel: rewrite(route), redact }),
  failure: passFailure,
});

const embeddings: MakeExchange = (body, route) => ({
  upstreamFormat: 'openai',
  path: '/embeddings',
  upstreamBody: { ...body, model: route.model },
  usage: embeddingsUsage,
  answerText: () => [],
  answer: renamer(route),
  relay: (sink, redact) => createResponsesRelay({ sink, rewriteModel: rewrite(route), redact }),
  failure: passFailure,
});

/** The exchanges by client API and provider format, the client's own format first. */
const EXCHANGES: Record<ClientApi, readonly (readonly [ApiFormat, MakeExchange])[]> = {
  anthropic_messages: [
    ['anthropic', anthropicMessages],
    ['openai', anthropicViaChat],
  ],
  openai_chat: [['openai', chatCompletions]],
  openai_responses: [['openai', responses]],
  openai_embeddings: [['openai', embeddings]],
};

/** How a client request maps onto its provider: the first exchange of its API that the provider speaks. */
export function chooseExchange(api: ClientApi, body: ChatBody, route: Route): Exchange {
  for (const [format, make] of EXCHANGES[api]) {
    if (speaks(route.provider, format)) return make(body, route);
  }
  throw noExchange(api, route.provider);
}

function noExchange(api: ClientApi, provider: Provider): Error {
  if (api === 'openai_chat' || api === 'anthropic_messages') return new GatewayErrors.VDM_API_NOT_SPOKEN(provider.name);
  return new GatewayErrors.VDM_CONVERSION_UNSUPPORTED(provider.name, api === 'openai_responses' ? 'the Responses API' : 'embeddings');
}

/** One answer's read body, with what settling it needs. */
export interface ReadAnswer {
  kind: 'failed' | 'json-error' | 'json';
  status: number;
  /** The upstream's content type, as it said it (JSON when it said none). */
  contentType: string;
  text: string;
  /** Upstream headers the client gets with the answer. */
  headers: Record<string, string>;
}

/** Where the exchange went, for the messages of its errors. */
export interface Sent {
  format: ApiFormat;
  route: Route;
  url: string;
  exchange: Exchange;
  redact: Redact;
}

/** The client's body for an answer read whole; an upstream error, or an error where a stream was asked for, is thrown in the client's format. */
export function settle(answer: ReadAnswer, sent: Sent, observer: ExchangeObserver): string {
  const { format, exchange } = sent;
  if (answer.kind === 'failed') throw upstreamError(answer, sent);
  if (answer.kind === 'json-error') throw jsonInsteadOfStream(format, exchange, answer.status, answer.text);
  return completeBody(format, exchange, answer.status, answer.text, observer);
}

/** An upstream 4xx/5xx, passed on in the client's format; a base URL missing its API path is told as such. */
function upstreamError(answer: ReadAnswer, sent: Sent): PassThroughError {
  const { format, route, url, exchange, redact } = sent;
  // Masked whole, before anything is cut from it: a cut could split a secret.
  const text = redact(answer.text);
  const status = answer.status;
  const errorType = classifyHttpError(status, upstreamErrorKinds(parseJson(text))).errorType;
  if (!route.provider.demo && isMissingApiPath(status, parseJson(text))) {
    const message = redact(missingApiPathMessage(route.provider.name, url, `${route.provider.name.toUpperCase()}_BASE_URL`, text));
    return refuse(format, new GatewayErrors.VDM_UPSTREAM_PATH_MISSING(message), { errorType, headers: answer.headers });
  }
  const passed = exchange.failure(status, text, answer.contentType);
  return new PassThroughError(passed.status, passed.body, passed.contentType, errorType, `Upstream ${route.provider.name} answered ${status}: ${summarize(text)}`, answer.headers);
}

/** The client's body for a successful JSON answer, its usage and output reported as it is read. */
function completeBody(format: ApiFormat, exchange: Exchange, status: number, text: string, observer: ExchangeObserver): string {
  if (text === '') throw unusableAnswer(format, `The upstream answered ${status} with no body`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unusableAnswer(format, `The upstream answered ${status} with a body that is not JSON`);
  }
  const usage = exchange.usage(parsed);
  observer.usage(usage);
  observer.upstreamAnswered();
  observer.answer(answerFacts(parsed));
  // Kept only when the answer reports no output count: its output is then estimated from them.
  if (usage.outputTokens === undefined) {
    const text = exchange.answerText(parsed);
    if (text.length > 0) observer.output(text);
  }
  const failed = exchange.bodyError?.(parsed);
  if (failed !== undefined) observer.fail(failed.errorType, failed.message);
  const answer = exchange.answer(parsed, usage);
  return answer === undefined ? text : JSON.stringify(answer);
}

/** A streaming request answered with JSON: an error the upstream reported goes to the client as one. */
function jsonInsteadOfStream(format: ApiFormat, exchange: Exchange, status: number, text: string): PassThroughError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return unusableAnswer(format, `The upstream answered ${status} with a body that is not JSON`);
  }
  if (!isRecord(parsed) || !isRecord(parsed.error)) {
    return unusableAnswer(format, `The upstream answered ${status} with content-type application/json, not an event stream`);
  }
  const found = classifyInBandError(parsed.error);
  const answer = exchange.failure(found.status, text, JSON_TYPE);
  return new PassThroughError(
    answer.status,
    answer.body,
    answer.contentType,
    found.errorType,
    `The upstream answered ${status} with an error instead of an event stream: ${summarize(text)}`,
  );
}

/** A Responses API answer whose status is `failed`: an error, categorised by its error code. */
function failedResponse(parsed: unknown): { errorType: ErrorType; message: string } | undefined {
  if (!isRecord(parsed) || parsed.status !== 'failed') return undefined;
  const error = isRecord(parsed.error) ? parsed.error : {};
  const message = typeof error.message === 'string' && error.message ? error.message : 'The response failed';
  return { errorType: classifyInBandError(error).errorType, message: summarize(message) };
}

