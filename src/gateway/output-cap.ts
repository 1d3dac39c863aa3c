import type { ClientApi } from '../core/api';
import type { Exchange } from './exchange';

const isCap = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * The output cap the client set (contract section 15): `max_tokens`, `max_completion_tokens` or
 * `max_output_tokens` by API; undefined for none. A field the client set to something else is no
 * cap the gateway can count on, but it is the client's: it is left as it is, and reserved as none.
 */
export function outputCapOf(api: ClientApi, body: Record<string, unknown>): number | undefined {
  switch (api) {
    case 'anthropic_messages':
      return isCap(body.max_tokens) ? body.max_tokens : undefined;
    case 'openai_chat':
      return isCap(body.max_completion_tokens) ? body.max_completion_tokens : isCap(body.max_tokens) ? body.max_tokens : undefined;
    case 'openai_responses':
      return isCap(body.max_output_tokens) ? body.max_output_tokens : undefined;
    case 'openai_embeddings':
      return 0;
  }
}

/** Whether the client named an output cap field at all (set to anything). */
function namesCap(api: ClientApi, body: Record<string, unknown>): boolean {
  if (api === 'openai_chat') return body.max_completion_tokens !== undefined || body.max_tokens !== undefined;
  if (api === 'openai_responses') return body.max_output_tokens !== undefined;
  return body.max_tokens !== undefined;
}

/** Sets the gateway's output cap in the upstream request, in the field the upstream reads; a client's own field is never replaced. */
export function capOutput(api: ClientApi, body: Record<string, unknown>, exchange: Exchange, cap: number): void {
  if (api === 'openai_embeddings' || namesCap(api, body)) return;
  const upstream = exchange.upstreamBody as Record<string, unknown>;
  if (exchange.upstreamFormat === 'anthropic') upstream.max_tokens = cap;
  else if (api === 'openai_responses') upstream.max_output_tokens = cap;
  // Anthropic converted to Chat Completions carries its cap as max_tokens; OpenAI's own clients use the newer name.
  else if (api === 'anthropic_messages') upstream.max_tokens = cap;
  else upstream.max_completion_tokens = cap;
}
