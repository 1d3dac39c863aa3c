import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, flavorOf } from './api-error';
import type { RequestOrchestrator } from '../metrics/request-orchestrator.interceptor';
import { PassThroughError } from './upstream-http.error';
import { redactSecrets } from '../gateway/protocol/redact';

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  if (typeof message === 'string') return message;
  return exception.message;
}

/** Answers every error in the format of the API that was called; never leaks internals in a 500. */
const PROXY_ROUTES = new Set(['/v1/messages', '/v1/chat/completions']);

/** Fastify's own errors (unparsable JSON, a body over the limit) carry a status but are no HttpException. */
function fastifyClientError(exception: unknown): number | undefined {
  const status = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

@Catch()
export class GlobalExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly orchestrator: RequestOrchestrator,
    private readonly bodyLimitBytes: number,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    if (reply.sent || reply.raw.headersSent) {
      if (!reply.raw.writableEnded) reply.raw.end();
      return;
    }
    const path = request.url.split('?', 1)[0];
    // Refused before any handler ran (unparsable JSON, a body over the limit): still counted.
    if (request.method === 'POST' && PROXY_ROUTES.has(path)) {
      this.orchestrator.accountRefused(request, reply, exception instanceof Error ? exception.message : String(exception));
    }
    if (exception instanceof PassThroughError) {
      void reply.status(exception.status).headers(exception.headers).type(exception.contentType).send(exception.body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      // Bodies that already are a complete document (the SSE-disabled notice) go out as they are.
      const body =
        typeof response === 'object' && response !== null && 'disabled' in response
          ? response
          : errorBody(flavorOf(path), status, messageOf(exception));
      void reply.status(status).send(body);
      return;
    }
    const clientStatus = fastifyClientError(exception);
    if (clientStatus !== undefined) {
      const message =
        clientStatus === 413
          ? `Request body is larger than the ${this.bodyLimitBytes}-byte limit`
          : (exception as Error).message;
      void reply.status(clientStatus).send(errorBody(flavorOf(path), clientStatus, message));
      return;
    }
    // The request's own logger, so the line carries its request id; messages may echo credentials.
    request.log.error({ context: 'Http' }, redactSecrets(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception)));
    void reply.status(500).send(errorBody(flavorOf(path), 500, 'Internal server error'));
  }
}
