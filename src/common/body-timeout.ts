import type { FastifyInstance } from 'fastify';

/** A request body that did not fully arrive within REQUEST_BODY_TIMEOUT_SECONDS. */
export class BodyTimeoutError extends Error {
  readonly statusCode = 408;

  constructor(limitMs: number) {
    super(`The request body did not arrive within REQUEST_BODY_TIMEOUT_SECONDS (${limitMs / 1000} s)`);
    this.name = 'BodyTimeoutError';
  }
}

/**
 * Bounds the time a request body may take to arrive (header and idle timeouts stay Node's own).
 * On expiry the error is handed to Fastify's body reader as a stream error: it stops reading and
 * answers through the error handler. Destroying the request instead would also destroy its socket,
 * and the client would never get its 408.
 *
 * The timer and its listeners go away on whichever comes first: the body ends, the request closes,
 * or the response is done (a 413 or 415 is answered without reading the body, which then never
 * ends). A timer that fires with no reader left does nothing: an `error` event nobody listens
 * to would be thrown, and would stop the process.
 */
export function limitBodyTime(fastify: FastifyInstance, limitMs: number): void {
  fastify.addHook('preParsing', (request, reply, payload, done) => {
    const length = request.headers['content-length'];
    if ((length === undefined || length === '0') && request.headers['transfer-encoding'] === undefined) {
      done(null, payload);
      return;
    }
    const response = reply.raw;
    const clear = (): void => {
      clearTimeout(timer);
      payload.off('end', clear);
      payload.off('close', clear);
      response.off('close', clear);
    };
    const timer = setTimeout(() => {
      clear();
      if (payload.listenerCount('error') > 0 && !payload.readableEnded && !response.headersSent) {
        payload.emit('error', new BodyTimeoutError(limitMs));
      }
    }, limitMs);
    payload.once('end', clear);
    payload.once('close', clear);
    response.once('close', clear);
    done(null, payload);
  });
}
