export const REDACTED = '[REDACTED]';

/** Shorter secrets are not masked by value: masking a key like `unused` everywhere would mangle text. */
export const MIN_SECRET_LENGTH = 8;

/** Masks secrets in a text; the same function for client bodies, records and log lines. */
export type Redact = (text: string) => string;

// The value classes stop at quotes and backslashes, so the rules also run on JSON-encoded log lines.
const SEPARATOR = String.raw`((?:\\?["'])?\s*[:=]\s*(?:\\?["'])?)`;
const VALUE = String.raw`[^\s"'\\&,;]+`;
/** All rules in one RegExp: one scan per text (it runs on every log line); the groups say which rule matched. */
const RULES = new RegExp(
  [
    String.raw`\b(Bearer)\s+[A-Za-z0-9._~+/=-]+`,
    String.raw`\b(authorization|proxy-authorization|cookie)${SEPARATOR}(?!Bearer\s)(?:Basic\s+)?${VALUE}`,
    String.raw`\b(x-api-key|x-goog-api-key|x-auth-token|api[_-]?key|apikey|(?:access|refresh|id|auth)[_-]?token|token|client[_-]?secret|secret|password|passwd|key)${SEPARATOR}${VALUE}`,
    // URL userinfo, from the literal `://`: scanning for a scheme first cost more than all other rules.
    String.raw`(:\/\/)[^\s/?#@"'\\]+@`,
    String.raw`\bsk-[A-Za-z0-9_-]{8,}`,
    String.raw`\bAIza[0-9A-Za-z_-]{30,}`,
  ].join('|'),
  'gi',
);

function mask(_match: string, scheme?: string, header?: string, headerSep?: string, field?: string, fieldSep?: string, url?: string): string {
  if (scheme !== undefined) return `${scheme} ${REDACTED}`;
  if (header !== undefined) return `${header}${headerSep}${REDACTED}`;
  if (field !== undefined) return `${field}${fieldSep}${REDACTED}`;
  if (url !== undefined) return `${url}${REDACTED}@`;
  return REDACTED;
}

/** The pattern rules: credentials that upstream or network error messages may echo (bearer tokens, API keys, URL userinfo). */
export function redactSecrets(text: string): string {
  return text.replace(RULES, mask);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/** A secret as it appears in text and inside a JSON string (a log line, a JSON error body). */
function spellings(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return json === secret ? [secret] : [secret, json];
}

/**
 * Masks the pattern rules and every configured secret by exact value. The secrets are compiled into
 * one RegExp once, longest first, so a secret that contains another is masked whole.
 */
export class Redactor {
  private readonly values?: RegExp;
  private readonly known: ReadonlySet<string>;
  readonly redact: Redact = (text) => this.apply(text);

  constructor(secrets: Iterable<string>) {
    this.known = new Set([...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH));
    const needles = [...new Set([...this.known].flatMap(spellings))].sort((a, b) => b.length - a.length);
    if (needles.length > 0) this.values = new RegExp(needles.map(escapeRegExp).join('|'), 'g');
  }

  /** Also masks `secret`, a per-request one (the key a client presented, forwarded to a passthrough provider). */
  forRequest(secret: string | undefined): Redact {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || this.known.has(secret)) return this.redact;
    // Built on first use: most requests never fail, and this runs for every one.
    let extra: string[] | undefined;
    return (text) => this.apply((extra ??= spellings(secret)).reduce((t, s) => t.replaceAll(s, REDACTED), text));
  }

  // By value first: a pattern rule may stop inside a secret (at a comma, say) and leave its tail.
  private apply(text: string): string {
    return redactSecrets(this.values === undefined ? text : text.replace(this.values, REDACTED));
  }
}
