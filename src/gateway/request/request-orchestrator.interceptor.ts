import {
  createParamDecorator,
  HttpException,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, finalize, throwError, type Observable } from 'rxjs';
import { clientOf } from '../../core/caller';
import { boundedText, MODEL_NAME_MAX } from '../../core/bounded-text';
import { MAX_KEY_LENGTH, presentedKey } from '../../core/client-key';
import { routeFactsOf } from '../../core/route-facts';
import { PassThroughError } from '../../common/upstream-http.error';
import { keyFingerprint, levelEnabled, redactHeaders } from '../../logging/logger';
import { maxTokensOf, requestFactsFor } from '../protocol/request-facts';
import { callerFacts } from '../protocol/caller-facts';
import { describeNetworkError } from '../protocol/error-classification';
import { Redactor, type Redact } from '../../core/redact';
import type { RequestMetrics } from '../../metrics/request-metrics';
import { classifyGatewayError } from '../../core/error-table';
import { errorTypeOfCode, isGatewayError } from '../../core/errors';
import type { ErrorType } from '../../core/error-type';
import { TrackerService } from '../../metrics/tracker.service';
import { recordCost, usdOrNull } from '../../metrics/pricing/cost';

/**
 * Why a request's upstream call must stop: the client left, or the gateway's own timeout fired.
 * One abort signal per request serves both, so the hot path creates one signal, not three.
 */
export class RequestLifetime {
  private readonly controller = new AbortController();
  clientGone = false;
  timedOut = false;

  /** Aborted when the client left or the upstream timed out; pass it to the upstream call. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clientLeft(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.controller.abort();
  }

  timeOut(): void {
    if (this.clientGone || this.timedOut) return;
    this.timedOut = true;
    this.controller.abort();
  }
}

/** What the proxy path gets for one request: its metrics handle and its lifetime. */
export interface ProxyRequestContext {
  metrics: RequestMetrics;
  lifetime: RequestLifetime;
  /** Headers for the answer, whatever it turns out to be (success, error or refusal). */
  setHeaders: (headers: Record<string, string>) => void;
}

const contexts = new WeakMap<FastifyRequest, ProxyRequestContext>();

/** Injects the request's ProxyRequestContext into a handler parameter. */
export const ProxyContext = createParamDecorator((_: unknown, ctx: ExecutionContext): ProxyRequestContext => {
  const found = contexts.get(ctx.switchToHttp().getRequest<FastifyRequest>());
  if (!found) throw new Error('ProxyContext used on a route without the RequestOrchestrator interceptor');
  return found;
});

interface ModelBody {
  model?: unknown;
  stream?: unknown;
}

function errorTypeOf(error: unknown): ErrorType {
  if (error instanceof PassThroughError) return error.errorType;
  if (isGatewayError(error)) return errorTypeOfCode(error.code);
  if (error instanceof HttpException) {
    return classifyGatewayError(error.getStatus());
  }
  return 'unexpected_error';
}

/**
 * The model name as recorded: masked, then bounded (a longer name is refused, and its record keeps
 * the start of it). Only a window is masked, so a name of megabytes costs no more than a short one;
 * the window reaches past the kept part by twice the longest key, so a key starting in it is masked whole.
 */
function recordedModel(model: string, redact: Redact): string {
  return boundedText(redact(model.slice(0, MODEL_NAME_MAX + 2 * MAX_KEY_LENGTH)), MODEL_NAME_MAX);
}

/** What the traces show: the gateway's own message for errors it raised, a redacted summary otherwise. */
function errorMessageOf(error: unknown, redact: Redact): string {
  if (error instanceof PassThroughError || error instanceof HttpException || isGatewayError(error)) return redact(error.message);
  return redact(error instanceof Error ? describeNetworkError(error) : String(error));
}


/**
 * The one line per finished request: what it was, how it ended, which client key (as a fingerprint).
 * A failure is a warning with its (redacted) reason. With metrics off, routing and usage are not
 * recorded, so their fields are left out rather than shown as zeros.
 */
function logCompleted(request: FastifyRequest, reply: FastifyReply, metrics: RequestMetrics): void {
  const r = metrics.record;
  const key = clientOf(request)?.keyFingerprint === undefined ? presentedKey(request.headers) : undefined;
  const status = reply.raw.statusCode;
  const failed = r.errorType !== undefined || status >= 400;
  if (!failed && !levelEnabled(request.log, 'info')) return;
  const known = metrics.tracked;
  request.log[failed ? 'warn' : 'info'](
    {
      provider: known ? r.provider : undefined,
      model: known ? r.resolvedModel : undefined,
      status,
      streaming: r.isStreaming,
      duration_ms: r.durationMs === undefined ? undefined : Math.round(r.durationMs),
      input_tokens: known ? r.inputTokens : undefined,
      output_tokens: known ? r.outputTokens : undefined,
      cost_usd: known ? usdOrNull(recordCost(r)) : undefined,
      usage_source: known ? r.usageSource : undefined,
      service_tier: known ? r.serviceTier : undefined,
      error_type: r.errorType,
      error: r.error,
      client: r.client,
      user: r.user,
      session: r.session,
      // Which client key, for correlation; never the key itself.
      client_key: clientOf(request)?.keyFingerprint ?? (key === undefined ? undefined : keyFingerprint(key)),
      // Only when it was stored under another id than the line's own (a reused id in flight).
      request_id: r.requestId === request.id ? undefined : r.requestId,
    },
    'request completed',
  );
}

/**
 * Starts metrics for every proxied request, records what the body says, and finalizes exactly once
 * when the response has fully ended or failed: the response's `close` is the one event that comes
 * in every case (finished, errored, or the client went away).
 */
@Injectable()
export class RequestOrchestrator implements NestInterceptor {
  constructor(
    private readonly tracker: TrackerService,
    private readonly redactor: Redactor,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const proxy = this.begin(request, reply);
    return next.handle().pipe(
      catchError((error: unknown) => {
        proxy.metrics.fail(errorTypeOf(error), errorMessageOf(error, this.redactFor(request)));
        return throwError(() => error);
      }),
      // A response already gone before the handler settled has had its close event.
      finalize(() => {
        if (reply.raw.destroyed && !reply.raw.writableFinished) proxy.metrics.finalize();
      }),
    );
  }

  /** The request's context, when it is a tracked proxy request. */
  contextOf(request: FastifyRequest): ProxyRequestContext | undefined {
    return contexts.get(request);
  }

  /**
   * Accounts a request refused before it reached a handler: bad JSON or a body over the limit
   * (bad_request), a body that did not arrive in time (timeout), or a client that left while
   * sending it (client_disconnect; finalized at once, its connection is already gone).
   */
  accountRefused(request: FastifyRequest, reply: FastifyReply, errorType: ErrorType, message: string): void {
    if (contexts.has(request)) return;
    this.begin(request, reply).metrics.fail(errorType, this.redactFor(request)(message));
  }

  /** The key the client presented is a secret of its request too (a passthrough provider got it). */
  private redactFor(request: FastifyRequest): Redact {
    return this.redactor.forRequest(presentedKey(request.headers));
  }

  private begin(request: FastifyRequest, reply: FastifyReply): ProxyRequestContext {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as ModelBody;
    const api = routeFactsOf(request.routeOptions.config).api;
    const facts = requestFactsFor(api, request.body);
    const length = Number(request.headers['content-length']);
    const caller = callerFacts(request.headers, request.body, api === 'anthropic_messages');
    // What the client named goes into every output: a secret in it stays masked.
    const redact = this.redactFor(request);
    const metrics = this.tracker.begin({
      requestId: request.id,
      requestedModel: typeof body.model === 'string' ? recordedModel(body.model, redact) : undefined,
      isStreaming: body.stream === true,
      requestSize: Number.isFinite(length) ? length : 0,
      api,
      ...facts,
      client: clientOf(request)?.name,
      user: caller.user === undefined ? undefined : redact(caller.user),
      session: caller.session === undefined ? undefined : redact(caller.session),
      maxTokens: maxTokensOf(request.body),
    }, request.headers);
    // An id already in flight is stored under a new one (`id~1`): the answer names the id the request is stored as.
    if (metrics.requestId !== request.id) void reply.header('x-request-id', metrics.requestId);
    if (levelEnabled(request.log, 'debug')) {
      // Credentials in the URL are masked by the logger's line redaction.
      request.log.debug({ request: { method: request.method, url: request.url, headers: redactHeaders(request.headers) } }, 'request received');
    }
    const lifetime = new RequestLifetime();
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (!reply.raw.writableFinished) {
        metrics.fail('client_disconnect', 'The client closed the connection before the response was complete');
        lifetime.clientLeft();
      }
      metrics.finalize(reply.raw.statusCode);
      // Neither written nor built when info is off.
      if (levelEnabled(request.log, 'warn')) logCompleted(request, reply, metrics);
    };
    reply.raw.once('close', end);
    // A connection already gone (an aborted upload) has had its close event, or is about to: end now.
    if (reply.raw.destroyed || request.raw.socket?.destroyed === true) end();
    const proxy: ProxyRequestContext = { metrics, lifetime, setHeaders: (headers) => void reply.headers(headers) };
    contexts.set(request, proxy);
    return proxy;
  }
}
