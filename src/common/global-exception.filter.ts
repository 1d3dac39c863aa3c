import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './api-error';
import { BodyTimeoutError } from './body-timeout';
import { DisabledException } from '../core/disabled';
import { routeFactsOf } from '../core/route-facts';
import type { ErrorType } from '../core/error-type';
import { PassThroughError } from './upstream-http.error';
import { redactSecrets } from '../core/redact';
import { headersOf, isGatewayError, openaiCodeOf } from '../core/errors';

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return exception.message;
}


/** Fastify's own errors (unparsable JSON, a body over the limit) carry a status but are no HttpException. */
function fastifyClientError(exception: unknown): number | undefined {
  const status = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** Where a count_tokens call that ends in an error is counted (contract section 12). */
export interface CountedCallAccounting {
  failed(request: FastifyRequest): void;
}

/** Where a request refused before its handler is accounted (the gateway's request orchestrator). */
export interface RefusalAccounting {
  accountRefused(request: FastifyRequest, reply: FastifyReply, errorType: ErrorType, message: string): void;
}

/** Answers every error in the format of the API that was called; never leaks internals in a 500. */
@Catch()
export class GlobalExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly orchestrator: RefusalAccounting,
    private readonly bodyLimitBytes: number,
    private readonly countedCalls: CountedCallAccounting,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    const facts = routeFactsOf(request.routeOptions.config);
    // A count_tokens call: whether its handler threw or its body was refused, one error in its own counter.
    if (facts.counted !== undefined) this.countedCalls.failed(request);
    // Refused before any handler ran (unparsable JSON, a body over the limit, too slow, aborted): still counted.
    if (facts.api !== undefined) {
      if (request.raw.socket?.destroyed === true) {
        this.orchestrator.accountRefused(request, reply, 'client_disconnect', 'The client closed the connection before its request body arrived');
        return;
      }
      const timedOut = exception instanceof BodyTimeoutError;
      this.orchestrator.accountRefused(request, reply, timedOut ? 'timeout' : 'bad_request', exception instanceof Error ? exception.message : String(exception));
    }
    // The rest of an unread body would have to be drained before the connection could be reused.
    if (exception instanceof BodyTimeoutError) void reply.header('connection', 'close');
    if (exception instanceof PassThroughError) {
      void reply.status(exception.status).headers(exception.headers).type(exception.contentType).send(exception.body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // A disabled document is the whole answer: it goes out as it is.
      // Nest hands Fastify's own refusals (a body over the limit) to the filter as HttpExceptions.
      const message = status === 413 ? this.tooLarge() : messageOf(exception);
      const body = exception instanceof DisabledException ? exception.doc : errorBody(facts.errors, status, message);
      void reply.status(status).send(body);
      return;
    }
    if (isGatewayError(exception)) {
      const status = exception.statusCode ?? 500;
      // The gateway's own refusals (budgets, rate limits) carry their headers, and OpenAI's code for them.
      const headers = headersOf(exception);
      if (headers) void reply.headers(headers);
      const body = errorBody(facts.errors, status, exception.message, undefined, openaiCodeOf(exception.code));
      // The metrics API's format names the cause by its catalogue code, as fastify's own errors do.
      void reply.status(status).send(facts.errors === 'generic' ? { ...body, code: exception.code } : body);
      return;
    }
    const clientStatus = fastifyClientError(exception);
    if (clientStatus !== undefined) {
      const message = clientStatus === 413 ? this.tooLarge() : (exception as Error).message;
      void reply.status(clientStatus).send(errorBody(facts.errors, clientStatus, message));
      return;
    }
    // The request's own logger, so the line carries its request id; messages may echo credentials.
    request.log.error({ context: 'Http' }, redactSecrets(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)));
    void reply.status(500).send(errorBody(facts.errors, 500, 'Internal server error'));
  }

  private tooLarge(): string {
    return `Request body is larger than the ${this.bodyLimitBytes}-byte limit`;
  }
}
