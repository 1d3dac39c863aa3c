import type { Dispatcher } from 'undici';
import { errorBody } from '../../common/api-error';
import { PassThroughError } from '../../common/upstream-http.error';
import type { ApiFormat } from '../../core/api';
import { CLIENT_LEFT, GATEWAY_TIMED_OUT, networkCause, type NetworkCause } from '../../core/error-table';
import type { Redact } from '../../core/redact';
import type { ErrorType } from '../../core/error-type';
import { errorTypeOfCode, GatewayErrors, type GatewayError } from '../../core/errors';
import { describeNetworkError } from '../protocol/error-classification';
import { ResponseTooLargeError } from './read-limited';

/**
 * How an upstream answer is judged before its body is read: by its status and headers a refusal the
 * client gets in its own format; by a failed call, the network cause of it.
 */

export const JSON_TYPE = 'application/json';

/** Why an upstream call ended early, as the request's lifetime tells. */
export function abortCause(lifetime: { clientGone: boolean; timedOut: boolean }, error: unknown): NetworkCause {
  if (lifetime.clientGone) return CLIENT_LEFT;
  if (lifetime.timedOut) return GATEWAY_TIMED_OUT;
  return networkCause(error);
}

/** A body too large to read is the upstream's fault, not the network's. */
export const TOO_LARGE: NetworkCause = { errorType: 'upstream_error', status: 502, message: new GatewayErrors.VDM_UPSTREAM_TOO_LARGE().message };

/**
 * A gateway error as the client's answer: its status, its message in the client's format, and its
 * code; `trace` is what the request's record shows when it says more than the client is told.
 */
export function refuse(
  format: ApiFormat,
  error: GatewayError,
  options: { trace?: string; errorType?: ErrorType; headers?: Record<string, string> } = {},
): PassThroughError {
  const status = error.statusCode ?? 500;
  const body = JSON.stringify(errorBody(format, status, error.message));
  const refusal = new PassThroughError(status, body, JSON_TYPE, options.errorType ?? errorTypeOfCode(error.code), options.trace ?? error.message, options.headers);
  refusal.code = error.code;
  return refusal;
}

/** An upstream call that failed without an answer (network, timeout, the client leaving, a body too large). */
export function upstreamFailure(format: ApiFormat, cause: NetworkCause, error: unknown, redact: Redact): PassThroughError {
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

/** A 2xx answer the client cannot be given: 502 in the client's format, accounted as upstream_error. */
export function unusableAnswer(format: ApiFormat, message: string): PassThroughError {
  return refuse(format, new GatewayErrors.VDM_UPSTREAM_UNREADABLE(message));
}

/**
 * What an answer is, by its status and headers: refused unread; an upstream error whose body is passed
 * on; an error in JSON where a stream was asked for; a JSON answer; an event stream to relay.
 */
export type Verdict =
  | { kind: 'refused'; refusal: PassThroughError }
  | { kind: 'failed' }
  | { kind: 'json-error' }
  | { kind: 'json' }
  | { kind: 'stream'; announced: boolean };

export function judge(format: ApiFormat, response: Dispatcher.ResponseData, stream: boolean): Verdict {
  const refused = refusal(format, response, stream);
  if (refused !== undefined) return { kind: 'refused', refusal: refused };
  if (response.statusCode < 200 || response.statusCode >= 300) return { kind: 'failed' };
  const contentType = response.headers['content-type'];
  if (!stream) return { kind: 'json' };
  if (isJsonType(contentType)) return { kind: 'json-error' };
  // The upstream's headers announced an event stream (else its bytes will tell).
  return { kind: 'stream', announced: mediaType(contentType) === 'text/event-stream' };
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
  const error = new GatewayErrors.VDM_UPSTREAM_REDIRECT(response.statusCode);
  const location = first(response.headers.location);
  let target = '';
  if (location !== undefined && URL.canParse(location)) {
    const url = new URL(location);
    target = `, to ${url.origin}${url.pathname}`;
  }
  return refuse(format, error, { trace: `${error.message}${summarize(target)}` });
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

export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function summarize(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** The JSON of a text, or the text itself when it is not JSON (then it is the upstream's message). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
