/** The client APIs the gateway serves and the wire formats they speak. */

/** The client APIs whose requests are accounted (contract section 1, `api`). */
export type ClientApi = 'anthropic_messages' | 'openai_chat' | 'openai_responses' | 'openai_embeddings';

const CLIENT_APIS: Readonly<Record<ClientApi, true>> = { anthropic_messages: true, openai_chat: true, openai_responses: true, openai_embeddings: true };

export function isClientApi(value: string): value is ClientApi {
  return Object.hasOwn(CLIENT_APIS, value);
}

/** The wire formats, spoken by clients and by providers (a provider's base URL is one of them). */
export type ApiFormat = 'anthropic' | 'openai';
export const API_FORMATS: readonly ApiFormat[] = ['anthropic', 'openai'];

/** The wire format of a client API: its bodies, its error bodies and its stream events. */
export function formatOfApi(api: ClientApi): ApiFormat {
  return api === 'anthropic_messages' ? 'anthropic' : 'openai';
}
