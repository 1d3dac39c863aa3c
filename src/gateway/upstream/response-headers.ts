import type { IncomingHttpHeaders } from 'node:http';

/** Upstream response headers clients read on every answer (retry and rate-limit state), passed on as they are. */
const FORWARDED = new Set(['retry-after', 'retry-after-ms', 'x-should-retry', 'openai-processing-ms', 'openai-version']);
const FORWARDED_PREFIXES = ['x-ratelimit-', 'anthropic-ratelimit-'];
/** The upstream's request id, renamed: `x-request-id` is the gateway's own. */
const UPSTREAM_IDS = ['request-id', 'x-request-id'];
/** Field-value characters Node will send (RFC 9110 §5.5), and a bound on their length. */
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\xff]{0,1024}$/;

function value(raw: string | string[] | undefined): string | undefined {
  const joined = Array.isArray(raw) ? raw.join(', ') : raw;
  return joined !== undefined && SAFE_VALUE.test(joined) ? joined : undefined;
}

/**
 * The headers of an upstream answer the client gets: an allow-list, so hop-by-hop and framing
 * headers, cookies and anything else about the provider's infrastructure stay behind.
 */
export function forwardedHeaders(upstream: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(upstream)) {
    if (!FORWARDED.has(name) && !FORWARDED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const forwarded = value(raw);
    if (forwarded !== undefined) out[name] = forwarded;
  }
  for (const name of UPSTREAM_IDS) {
    const id = value(upstream[name]);
    if (id !== undefined) {
      out['upstream-request-id'] = id;
      break;
    }
  }
  return out;
}
