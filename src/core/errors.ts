import createError, { type FastifyError } from '@fastify/error';
import type { ErrorType } from './error-type';

/**
 * The gateway's own errors: one code each, with its status, the category it is accounted as and its
 * message template (printf-style, as `@fastify/error` formats it). Every error the gateway makes up
 * itself is thrown from here, so a code names one cause wherever it surfaces.
 */
const CATALOGUE = {
  VDM_BODY_NOT_OBJECT: { status: 400, errorType: 'bad_request', message: 'The request body must be a JSON object' },
  VDM_MODEL_REQUIRED: { status: 400, errorType: 'bad_request', message: 'model: a non-empty string is required' },
  VDM_MODEL_NAME: { status: 400, errorType: 'bad_request', message: '%s' },
  VDM_MESSAGES_REQUIRED: { status: 400, errorType: 'bad_request', message: 'messages: an array is required' },
  VDM_STREAM_NOT_BOOLEAN: { status: 400, errorType: 'bad_request', message: 'stream: must be a boolean' },
  VDM_BACKGROUND_UNSUPPORTED: {
    status: 400,
    errorType: 'bad_request',
    message: 'background: background responses are not supported through the gateway; send the request without background (or background: false)',
  },
  VDM_API_NOT_SPOKEN: { status: 400, errorType: 'bad_request', message: 'Provider "%s" speaks the Anthropic Messages API; send this request to /v1/messages' },
  VDM_CONVERSION_UNSUPPORTED: {
    status: 400,
    errorType: 'bad_request',
    message: 'Provider "%s" speaks the Anthropic Messages API; conversion of %s to it is not supported yet: send this request to an openai-format provider',
  },
  VDM_UPSTREAM_REDIRECT: { status: 502, errorType: 'upstream_error', message: 'The upstream answered %d, a redirect the gateway does not follow' },
  VDM_UPSTREAM_UNREADABLE: { status: 502, errorType: 'upstream_error', message: '%s' },
  VDM_UPSTREAM_TOO_LARGE: { status: 502, errorType: 'upstream_error', message: 'The upstream response was too large' },
  VDM_UPSTREAM_PATH_MISSING: { status: 404, errorType: 'upstream_error', message: '%s' },
  // Queries of the metrics and history API (/metrics/*).
  VDM_QUERY_UNKNOWN_KEY: { status: 400, errorType: 'bad_request', message: 'unknown query parameter %s; %s' },
  VDM_QUERY_REPEATED_KEY: { status: 400, errorType: 'bad_request', message: '%s may be given once' },
  VDM_QUERY_TIME: { status: 400, errorType: 'bad_request', message: '%s must be an ISO-8601 time (2026-01-31T00:00:00Z) or relative (-24h, -7d, -30m)' },
  VDM_QUERY_RANGE: { status: 400, errorType: 'bad_request', message: 'from must be before to' },
  VDM_QUERY_GROUP_BY: { status: 400, errorType: 'bad_request', message: 'group_by takes a comma list of %s; got %s' },
  VDM_QUERY_GROUP_BY_REPEATED: { status: 400, errorType: 'bad_request', message: 'group_by names a key twice' },
  VDM_QUERY_FORMAT: { status: 400, errorType: 'bad_request', message: 'format must be one of %s' },
  VDM_QUERY_FILTER_LENGTH: { status: 400, errorType: 'bad_request', message: '%s must be a glob of 1 to 256 characters' },
  VDM_QUERY_FILTER_NUL: { status: 400, errorType: 'bad_request', message: '%s must not contain a NUL character' },
  VDM_QUERY_WHOLE_NUMBER: { status: 400, errorType: 'bad_request', message: '%s must be a whole number from %d to %d' },
  VDM_QUERY_STATUS: { status: 400, errorType: 'bad_request', message: 'status must be ok or error' },
  VDM_QUERY_CURSOR: { status: 400, errorType: 'bad_request', message: 'cursor is not one this gateway handed out' },
  VDM_QUERY_ORDER: { status: 400, errorType: 'bad_request', message: 'order must be one of %s' },
  VDM_HISTORY_UNAVAILABLE: { status: 503, errorType: 'unexpected_error', message: '%s' },
  VDM_HISTORY_TIME_LIMIT: {
    status: 503,
    errorType: 'timeout',
    message: 'the history query ran past its time limit of %d s; narrow from/to, add a filter or group by fewer keys',
  },
  VDM_BUDGET_EXCEEDED: { status: 429, errorType: 'rate_limit', message: '%s', openaiCode: 'insufficient_quota' },
  VDM_BUDGET_UNPRICED: { status: 429, errorType: 'rate_limit', message: '%s', openaiCode: 'insufficient_quota' },
  VDM_RATE_LIMITED: { status: 429, errorType: 'rate_limit', message: '%s', openaiCode: 'rate_limit_exceeded' },
  VDM_LIMITS_UNAVAILABLE: { status: 503, errorType: 'unexpected_error', message: '%s' },
  VDM_CONCURRENCY_LIMITED: { status: 429, errorType: 'rate_limit', message: '%s', openaiCode: 'rate_limit_exceeded' },
} as const satisfies Record<string, { status: number; errorType: ErrorType; message: string; openaiCode?: string }>;

export type GatewayErrorCode = keyof typeof CATALOGUE;

/** An error the gateway made up itself, with its code and status. */
export type GatewayError = FastifyError & { code: GatewayErrorCode };

function define<C extends GatewayErrorCode>(code: C) {
  return createError(code, CATALOGUE[code].message, CATALOGUE[code].status);
}

/** The constructors, one per code: `new GatewayErrors.VDM_MODEL_REQUIRED()`, `new GatewayErrors.VDM_MODEL_NAME(problem)`. */
export const GatewayErrors = Object.fromEntries(
  (Object.keys(CATALOGUE) as GatewayErrorCode[]).map((code) => [code, define(code)]),
) as { readonly [C in GatewayErrorCode]: ReturnType<typeof define<C>> };

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && Object.hasOwn(CATALOGUE, (error as unknown as { code: string }).code);
}

/** The category a gateway error is accounted as. */
export function errorTypeOfCode(code: GatewayErrorCode): ErrorType {
  return CATALOGUE[code].errorType;
}

/** The `type` and `code` an OpenAI-format answer gives this error, where OpenAI has its own (quota and rate limits). */
export function openaiCodeOf(code: GatewayErrorCode): string | undefined {
  const entry = CATALOGUE[code];
  return 'openaiCode' in entry ? entry.openaiCode : undefined;
}

/** Headers an answer carrying this error sends (`retry-after`, `x-ratelimit-*`); set with `withHeaders`. */
export function headersOf(error: GatewayError): Readonly<Record<string, string>> | undefined {
  return (error as { replyHeaders?: Record<string, string> }).replyHeaders;
}

export function withHeaders<E extends GatewayError>(error: E, headers: Record<string, string>): E {
  (error as { replyHeaders?: Record<string, string> }).replyHeaders = headers;
  return error;
}

/** Every code with its status, category and template: what the catalogue's spec and docs read. */
export function catalogue(): readonly { code: GatewayErrorCode; status: number; errorType: ErrorType; message: string }[] {
  return (Object.keys(CATALOGUE) as GatewayErrorCode[]).map((code) => ({ code, ...CATALOGUE[code] }));
}
