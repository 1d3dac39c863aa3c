import type { ErrorType } from '../core/error-type';

/**
 * A response to hand to the client as it is (status, body, content type), while the request is
 * accounted as failed with `errorType`: an upstream 4xx/5xx passed through, or a gateway refusal.
 */
export class PassThroughError extends Error {
  /** The gateway's own error code (core/errors.ts) when the gateway made the answer up; unset for an upstream's answer passed on. */
  code?: string;

  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType: string,
    readonly errorType: ErrorType,
    message: string,
    /** Upstream headers the client gets with it (retry-after, rate limits). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'PassThroughError';
  }
}
