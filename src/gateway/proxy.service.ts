import type { Readable } from 'node:stream';
import { HttpException, Inject, Injectable } from '@nestjs/common';
import type { Dispatcher } from 'undici';
import { errorBody } from '../common/api-error';
import { PassThroughError } from '../common/upstream-http.error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { speaks, type ApiFormat } from '../config/provider';
import { formatOfApi } from '../core/api';
import { presentedKey } from '../core/client-key';
import { classifyHttpError, GATEWAY_TIMED_OUT, isMissingApiPath, missingApiPathMessage, networkCause, upstreamErrorKinds } from '../core/error-table';
import { Redactor, type Redact } from '../core/redact';
import type { ClientApi } from '../core/api';
import type { CountTokensCall } from '../metrics/count-tokens';
import { estimateInputTokens } from './conversion/token-estimate';
import { chooseExchange, completeBody, jsonInsteadOfStream, type Exchange, type ExchangeObserver } from './exchange';
import { usageEstimator } from './protocol/usage-estimate';
import { ProviderRegistry } from './provider-registry.service';
import type { Route } from './providers/model-router';
import type { ProxyRequestContext } from './request/request-orchestrator.interceptor';
import { validateBody } from './request-body';
import { errorEventFor, relayStream, sinkFor } from './stream-pipe';
import { abortCause, isJsonType, JSON_TYPE, mediaType, parseJson, refusal, summarize, TOO_LARGE, upstreamFailure } from './upstream/answer';
import { Deadline } from './upstream/deadline';
import { readLimited, ResponseTooLargeError } from './upstream/read-limited';
import { forwardedHeaders } from './upstream/response-headers';
import { UpstreamClient } from './upstream/upstream-client';
import { endpoint, upstreamHeaders } from './upstream/upstream-request';

export interface ProxyResponse {
  contentType: string;
  body: string | Readable;
  /** Upstream headers passed on to the client. */
  headers?: Record<string, string>;
}

type ClientHeaders = Record<string, string | string[] | undefined>;

const SSE_TYPE = 'text/event-stream; charset=utf-8';
/** Upstream error bodies are messages: a larger one is not read (the client gets an empty body with the status). */
const ERROR_BODY_LIMIT_BYTES = 1024 * 1024;

/** One exchange on its way: what the answer step needs of the request that sent it. */
interface Sent {
  api: ClientApi;
  format: ApiFormat;
  route: Route;
  url: string;
  exchange: Exchange;
  stream: boolean;
  deadline: Deadline;
  redact: Redact;
  observer: ExchangeObserver;
  call: ProxyRequestContext;
}

/** Proxies one request to its provider: resolve, exchange, send, answer; usage is reported to the request's record as it is parsed. */
@Injectable()
export class ProxyService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProviderRegistry,
    private readonly upstream: UpstreamClient,
    private readonly redactor: Redactor,
  ) {}

  /** A model call on one of the proxied APIs (the route declares which). */
  async proxy(api: ClientApi, rawBody: unknown, headers: ClientHeaders, call: ProxyRequestContext): Promise<ProxyResponse> {
    const format = formatOfApi(api);
    const body = validateBody(rawBody, api);
    const route = this.resolve(body.model);
    // An upstream may echo the credential it got: the gateway's own, or the client's for a passthrough provider.
    const redact = this.redactor.forRequest(presentedKey(headers));
    const observer: ExchangeObserver = call.metrics;
    // A client may name a model after a secret: the record, and so every output, keeps it masked.
    observer.route(route.provider.name, redact(route.model));
    const exchange = chooseExchange(api, body, route);
    observer.estimateWith(usageEstimator(api, body));
    const stream = body.stream === true && api !== 'openai_embeddings';

    const limitMs = stream ? this.config.streamingConnectTimeoutMs : this.config.requestTimeoutMs;
    const deadline = new Deadline(call.lifetime, limitMs);
    observer.upstreamStarted();
    const url = endpoint(route.provider, exchange.upstreamFormat, exchange.path);
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.upstream.send({
          url,
          headers: upstreamHeaders(route.provider, exchange.upstreamFormat, headers),
          body: JSON.stringify(exchange.upstreamBody),
          signal: call.lifetime.signal,
          headersTimeoutMs: limitMs,
          bodyTimeoutMs: stream ? this.config.streamingReadTimeoutMs : this.config.requestTimeoutMs,
        });
      } catch (error) {
        throw upstreamFailure(format, abortCause(call.lifetime, error), error, redact);
      }
      return await this.answer(response, { api, format, route, url, exchange, stream, deadline, redact, observer, call });
    } finally {
      deadline.met();
    }
  }

  /** The client's answer: a refusal, the upstream's error in the client's format, a JSON body, or a relayed stream. */
  private async answer(response: Dispatcher.ResponseData, sent: Sent): Promise<ProxyResponse> {
    const { format, exchange, stream, deadline, redact, observer } = sent;
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    // The deadline covers a JSON answer's body; any other answer has met it once its headers arrived.
    if (!ok || stream) deadline.met();
    const refused = refusal(format, response, stream);
    if (refused !== undefined) {
      // Not read: destroying it closes the connection, and the abort it raises is expected.
      response.body.on('error', () => undefined).destroy();
      observer.upstreamFinished();
      throw refused;
    }
    const headersOut = forwardedHeaders(response.headers);
    if (!ok) {
      // Masked whole, before anything is cut from it: a cut could split a secret.
      const text = redact(await readLimited(response.body, ERROR_BODY_LIMIT_BYTES).catch(() => ''));
      observer.upstreamFinished();
      throw this.upstreamError(response, text, sent, headersOut);
    }
    if (stream && isJsonType(response.headers['content-type'])) {
      const text = await readLimited(response.body, ERROR_BODY_LIMIT_BYTES).catch(() => '');
      observer.upstreamFinished();
      throw jsonInsteadOfStream(format, exchange, response.statusCode, text);
    }
    if (!stream) {
      try {
        const text = await readLimited(response.body, this.config.upstreamResponseLimitBytes);
        observer.upstreamFinished();
        return { contentType: JSON_TYPE, body: completeBody(format, exchange, response.statusCode, text, observer), headers: headersOut };
      } catch (error) {
        if (error instanceof PassThroughError) throw error;
        const cause = error instanceof ResponseTooLargeError ? TOO_LARGE : abortCause(sent.call.lifetime, error);
        throw upstreamFailure(format, cause, error, redact);
      }
    }
    // Headers arrived: from here on only the idle read timeout applies, not the connect one.
    observer.upstreamAnswered();
    const relay = exchange.relay(sinkFor(observer), redact);
    const announced = mediaType(response.headers['content-type']) === 'text/event-stream';
    const body = relayStream(format, response.body, relay, observer, sent.call.lifetime, redact, errorEventFor(format, sent.api === 'openai_responses'), announced);
    return { contentType: SSE_TYPE, body, headers: headersOut };
  }

  /** An upstream 4xx/5xx, passed on in the client's format; a base URL missing its API path is told as such. */
  private upstreamError(response: Dispatcher.ResponseData, text: string, sent: Sent, headersOut: Record<string, string>): PassThroughError {
    const { format, route, url, exchange, redact } = sent;
    const errorType = classifyHttpError(response.statusCode, upstreamErrorKinds(parseJson(text))).errorType;
    if (!route.provider.demo && isMissingApiPath(response.statusCode, parseJson(text))) {
      const message = redact(missingApiPathMessage(route.provider.name, url, `${route.provider.name.toUpperCase()}_BASE_URL`, text));
      return new PassThroughError(404, JSON.stringify(errorBody(format, 404, message)), JSON_TYPE, errorType, message, headersOut);
    }
    const answer = exchange.failure(response.statusCode, text, String(response.headers['content-type'] ?? JSON_TYPE));
    return new PassThroughError(
      answer.status,
      answer.body,
      answer.contentType,
      errorType,
      `Upstream ${route.provider.name} answered ${response.statusCode}: ${summarize(text)}`,
      headersOut,
    );
  }

  /** POST /v1/messages/count_tokens: the provider's own count where it has one, else an estimate. */
  async countTokens(rawBody: unknown, headers: ClientHeaders, call: CountTokensCall): Promise<ProxyResponse> {
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
      throw upstreamFailure('anthropic', timeout.aborted ? GATEWAY_TIMED_OUT : networkCause(error), error, redact);
    }
    let text: string;
    try {
      text = await readLimited(response.body, ERROR_BODY_LIMIT_BYTES);
    } catch (error) {
      throw upstreamFailure('anthropic', error instanceof ResponseTooLargeError ? TOO_LARGE : networkCause(error), error, redact);
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
}
