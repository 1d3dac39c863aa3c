import type { Readable } from 'node:stream';
import { HttpException, Inject, Injectable } from '@nestjs/common';
import type { Dispatcher } from 'undici';
import { PassThroughError } from '../common/upstream-http.error';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { speaks } from '../config/provider';
import { formatOfApi, type ClientApi } from '../core/api';
import { presentedKey } from '../core/client-key';
import { classifyHttpError, GATEWAY_TIMED_OUT, networkCause, upstreamErrorKinds } from '../core/error-table';
import { Redactor } from '../core/redact';
import type { CountTokensCall } from '../metrics/count-tokens';
import { LimitsService } from '../limits/limits.service';
import { estimateInputTokens } from './conversion/token-estimate';
import { chooseExchange, settle, type ExchangeObserver, type Sent } from './exchange';
import { usageEstimator } from './protocol/usage-estimate';
import { ProviderRegistry } from './provider-registry.service';
import type { Route } from './providers/model-router';
import type { ProxyRequestContext } from './request/request-orchestrator.interceptor';
import { validateBody } from './request-body';
import { errorEventFor, relayStream, sinkFor } from './stream-pipe';
import { abortCause, judge, JSON_TYPE, parseJson, summarize, TOO_LARGE, upstreamFailure } from './upstream/answer';
import { Deadline } from './upstream/deadline';
import { readLimited, ResponseTooLargeError } from './upstream/read-limited';
import { forwardedHeaders } from './upstream/response-headers';
import { UpstreamClient } from './upstream/upstream-client';
import { endpoint, upstreamHeaders } from './upstream/upstream-request';
import { capOutput, outputCapOf } from './output-cap';

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

/** Proxies one request to its provider: resolve, exchange, send, answer; usage is reported to the request's record as it is parsed. */
@Injectable()
export class ProxyService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProviderRegistry,
    private readonly upstream: UpstreamClient,
    private readonly redactor: Redactor,
    private readonly limits: LimitsService,
  ) {}

  /** A model call on one of the proxied APIs (the route declares which): resolve, exchange, send, answer. */
  async proxy(api: ClientApi, rawBody: unknown, headers: ClientHeaders, call: ProxyRequestContext): Promise<ProxyResponse> {
    // Resolve: the checked body, its provider and model.
    const format = formatOfApi(api);
    const body = validateBody(rawBody, api);
    const route = this.resolve(body.model);
    // An upstream may echo the credential it got: the gateway's own, or the client's for a passthrough provider.
    const redact = this.redactor.forRequest(presentedKey(headers));
    const observer: ExchangeObserver = call.metrics;
    // A client may name a model after a secret: the record, and so every output, keeps it masked.
    observer.route(route.provider.name, redact(route.model));

    // Exchange: how this API maps onto what the provider speaks.
    const exchange = chooseExchange(api, body, route);
    const estimator = usageEstimator(api, body);
    observer.estimateWith(estimator);
    // Budgets and rate limits: every rule that applies reserves before the call, or the request is refused (429).
    if (this.limits.enabled) {
      const { setOutputCap } = await this.limits.admit({
        metrics: call.metrics,
        provider: route.provider.name,
        model: route.model,
        inputTokens: () => estimator.input(),
        outputCap: outputCapOf(api, body),
        hasOutput: estimator.hasOutput,
        setHeaders: call.setHeaders,
      });
      if (setOutputCap !== undefined) capOutput(api, body, exchange, setOutputCap);
    }
    const stream = body.stream === true && api !== 'openai_embeddings';
    const url = endpoint(route.provider, exchange.upstreamFormat, exchange.path);
    const sent: Sent = { format, route, url, exchange, redact };

    // Send, under the gateway's deadline: until the headers for a stream, until the whole body for JSON.
    const limitMs = stream ? this.config.streamingConnectTimeoutMs : this.config.requestTimeoutMs;
    const lifetime = call.lifetime;
    const deadline = new Deadline(lifetime, limitMs);
    const traceHeaders = observer.upstreamStarted(url);
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.upstream.send({
          url,
          headers: upstreamHeaders(route.provider, exchange.upstreamFormat, headers, traceHeaders),
          body: JSON.stringify(exchange.upstreamBody),
          signal: lifetime.signal,
          headersTimeoutMs: limitMs,
          bodyTimeoutMs: stream ? this.config.streamingReadTimeoutMs : this.config.requestTimeoutMs,
        });
      } catch (error) {
        throw upstreamFailure(format, abortCause(lifetime, error), error, redact);
      }

      // Answer: judged by its status and headers first, then read whole or relayed.
      observer.upstreamStatus(response.statusCode);
      const verdict = judge(format, response, stream);
      if (verdict.kind !== 'json') deadline.met();
      if (verdict.kind === 'refused') {
        // Not read: destroying it closes the connection, and the abort it raises is expected.
        response.body.on('error', () => undefined).destroy();
        observer.upstreamFinished();
        throw verdict.refusal;
      }
      const headersOut = forwardedHeaders(response.headers);
      if (verdict.kind === 'stream') {
        // Headers arrived: from here on only the idle read timeout applies, not the connect one.
        observer.upstreamAnswered();
        const relay = exchange.relay(sinkFor(observer), redact);
        const out = relayStream(format, response.body, relay, observer, lifetime, redact, errorEventFor(format, api === 'openai_responses'), verdict.announced);
        return { contentType: SSE_TYPE, body: out, headers: headersOut };
      }
      let text: string;
      try {
        // Error bodies are messages: a larger one, or one that breaks off, is passed on empty.
        text = await readLimited(response.body, verdict.kind === 'json' ? this.config.upstreamResponseLimitBytes : ERROR_BODY_LIMIT_BYTES);
      } catch (error) {
        if (verdict.kind !== 'json') text = '';
        else throw upstreamFailure(format, error instanceof ResponseTooLargeError ? TOO_LARGE : abortCause(lifetime, error), error, redact);
      }
      observer.upstreamFinished();
      const contentType = String(response.headers['content-type'] ?? JSON_TYPE);
      const answer = settle({ kind: verdict.kind, status: response.statusCode, contentType, text, headers: headersOut }, sent, observer);
      return { contentType: JSON_TYPE, body: answer, headers: headersOut };
    } finally {
      deadline.met();
    }
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
