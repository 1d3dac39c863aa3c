/** Error categories of a failed request (contract section 1). */
export const ERROR_TYPES = [
  'cancelled',
  'timeout',
  'upstream_timeout',
  'client_disconnect',
  'http_error',
  'upstream_http_error',
  'api_error',
  'upstream_error',
  'auth_error',
  'rate_limit',
  'bad_request',
  'streaming_error',
  'unexpected_error',
] as const;

export type ErrorType = (typeof ERROR_TYPES)[number];

const KNOWN_ERROR_TYPES: ReadonlySet<string> = new Set(ERROR_TYPES);

export function isErrorType(value: string): value is ErrorType {
  return KNOWN_ERROR_TYPES.has(value);
}
