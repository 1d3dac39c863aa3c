import { Readable, Transform } from 'node:stream';
import { BadRequestException, HttpException, Inject, Injectable } from '@nestjs/common';
import type { Dispatcher } from 'undici';
import { errorBody } from '../common/api-error';
import { PassThroughError } from '../common/upstream-http.error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { modelNameProblem } from '../core/bounded-text';
import { presentedKey } from '../core/client-key';
import { anthropicMessageUsage, embeddingsUsage, openaiCompletionUsage, responsesResponseUsage, type UsagePatch } from '../core/usage';
import type { ClientApi } from '../core/route-facts';
import { formatOfApi } from '../core/api';
import type { ErrorType } from '../core/error-type';
import type { CountTokensCall } from '../metrics/count-tokens';
import type { MetricsContext } from '../metrics/metrics-context';
import { brokenStreamCause, classifyHttpError, classifyInBandError, CLIENT_LEFT, GATEWAY_TIMED_OUT, isMissingApiPath, missingApiPathMessage, networkCause, upstreamErrorKinds, type NetworkCause } from '../core/error-table';
import type { ProxyRequestContext, RequestLifetime } from './request/request-orchestrator.interceptor';
import { createAnthropicRelay } from './protocol/anthropic-relay';
import { describeNetworkError } from './protocol/error-classification';
import { isRecord } from './protocol/json-fields';
import { createOpenAIRelay } from './protocol/openai-relay';
import { createResponsesRelay } from './protocol/responses-relay';
import { anthropicAnswerText, chatAnswerText, responsesAnswerText, usageEstimator } from './protocol/usage-estimate';
import { Redactor, type Redact } from '../core/redact';
import type { StreamRelay, StreamSink } from './protocol/types';
import { toOpenAIRequest } from './conversion/anthropic-to-openai';
import { estimateInputTokens } from './conversion/token-estimate';
import { createOpenAIToAnthropicRelay } from './conversion/openai-stream-to-anthropic';
import { openaiErrorToAnthropic, toAnthropicResponse } from './conversion/openai-to-anthropic';
import type { AnthropicMessagesRequest, OpenAIChatCompletion } from './conversion/wire-types';
import { ProviderRegistry } from './provider-registry.service';
import type { Route } from './providers/model-router';
import { speaks, type ApiFormat, type Provider } from '../config/provider';
import { readLimited, ResponseTooLargeError } from './upstream/read-limited';
import { forwardedHeaders } from './upstream/response-headers';
import { UpstreamClient } from './upstream/upstream-client';

export interface ProxyResponse {
  contentType: string;
  body: string | Readable;
  /** Upstream headers passed on to the client. */
  headers?: Record<string, string>;
}

interface ChatBody {
  model: string;
  /** Required by the chat APIs only. */
  messages?: unknown[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

const JSON_TYPE = 'application/json';
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const ANTHROPIC_VERSION = '2023-06-01';
/** Upstream error bodies are messages: a larger one is not read (the client gets an empty body with the status). */
const ERROR_BODY_LIMIT_BYTES = 1024 * 1024;

/** Why an upstream call ended early, as the request's lifetime tells. */
function abortCause(lifetime: RequestLifetime, error: unknown): NetworkCause {
  if (lifetime.clientGone) return CLIENT_LEFT;
  if (lifetime.timedOut) return GATEWAY_TIMED_OUT;
  return networkCause(error);
}

/** A body too large to read is the upstream's fault, not the network's. */
const TOO_LARGE: NetworkCause = { errorType: 'upstream_error', status: 502, message: 'The upstream response was too large' };

function sinkFor(metrics: MetricsContext): StreamSink {
  return {
    onUsage: (patch) => metrics.usage(patch),
    onFirstContent: () => metrics.firstToken(),
    onOutput: (pieces) => metrics.output(pieces),
    onError: (type, message) => metrics.fail(type, message),
  };
}

/** Proxies one request to its provider, reporting usage to the request's metrics as it parses. */
@Injectable()
export class ProxyService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProviderRegistry,
    private readonly upstream: UpstreamClient,
    private readonly redactor: Redactor,
  ) {}

  /** POST /v1/messages (Anthropic Messages API). */
  messages(body: unknown, headers: Record<string, string | string[] | undefined>, call: ProxyRequestContext): Promise<ProxyResponse> {
    return this.proxy('anthropic_messages', body, headers, call);
  }

  /** POST /v1/chat/completions (OpenAI Chat Completions). */
  chatCompletions(body: unknown, headers: Record<string, string | string[] | undefined>, call: ProxyRequestContext): Promise<ProxyResponse> {
    return this.proxy('openai_chat', body, headers, call);
  }

  /** POST /v1/responses (OpenAI Responses API). */
  responses(body: unknown, headers: Record<string, string | string[] | undefined>, call: ProxyRequestContext): Promise<ProxyResponse> {
    return this.proxy('openai_responses', body, headers, call);
  }

  /** POST /v1/embeddings (OpenAI embeddings). */
  embeddings(body: unknown, headers: Record<string, string | string[] | undefined>, call: ProxyRequestContext): Promise<ProxyResponse> {
    return this.proxy('openai_embeddings', body, headers, call);
  }

  private async proxy(
    api: ClientApi,
    rawBody: unknown,
    headers: Record<string, string | string[] | undefined>,
    call: ProxyRequestContext,
  ): Promise<ProxyResponse> {
    const format = formatOfApi(api);
    const body = validateBody(rawBody, api);
    const route = this.resolve(body.model);
    // An upstream may echo the credential it got: the gateway's own, or the client's for a passthrough provider.
    const redact = this.redactor.forRequest(presentedKey(headers));
    // A client may name a model after a secret: the record, and so every output, keeps it masked.
    call.metrics.route(route.provider.name, redact(route.model));
    const exchange = chooseExchange(api, body, route);
    call.metrics.estimateWith(usageEstimator(api, body));
    const stream = body.stream === true && api !== 'openai_embeddings';

    const lifetime = call.lifetime;
    const limitMs = stream ? this.config.streamingConnectTimeoutMs : this.config.requestTimeoutMs;
    const timer = setTimeout(() => lifetime.timeOut(), limitMs);
    call.metrics.upstreamStarted();
    const url = endpoint(route.provider, exchange.upstreamFormat, exchange.path);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.upstream.send({
        url,
        headers: upstreamHeaders(route.provider, exchange.upstreamFormat, headers),
        body: JSON.stringify(exchange.upstreamBody),
        signal: lifetime.signal,
        headersTimeoutMs: limitMs,
        bodyTimeoutMs: stream ? this.config.streamingReadTimeoutMs : this.config.requestTimeoutMs,
      });
    } catch (error) {
      clearTimeout(timer);
      throw this.upstreamFailure(format, abortCause(lifetime, error), error, redact);
    }

    const refused = refusal(format, response, stream);
    if (refused !== undefined) {
      clearTimeout(timer);
      // Not read: destroying it closes the connection, and the abort it raises is expected.
      response.body.on('error', () => undefined).destroy();
      call.metrics.upstreamFinished();
      throw refused;
    }
    const headersOut = forwardedHeaders(response.headers);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      clearTimeout(timer);
      // Masked whole, before anything is cut from it: a cut could split a secret.
      const text = redact(await readLimited(response.body, ERROR_BODY_LIMIT_BYTES).catch(() => ''));
      call.metrics.upstreamFinished();
      const errorType = classifyHttpError(response.statusCode, upstreamErrorKinds(parseJson(text))).errorType;
      if (!route.provider.demo && isMissingApiPath(response.statusCode, parseJson(text))) {
        const message = redact(missingApiPathMessage(route.provider.name, url, `${route.provider.name.toUpperCase()}_BASE_URL`, text));
        throw new PassThroughError(404, JSON.stringify(errorBody(format, 404, message)), JSON_TYPE, errorType, message, headersOut);
      }
      const answer = exchange.failure(response.statusCode, text, String(response.headers['content-type'] ?? JSON_TYPE));
      throw new PassThroughError(
        answer.status,
        answer.body,
        answer.contentType,
        errorType,
        `Upstream ${route.provider.name} answered ${response.statusCode}: ${summarize(text)}`,
        headersOut,
      );
    }

    if (stream && isJsonType(response.headers['content-type'])) {
      clearTimeout(timer);
      const text = await readLimited(response.body, ERROR_BODY_LIMIT_BYTES).catch(() => '');
      call.metrics.upstreamFinished();
      throw jsonInsteadOfStream(format, exchange, response.statusCode, text);
    }

    if (!stream) {
      try {
        const text = await readLimited(response.body, this.config.upstreamResponseLimitBytes);
        call.metrics.upstreamFinished();
        return { contentType: JSON_TYPE, body: completeBody(format, exchange, response.statusCode, text, call.metrics), headers: headersOut };
      } catch (error) {
        if (error instanceof PassThroughError) throw error;
        const cause = error instanceof ResponseTooLargeError ? TOO_LARGE : abortCause(lifetime, error);
        throw this.upstreamFailure(format, cause, error, redact);
      } finally {
        clearTimeout(timer);
      }
    }
    // Headers arrived: from here on only the idle read timeout applies, not the connect one.
    clearTimeout(timer);
    call.metrics.upstreamAnswered();
    const errorEvent = api === 'openai_responses' ? responsesErrorEvent : (status: number, message: string) => streamErrorEvent(format, status, message);
    return { contentType: SSE_TYPE, body: relayStream(format, response.body, exchange.relay(sinkFor(call.metrics), redact), call, redact, errorEvent, mediaType(response.headers['content-type']) === 'text/event-stream'), headers: headersOut };
  }

  /** POST /v1/messages/count_tokens: the provider's own count where it has one, else an estimate. */
  async countTokens(rawBody: unknown, headers: Record<string, string | string[] | undefined>, call: CountTokensCall): Promise<ProxyResponse> {
    const body = validateBody(rawBody, 'anthropic_messages');
    const route = this.resolve(body.model);
    call.routed(route.provider.name);
    const redact = this.redactor.forRequest(presentedKey(headers));
    if (!speaks(route.provider, 'anthropic')) {
      const estimate = JSON.stringify({ input_tokens: estimateInputTokens(body) });
      call.finish('ok');
      return { contentType: JSON_TYPE, body: estimate };
    }
    const timeout = AbortSignal.timeout(this.config.requestTimeoutMs);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.upstream.send({
        url: `${endpoint(route.provider, 'anthropic')}/count_tokens`,
        headers: upstreamHeaders(route.provider, 'anthropic', headers),
        body: JSON.stringify({ ...body, model: route.model }),
        signal: timeout,
        headersTimeoutMs: this.config.requestTimeoutMs,
        bodyTimeoutMs: this.config.requestTimeoutMs,
      });
    } catch (error) {
      throw this.upstreamFailure('anthropic', timeout.aborted ? GATEWAY_TIMED_OUT : networkCause(error), error, redact);
    }
    let text: string;
    try {
      text = await readLimited(response.body, ERROR_BODY_LIMIT_BYTES);
    } catch (error) {
      throw this.upstreamFailure('anthropic', error instanceof ResponseTooLargeError ? TOO_LARGE : networkCause(error), error, redact);
    }
    if (response.statusCode >= 400) {
      const masked = redact(text);
      throw new PassThroughError(response.statusCode, masked, JSON_TYPE, classifyHttpError(response.statusCode, upstreamErrorKinds(parseJson(text))).errorType, summarize(masked));
    }
    call.finish('ok');
    return { contentType: JSON_TYPE, body: text };
  }

  private resolve(model: string): Route {
    const result = this.registry.route(model);
    if (!result.ok) throw new HttpException(result.message, result.status);
    return result.route;
  }

  private upstreamFailure(format: ApiFormat, cause: NetworkCause, error: unknown, redact: Redact): PassThroughError {
    const { errorType, status } = cause;
    const message = redact(
      error instanceof ResponseTooLargeError
        ? error.message
        : errorType === 'upstream_timeout' || errorType === 'client_disconnect'
          ? cause.message
          : `${cause.message}: ${describeNetworkError(error)}`,
    );
    return new PassThroughError(status, JSON.stringify(errorBody(format, status, message)), JSON_TYPE, errorType, message);
  }
}

/**
 * How one client request maps onto its upstream: the body to send, and how answers, streams and
 * errors come back. Passthrough in the client's format, or Anthropic converted to OpenAI.
 */
interface Exchange {
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

function chooseExchange(api: ClientApi, body: ChatBody, route: Route): Exchange {
  const format = formatOfApi(api);
  const provider = route.provider;
  const renamed = (parsed: unknown): unknown => {
    if (!route.viaAlias || typeof parsed !== 'object' || parsed === null || !('model' in parsed)) return undefined;
    return { ...parsed, model: route.requested };
  };
  if (format === 'anthropic' && speaks(provider, 'anthropic')) {
    return {
      upstreamFormat: 'anthropic',
      upstreamBody: { ...body, model: route.model },
      usage: anthropicMessageUsage,
      answerText: anthropicAnswerText,
      answer: renamed,
      relay: (sink, redact) => createAnthropicRelay({ sink, rewriteModel: rewrite(route), redact }),
      failure: passFailure,
    };
  }
  if (api === 'openai_responses' || api === 'openai_embeddings') {
    if (!speaks(provider, 'openai')) {
      const what = api === 'openai_responses' ? 'the Responses API' : 'embeddings';
      throw new BadRequestException(
        `Provider "${provider.name}" speaks the Anthropic Messages API; conversion of ${what} to it is not supported yet: send this request to an openai-format provider`,
      );
    }
    const responses = api === 'openai_responses';
    return {
      upstreamFormat: 'openai',
      path: responses ? '/responses' : '/embeddings',
      upstreamBody: { ...body, model: route.model },
      usage: responses ? responsesResponseUsage : embeddingsUsage,
      answerText: responses ? responsesAnswerText : () => [],
      answer: renamed,
      bodyError: responses ? failedResponse : undefined,
      relay: (sink, redact) => createResponsesRelay({ sink, rewriteModel: rewrite(route), redact }),
      failure: passFailure,
    };
  }
  if (format === 'openai' && speaks(provider, 'openai')) {
    const clientAskedUsage = body.stream_options?.include_usage === true;
    const upstreamBody: ChatBody = { ...body, model: route.model };
    if (body.stream === true && !clientAskedUsage) upstreamBody.stream_options = { ...body.stream_options, include_usage: true };
    return {
      upstreamFormat: 'openai',
      upstreamBody,
      usage: openaiCompletionUsage,
      answerText: chatAnswerText,
      answer: renamed,
      relay: (sink, redact) => createOpenAIRelay({ sink, rewriteModel: rewrite(route), dropUsageChunk: !clientAskedUsage, redact }),
      failure: passFailure,
    };
  }
  if (format === 'anthropic' && speaks(provider, 'openai')) {
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
  }
  throw new BadRequestException(
    `Provider "${provider.name}" speaks the Anthropic Messages API; send this request to /v1/messages`,
  );
}

function completeBody(format: ApiFormat, exchange: Exchange, status: number, text: string, metrics: MetricsContext): string {
  if (text === '') throw unusableAnswer(format, `The upstream answered ${status} with no body`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw unusableAnswer(format, `The upstream answered ${status} with a body that is not JSON`);
  }
  const usage = exchange.usage(parsed);
  metrics.usage(usage);
  metrics.upstreamAnswered();
  // Kept only when the answer reports no output count: its output is then estimated from them.
  if (usage.outputTokens === undefined) {
    const text = exchange.answerText(parsed);
    if (text.length > 0) metrics.output(text);
  }
  const failed = exchange.bodyError?.(parsed);
  if (failed !== undefined) metrics.fail(failed.errorType, failed.message);
  const answer = exchange.answer(parsed, usage);
  return answer === undefined ? text : JSON.stringify(answer);
}

/** A 2xx answer the client cannot be given: 502 in the client's format, accounted as upstream_error. */
function unusableAnswer(format: ApiFormat, message: string): PassThroughError {
  return new PassThroughError(502, JSON.stringify(errorBody(format, 502, message)), JSON_TYPE, 'upstream_error', message);
}

/** An answer refused by its status and headers alone: a redirect, or a success the gateway cannot read. */
function refusal(format: ApiFormat, response: Dispatcher.ResponseData, stream: boolean): PassThroughError | undefined {
  if (response.statusCode >= 300 && response.statusCode < 400) return redirected(format, response);
  if (response.statusCode < 200 || response.statusCode >= 300) return undefined;
  const unreadable = unreadableAnswer(response, stream);
  return unreadable === undefined ? undefined : unusableAnswer(format, unreadable);
}

/**
 * A 3xx is not followed: the provider key would travel to wherever it points, and relaying it would
 * send the client (and its gateway key) there. The target shows in the trace only, without its query.
 */
function redirected(format: ApiFormat, response: Dispatcher.ResponseData): PassThroughError {
  const message = `The upstream answered ${response.statusCode}, a redirect the gateway does not follow`;
  const location = first(response.headers.location);
  let target = '';
  if (location !== undefined && URL.canParse(location)) {
    const url = new URL(location);
    target = `, to ${url.origin}${url.pathname}`;
  }
  return new PassThroughError(502, JSON.stringify(errorBody(format, 502, message)), JSON_TYPE, 'upstream_error', `${message}${summarize(target)}`);
}

function mediaType(contentType: string | string[] | undefined): string | undefined {
  return first(contentType)?.split(';', 1)[0].trim().toLowerCase();
}

function isJsonType(contentType: string | string[] | undefined): boolean {
  const media = mediaType(contentType);
  return media !== undefined && (media === JSON_TYPE || media.endsWith('+json'));
}

/** Why a 2xx answer cannot be relayed, by its headers; encodings are refused, not decoded: the gateway asked for identity. */
function unreadableAnswer(response: Dispatcher.ResponseData, stream: boolean): string | undefined {
  const status = response.statusCode;
  const encoding = first(response.headers['content-encoding'])?.trim();
  if (encoding && encoding.toLowerCase() !== 'identity') {
    return `The upstream answered ${status} with content-encoding ${encoding}, which the gateway did not ask for`;
  }
  if (status === 204 || status === 205) return `The upstream answered ${status} with no body`;
  const contentType = first(response.headers['content-type']);
  const media = mediaType(contentType);
  // No content type: the body decides.
  if (media === undefined || contentType === undefined) return undefined;
  if (stream) {
    return media === 'text/event-stream' || isJsonType(contentType) ? undefined : `The upstream answered ${status} with content-type ${summarize(contentType)}, not an event stream`;
  }
  return isJsonType(contentType) ? undefined : `The upstream answered ${status} with content-type ${summarize(contentType)}, not JSON`;
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

function validateBody(body: unknown, api: ClientApi): ChatBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException('The request body must be a JSON object');
  }
  const b = body as Partial<ChatBody>;
  if (typeof b.model !== 'string' || b.model.trim() === '') throw new BadRequestException('model: a non-empty string is required');
  // Checked before routing: the name becomes a label, a bucket, a stored row and a live row.
  const problem = modelNameProblem(b.model);
  if (problem !== undefined) throw new BadRequestException(problem);
  const chat = api === 'anthropic_messages' || api === 'openai_chat';
  if (chat && !Array.isArray(b.messages)) throw new BadRequestException('messages: an array is required');
  if (b.stream !== undefined && typeof b.stream !== 'boolean') throw new BadRequestException('stream: must be a boolean');
  // A background response is fetched later from /v1/responses/{id}, which the gateway does not serve, so it could not be accounted.
  // Only false or null go on: an upstream may read "true", 1 or any other value as true.
  const background = (b as { background?: unknown }).background;
  if (api === 'openai_responses' && background !== undefined && background !== null && background !== false) {
    throw new BadRequestException('background: background responses are not supported through the gateway; send the request without background (or background: false)');
  }
  return b as ChatBody;
}

function endpoint(provider: Provider, format: ApiFormat, path = '/chat/completions'): string {
  const base = provider.baseUrls[format]!;
  return format === 'anthropic' ? `${base}/v1/messages` : `${base}${path}`;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The gateway's own credentials; a client's key goes upstream only for a passthrough provider. */
function upstreamHeaders(provider: Provider, format: ApiFormat, client: Record<string, string | string[] | undefined>): Record<string, string> {
  const key = provider.apiKey ?? presentedKey(client) ?? '';
  const headers: Record<string, string> = {
    'content-type': JSON_TYPE,
    accept: format === 'anthropic' ? JSON_TYPE : `${JSON_TYPE}, text/event-stream`,
    // undici asks for no encoding, which lets a server pick any (RFC 9110 §12.5.3); the gateway reads plain bytes.
    'accept-encoding': 'identity',
  };
  if (format === 'anthropic') {
    headers['x-api-key'] = key;
    headers['anthropic-version'] = first(client['anthropic-version']) ?? ANTHROPIC_VERSION;
    const beta = first(client['anthropic-beta']);
    if (beta) headers['anthropic-beta'] = beta;
  } else {
    headers.authorization = `Bearer ${key}`;
    const beta = first(client['openai-beta']);
    if (beta) headers['openai-beta'] = beta;
  }
  return headers;
}

function rewrite(route: Route): { from: string; to: string } | undefined {
  return route.viaAlias ? { from: route.model, to: route.requested } : undefined;
}

function summarize(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** The JSON of a text, or the text itself when it is not JSON (then it is the upstream's message). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The error event that ends a client's stream, typed like the error body of the same status. */
function streamErrorEvent(format: ApiFormat, status: number, message: string): string {
  const data = JSON.stringify(errorBody(format, status, message));
  return format === 'anthropic' ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/**
 * Relays the upstream's event stream to the client with backpressure (pipe), counting bytes sent.
 * An upstream failure mid-stream ends the client's stream with an error event in its own format.
 */
/** The Responses API's own `error` event, as the upstream itself ends a failed stream. */
function responsesErrorEvent(status: number, message: string): string {
  const { error } = errorBody('openai', status, message) as { error: { type: string } };
  return `event: error\ndata: ${JSON.stringify({ type: 'error', code: error.type, message, param: null })}\n\n`;
}

function relayStream(
  format: ApiFormat,
  upstream: Readable,
  relay: StreamRelay,
  call: ProxyRequestContext,
  redact: Redact,
  errorEvent: (status: number, message: string) => string,
  /** The upstream's headers announced an event stream. */
  announced: boolean,
): Readable {
  const metrics = call.metrics;
  /** Set when the upstream failed mid-stream: the error event owed to the client ('' if it left). */
  let failure: string | undefined;
  /** Set when the relay stopped taking input and the upstream was closed by the gateway. */
  let cut = false;
  /** The upstream committed to a stream: its headers said so, or its bytes arrived. */
  let committed = announced;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      committed = true;
      const text = relay.push(chunk);
      // The first fault wins: a malformed event is recorded before a reset that may follow it.
      if (relay.fault !== undefined) metrics.fail('streaming_error', relay.fault);
      if (text) metrics.addResponseBytes(Buffer.byteLength(text));
      done(null, text || undefined);
      if (relay.stopped && !cut) {
        // Whatever the upstream sends next would be dropped: close it now and end the client's stream.
        cut = true;
        upstream.unpipe(out);
        upstream.destroy();
        out.end();
      }
    },
    flush(done) {
      if (failure !== undefined) {
        done(null, failure || undefined);
        return;
      }
      metrics.upstreamFinished();
      const verdict = relay.finish();
      let tail = verdict.trailing;
      if (verdict.malformed !== undefined || !verdict.complete) {
        const message = redact(verdict.malformed ?? 'The upstream stream ended before its final event');
        metrics.fail('streaming_error', message);
        // OpenAI clients saw the bad chunk itself, except when the gateway cut the stream.
        const owed = format === 'anthropic' ? !tail.includes('event: error') : cut;
        if (owed) tail += errorEvent(502, message);
      }
      if (tail) metrics.addResponseBytes(Buffer.byteLength(tail));
      done(null, tail || undefined);
    },
  });
  upstream.on('error', (error: unknown) => {
    if (failure !== undefined || cut) return;
    upstream.unpipe(out);
    const cause = committed ? brokenStreamCause(abortCause(call.lifetime, error)) : abortCause(call.lifetime, error);
    const message =
      cause.errorType === 'upstream_timeout'
        ? 'The upstream stream was idle past STREAMING_READ_TIMEOUT_SECONDS'
        : redact(`${cause.message} mid-stream: ${describeNetworkError(error)}`);
    metrics.fail(cause.errorType, message);
    metrics.upstreamFinished();
    failure = call.lifetime.clientGone ? '' : errorEvent(cause.status, message);
    if (failure) metrics.addResponseBytes(Buffer.byteLength(failure));
    if (!out.writableEnded) out.end();
  });
  upstream.pipe(out);
  return out;
}
