import { errors } from 'undici';
import type { ErrorType } from '../../core/error-type';
import { isRecord } from './json-fields';
import { redactSecrets } from './redact';

/** Category of a non-2xx upstream HTTP status. */
export function errorTypeForStatus(status: number): ErrorType {
  switch (status) {
    case 401:
    case 403:
      return 'auth_error';
    case 429:
      return 'rate_limit';
    case 400:
    case 413:
    case 422:
      return 'bad_request';
    case 408:
    case 504:
      return 'upstream_timeout';
    default:
      return 'upstream_http_error';
  }
}

const API_ERROR_TYPES: ReadonlyMap<string, ErrorType> = new Map<string, ErrorType>([
  ['overloaded_error', 'upstream_error'],
  ['rate_limit_error', 'rate_limit'],
  ['rate_limit_exceeded', 'rate_limit'],
  ['insufficient_quota', 'rate_limit'],
  ['authentication_error', 'auth_error'],
  ['permission_error', 'auth_error'],
  ['invalid_api_key', 'auth_error'],
  ['invalid_request_error', 'bad_request'],
  ['context_length_exceeded', 'bad_request'],
]);

/**
 * Category of an error reported inside a stream or body (`error.type`, `error.code`), most specific first:
 * pass OpenAI's code before its type, since `invalid_api_key` comes with type `invalid_request_error`.
 */
export function errorTypeForApiError(...kinds: unknown[]): ErrorType {
  for (const kind of kinds) {
    const known = typeof kind === 'string' ? API_ERROR_TYPES.get(kind) : undefined;
    if (known) return known;
    // OpenRouter and others put the HTTP status in `code`.
    if (typeof kind === 'number' && kind >= 400 && kind < 600) {
      const byStatus = errorTypeForStatus(kind);
      if (byStatus !== 'upstream_http_error') return byStatus;
    }
  }
  // A provider-side failure inside a 200 answer, as the conversion path records it too.
  return 'upstream_error';
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const MAX_CAUSE_DEPTH = 5;

/** Category of an error thrown while talking to the upstream (undici 7, fetch, or an abort). */
export function errorTypeForNetworkError(err: unknown): ErrorType {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isRecord(current); depth++) {
    const found = classifyOne(current);
    if (found) return found;
    if (current instanceof AggregateError) {
      for (const inner of current.errors) {
        const innerFound = isRecord(inner) ? classifyOne(inner) : undefined;
        if (innerFound) return innerFound;
      }
    }
    current = current.cause;
  }
  return 'unexpected_error';
}

function classifyOne(err: Record<string, unknown>): ErrorType | undefined {
  if (
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError
  ) {
    return 'upstream_timeout';
  }
  if (
    err instanceof errors.RequestAbortedError ||
    err.name === 'AbortError' ||
    err.code === 'UND_ERR_ABORTED'
  ) {
    return 'client_disconnect';
  }
  if (err instanceof errors.SocketError || err instanceof errors.ClientClosedError) return 'upstream_error';
  // AbortSignal.timeout() rejects with a DOMException named TimeoutError.
  if (err.name === 'TimeoutError') return 'upstream_timeout';
  if (typeof err.code === 'string') {
    if (TIMEOUT_CODES.has(err.code)) return 'upstream_timeout';
    if (CONNECTION_CODES.has(err.code)) return 'upstream_error';
  }
  return undefined;
}

const MAX_DESCRIPTION = 500;

/** A short, log-safe description: code or name and message of the error and its causes, secrets masked. */
export function describeNetworkError(err: unknown): string {
  if (typeof err === 'string') return clip(redactSecrets(err));
  if (!isRecord(err))
    return err === undefined || err === null ? 'unknown error' : `non-error value (${typeof err})`;
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isRecord(current); depth++) {
    const part = describeOne(current);
    if (part && parts[parts.length - 1] !== part) parts.push(part);
    current = current.cause;
  }
  return clip(redactSecrets(parts.length > 0 ? parts.join('; cause: ') : 'unknown error'));
}

function describeOne(err: Record<string, unknown>): string {
  const label =
    typeof err.code === 'string' && err.code ? err.code : typeof err.name === 'string' ? err.name : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (label && message) return `${label}: ${message}`;
  return label || message;
}

function clip(text: string): string {
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 1)}…` : text;
}
