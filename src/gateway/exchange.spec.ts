import { describe, expect, it } from 'vitest';
import type { Provider } from '../config/provider';
import type { ClientApi } from '../core/api';
import { chooseExchange } from './exchange';

const anthropicOnly: Provider = { name: 'claude', baseUrls: { anthropic: 'http://127.0.0.1:9' }, aliases: new Map() };
const openaiOnly: Provider = { name: 'oai', baseUrls: { openai: 'http://127.0.0.1:9/v1' }, aliases: new Map() };

function chosen(api: ClientApi, provider: Provider): unknown {
  try {
    return chooseExchange(api, { model: 'm', messages: [] }, { provider, model: 'm', requested: 'm', viaAlias: false }).upstreamFormat;
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
}

describe(chooseExchange.name, () => {
  it('takes the client API in its own format first, and converts Anthropic Messages to an OpenAI-format provider', () => {
    expect(chosen('anthropic_messages', anthropicOnly)).toBe('anthropic');
    expect(chosen('anthropic_messages', openaiOnly)).toBe('openai');
    expect(chosen('openai_chat', openaiOnly)).toBe('openai');
  });

  it('refuses an OpenAI API on an Anthropic-format provider with a code', () => {
    expect(chosen('openai_chat', anthropicOnly)).toEqual({
      code: 'VDM_API_NOT_SPOKEN',
      message: 'Provider "claude" speaks the Anthropic Messages API; send this request to /v1/messages',
    });
    expect(chosen('openai_embeddings', anthropicOnly)).toEqual({
      code: 'VDM_CONVERSION_UNSUPPORTED',
      message: 'Provider "claude" speaks the Anthropic Messages API; conversion of embeddings to it is not supported yet: send this request to an openai-format provider',
    });
  });
});
