import type { Provider } from '../../config/provider';
import type { ApiFormat } from '../../core/api';
import { presentedKey } from '../../core/client-key';
import { first, JSON_TYPE } from './answer';

const ANTHROPIC_VERSION = '2023-06-01';

/** The upstream URL of an exchange. */
export function endpoint(provider: Provider, format: ApiFormat, path = '/chat/completions'): string {
  const base = provider.baseUrls[format]!;
  return format === 'anthropic' ? `${base}/v1/messages` : `${base}${path}`;
}

/**
 * The gateway's own credentials; a client's key goes upstream only for a passthrough provider.
 * `trace`: the gateway's own trace context (`traceparent`), never the client's.
 */
export function upstreamHeaders(
  provider: Provider,
  format: ApiFormat,
  client: Record<string, string | string[] | undefined>,
  trace: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const key = provider.apiKey ?? presentedKey(client) ?? '';
  const headers: Record<string, string> = {
    ...trace,
    'content-type': JSON_TYPE,
    accept: format === 'anthropic' ? JSON_TYPE : `${JSON_TYPE}, text/event-stream`,
    // undici asks for no encoding, which lets a server pick any (RFC 9110 §12.5.3); the gateway reads plain bytes.
    'accept-encoding': 'identity',
  };
  if (format === 'anthropic') {
    headers['x-api-key'] = key;
    headers['anthropic-version'] = first(client['anthropic-version']) ?? ANTHROPIC_VERSION;
    const beta = first(client['anthropic-beta']);
    if (beta) headers['anthropic-beta'] = beta;
  } else {
    headers.authorization = `Bearer ${key}`;
    const beta = first(client['openai-beta']);
    if (beta) headers['openai-beta'] = beta;
  }
  return headers;
}
