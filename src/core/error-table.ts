import { errors } from 'undici';
import type { ErrorType } from './error-type';
import { isRecord } from './json';

/**
 * The one place an upstream error is classified. Every path (passthrough or conversion, stream or
 * JSON, Anthropic or OpenAI) looks its error up here, and the same row gives the metrics category,
 * the error type the client gets in either protocol, and the status when the gateway picks one.
 */
export interface ErrorRow {
  /** Upstream HTTP statuses of this kind (also a numeric `code` inside a stream, as OpenRouter sends). */
  statuses: readonly number[];
  /** `error.type` / `error.code` strings of this kind, compared exactly. */
  kinds: readonly string[];
  /** Substrings of an unknown type or code that still tell the kind. */
  hints: readonly string[];
  /** Category of an HTTP error answer of this kind. */
  errorType: ErrorType;
  /** Category when it arrives inside a 200 answer (a stream event), if different. */
  inBand?: ErrorType;
  anthropicType: string;
  openaiType: string;
  /** Status the client gets when the gateway chooses one. */
  status: number;
}

export const ERROR_TABLE: readonly ErrorRow[] = [
  {
    statuses: [401],
    kinds: ['authentication_error', 'invalid_api_key', 'unauthorized'],
    hints: ['auth', 'api_key'],
    errorType: 'auth_error',
    anthropicType: 'authentication_error',
    openaiType: 'authentication_error',
    status: 401,
  },
  {
    statuses: [403],
    kinds: ['permission_error', 'permission_denied'],
    hints: ['permission'],
    errorType: 'auth_error',
    anthropicType: 'permission_error',
    openaiType: 'permission_error',
    status: 403,
  },
  {
    statuses: [429],
    // insufficient_quota arrives as a 429 and is the account's limit, not a provider fault: back off like any limit.
    kinds: ['rate_limit_error', 'rate_limit_exceeded', 'insufficient_quota'],
    hints: ['rate_limit', 'rate limit', 'quota'],
    errorType: 'rate_limit',
    anthropicType: 'rate_limit_error',
    openaiType: 'rate_limit_error',
    status: 429,
  },
  {
    statuses: [404],
    kinds: ['not_found_error', 'model_not_found'],
    hints: ['not_found'],
    errorType: 'bad_request',
    anthropicType: 'not_found_error',
    openaiType: 'not_found_error',
    status: 404,
  },
  {
    statuses: [413],
    kinds: ['request_too_large'],
    hints: ['too_large'],
    errorType: 'bad_request',
    anthropicType: 'request_too_large',
    openaiType: 'invalid_request_error',
    status: 413,
  },
  {
    statuses: [400, 422],
    kinds: ['invalid_request_error', 'context_length_exceeded'],
    hints: ['invalid_request'],
    errorType: 'bad_request',
    anthropicType: 'invalid_request_error',
    openaiType: 'invalid_request_error',
    status: 400,
  },
  {
    statuses: [408, 504],
    kinds: ['timeout_error'],
    hints: ['timeout'],
    errorType: 'upstream_timeout',
    anthropicType: 'timeout_error',
    openaiType: 'server_error',
    status: 504,
  },
  {
    statuses: [503, 529],
    kinds: ['overloaded_error'],
    hints: ['overloaded', 'unavailable', 'capacity'],
    errorType: 'upstream_http_error',
    inBand: 'upstream_error',
    anthropicType: 'overloaded_error',
    openaiType: 'server_error',
    status: 503,
  },
  {
    statuses: [500, 502],
    kinds: ['api_error', 'server_error'],
    hints: [],
    errorType: 'upstream_http_error',
    inBand: 'upstream_error',
    anthropicType: 'api_error',
    openaiType: 'server_error',
    status: 502,
  },
];

/** A provider-side failure no row names: a 5xx, or an unknown error inside a 200 answer. */
const PROVIDER_FAULT: ErrorRow = ERROR_TABLE[ERROR_TABLE.length - 1];

/** A 4xx no row names: the upstream refused it for a reason the gateway cannot tell. */
const OTHER_REFUSAL: ErrorRow = {
  statuses: [],
  kinds: [],
  hints: [],
  errorType: 'upstream_http_error',
  anthropicType: 'invalid_request_error',
  openaiType: 'invalid_request_error',
  status: 400,
};

export type ErrorProtocol = 'anthropic' | 'openai';

export interface ErrorClass {
  errorType: ErrorType;
  anthropicType: string;
  openaiType: string;
  status: number;
}

/** `error.type` and `error.code` of an upstream error body in either protocol (`{error: {...}}` or `{type: 'error', error}`). */
export function upstreamErrorKinds(body: unknown): { type?: unknown; code?: unknown } {
  if (!isRecord(body)) return {};
  const error = isRecord(body.error) ? body.error : body;
  return { type: error.type, code: error.code ?? error.status };
}

/**
 * A 404 that is no JSON error (`Not Found`, `Cannot POST /chat/completions`, `{"detail":"Not Found"}`):
 * the upstream has no such API path, most often a base URL lacking its path prefix; a 404 about a
 * model comes as a JSON error.
 */
export function isMissingApiPath(status: number, body: unknown): boolean {
  if (status !== 404) return false;
  return !isRecord(body) || (body.error === undefined && body.type === undefined && body.code === undefined);
}

/** What the client and the log get for a missing API path: the URL tried and the variable to check. */
export function missingApiPathMessage(provider: string, url: string, baseUrlVariable: string, said: string): string {
  const answer = said.trim() === '' ? '' : ` (${said.trim().slice(0, 100)})`;
  return `Upstream ${provider} answered 404 Not Found${answer} to POST ${url}: it has no such API path. Check ${baseUrlVariable}: it may lack a path prefix such as /v1, or have one too many`;
}

/** An upstream HTTP error answer: its status decides; for a status no row names, its type and code. */
export function classifyHttpError(
  status: number,
  kinds: { type?: unknown; code?: unknown } = {},
): ErrorClass {
  const row =
    byStatus(status) ??
    byKinds([kinds.code, kinds.type]) ??
    (status >= 500 || status < 400 ? PROVIDER_FAULT : OTHER_REFUSAL);
  return classOf(row, status, false);
}

/**
 * An error inside a 200 answer (a stream event, a JSON error instead of a stream): code before type,
 * since OpenAI sends `invalid_api_key` with type `invalid_request_error`; a numeric code is a status.
 */
export function classifyInBandError(kinds: { type?: unknown; code?: unknown }): ErrorClass {
  const row = byKinds([kinds.code, kinds.type]) ?? PROVIDER_FAULT;
  return classOf(row, row.status, true);
}

/** The error type a client of `protocol` gets for this class. */
export function clientErrorType(protocol: ErrorProtocol, error: ErrorClass): string {
  return protocol === 'anthropic' ? error.anthropicType : error.openaiType;
}

/** The error type for a status the gateway answers with itself. */
export function clientErrorTypeForStatus(protocol: ErrorProtocol, status: number): string {
  return clientErrorType(protocol, classifyHttpError(status));
}

/** Category of a refusal the gateway raised itself: the same rows for the 4xx it shares with upstreams. */
export function classifyGatewayError(status: number): ErrorType {
  if (status >= 500) return 'http_error';
  const row = byStatus(status);
  return row?.errorType === 'auth_error' || row?.errorType === 'rate_limit' ? row.errorType : 'bad_request';
}

function classOf(row: ErrorRow, status: number, inBand: boolean): ErrorClass {
  return {
    errorType: inBand ? (row.inBand ?? row.errorType) : row.errorType,
    anthropicType: row.anthropicType,
    openaiType: row.openaiType,
    status,
  };
}

function byStatus(status: unknown): ErrorRow | undefined {
  return typeof status === 'number' ? ERROR_TABLE.find((row) => row.statuses.includes(status)) : undefined;
}

function byKinds(kinds: unknown[]): ErrorRow | undefined {
  for (const kind of kinds) {
    if (typeof kind === 'number') {
      const row = byStatus(kind) ?? (kind >= 500 && kind <= 599 ? PROVIDER_FAULT : undefined);
      if (row) return row;
    }
    if (typeof kind !== 'string') continue;
    const exact = ERROR_TABLE.find((row) => row.kinds.includes(kind));
    if (exact) return exact;
  }
  for (const kind of kinds) {
    if (typeof kind !== 'string') continue;
    const word = kind.toLowerCase();
    const hinted = ERROR_TABLE.find((row) => row.hints.some((hint) => word.includes(hint)));
    if (hinted) return hinted;
  }
  return undefined;
}

// ---------------------------------------------------------------- network and abort causes

/** Why a call to the upstream ended without an answer, what to record and answer, and what to say. */
export interface NetworkCause {
  errorType: ErrorType;
  status: number;
  message: string;
}

interface CauseRow extends NetworkCause {
  codes: readonly string[];
  classes: readonly (abstract new (...args: never[]) => unknown)[];
  names: readonly string[];
}

const CAUSES: readonly CauseRow[] = [
  {
    codes: ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'],
    classes: [errors.HeadersTimeoutError, errors.BodyTimeoutError, errors.ConnectTimeoutError],
    // AbortSignal.timeout() rejects with a DOMException named TimeoutError.
    names: ['TimeoutError'],
    errorType: 'upstream_timeout',
    status: 504,
    message: 'The upstream provider did not answer in time',
  },
  {
    codes: ['UND_ERR_ABORTED'],
    classes: [errors.RequestAbortedError],
    names: ['AbortError'],
    errorType: 'client_disconnect',
    status: 502,
    message: 'The client closed the connection',
  },
  {
    codes: ['ECONNREFUSED'],
    classes: [],
    names: [],
    errorType: 'upstream_error',
    status: 502,
    message: 'The upstream provider refused the connection',
  },
  {
    codes: ['ENOTFOUND', 'EAI_AGAIN'],
    classes: [],
    names: [],
    errorType: 'upstream_error',
    status: 502,
    message: 'The upstream host name did not resolve',
  },
  {
    codes: ['EHOSTUNREACH', 'ENETUNREACH'],
    classes: [],
    names: [],
    errorType: 'upstream_error',
    status: 502,
    message: 'The upstream host is unreachable',
  },
  {
    codes: ['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'],
    classes: [errors.SocketError, errors.ClientClosedError],
    names: [],
    errorType: 'upstream_error',
    status: 502,
    message: 'The upstream provider closed the connection',
  },
];

const UNKNOWN_CAUSE: NetworkCause = {
  errorType: 'unexpected_error',
  status: 502,
  message: 'The call to the upstream provider failed',
};

/**
 * A break in a stream the upstream committed to (a 2xx answer with an event-stream content type, or
 * one whose events the gateway already read) is a truncated stream, whether or not any of its bytes
 * reached the gateway before the break: `streaming_error`. The gateway's own timer and a client
 * that left keep their causes.
 */
export function brokenStreamCause(cause: NetworkCause): NetworkCause {
  return cause.errorType === 'upstream_error' ? { ...cause, errorType: 'streaming_error' } : cause;
}

/** What the request's own lifetime says ended the call: the client left, or the gateway's timer fired. */
export const CLIENT_LEFT: NetworkCause = CAUSES[1];
export const GATEWAY_TIMED_OUT: NetworkCause = CAUSES[0];

const MAX_CAUSE_DEPTH = 5;

/** The cause of an error thrown while talking to the upstream (undici 7, fetch, or an abort), through its causes. */
export function networkCause(err: unknown): NetworkCause {
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isRecord(current); depth++) {
    const found = causeOf(current);
    if (found) return found;
    if (current instanceof AggregateError) {
      for (const inner of current.errors) {
        const innerFound = isRecord(inner) ? causeOf(inner) : undefined;
        if (innerFound) return innerFound;
      }
    }
    current = current.cause;
  }
  return UNKNOWN_CAUSE;
}

function causeOf(err: Record<string, unknown>): NetworkCause | undefined {
  const row = CAUSES.find(
    (cause) =>
      cause.classes.some((type) => err instanceof type) ||
      (typeof err.code === 'string' && cause.codes.includes(err.code)) ||
      (typeof err.name === 'string' && cause.names.includes(err.name)),
  );
  return row && { errorType: row.errorType, status: row.status, message: row.message };
}
