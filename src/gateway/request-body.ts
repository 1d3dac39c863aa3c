import { modelNameProblem } from '../core/bounded-text';
import { GatewayErrors } from '../core/errors';
import type { ClientApi } from '../core/api';
import type { ChatBody } from './exchange';

/** The checks a proxied body passes before it is routed; each failure is a 400 in the client's format. */
export function validateBody(body: unknown, api: ClientApi): ChatBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayErrors.VDM_BODY_NOT_OBJECT();
  }
  const b = body as Partial<ChatBody>;
  if (typeof b.model !== 'string' || b.model.trim() === '') throw new GatewayErrors.VDM_MODEL_REQUIRED();
  // Checked before routing: the name becomes a label, a bucket, a stored row and a live row.
  const problem = modelNameProblem(b.model);
  if (problem !== undefined) throw new GatewayErrors.VDM_MODEL_NAME(problem);
  const chat = api === 'anthropic_messages' || api === 'openai_chat';
  if (chat && !Array.isArray(b.messages)) throw new GatewayErrors.VDM_MESSAGES_REQUIRED();
  if (b.stream !== undefined && typeof b.stream !== 'boolean') throw new GatewayErrors.VDM_STREAM_NOT_BOOLEAN();
  // A background response is fetched later from /v1/responses/{id}, which the gateway does not serve, so it could not be accounted.
  // Only false or null go on: an upstream may read "true", 1 or any other value as true.
  const background = (b as { background?: unknown }).background;
  if (api === 'openai_responses' && background !== undefined && background !== null && background !== false) {
    throw new GatewayErrors.VDM_BACKGROUND_UNSUPPORTED();
  }
  return b as ChatBody;
}

