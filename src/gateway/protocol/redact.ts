const REDACTED = '[REDACTED]';

const AUTH_SCHEME = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const KEY_FIELD =
  /\b(x-api-key|x-goog-api-key|api[_-]?key|apikey|access[_-]?token|key)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi;
const AUTH_HEADER =
  /\b(authorization|proxy-authorization)(["']?\s*[:=]\s*["']?)(?!Bearer\s)(?:Basic\s+)?[^\s"'&,;]+/gi;
const SK_KEY = /\bsk-[A-Za-z0-9_-]{8,}/g;
const GOOGLE_KEY = /\bAIza[0-9A-Za-z_-]{30,}/g;

/** Masks credentials that upstream or network error messages may echo (bearer tokens, API keys). */
export function redactSecrets(text: string): string {
  return text
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(AUTH_HEADER, `$1$2${REDACTED}`)
    .replace(KEY_FIELD, `$1$2${REDACTED}`)
    .replace(SK_KEY, REDACTED)
    .replace(GOOGLE_KEY, REDACTED);
}
