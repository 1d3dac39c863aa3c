import { describe, expect, it } from 'vitest';
import type { ClientApi } from '../core/api';
import { validateBody } from './request-body';

function codeOf(body: unknown, api: ClientApi = 'anthropic_messages'): unknown {
  try {
    validateBody(body, api);
  } catch (error) {
    return { code: (error as { code?: unknown }).code, status: (error as { statusCode?: unknown }).statusCode };
  }
  return 'accepted';
}

describe(validateBody.name, () => {
  it('refuses each bad body with its own code and a 400', () => {
    expect(codeOf([])).toEqual({ code: 'VDM_BODY_NOT_OBJECT', status: 400 });
    expect(codeOf({ model: ' ', messages: [] })).toEqual({ code: 'VDM_MODEL_REQUIRED', status: 400 });
    expect(codeOf({ model: 'm\u0000', messages: [] })).toEqual({ code: 'VDM_MODEL_NAME', status: 400 });
    expect(codeOf({ model: 'm' }, 'openai_chat')).toEqual({ code: 'VDM_MESSAGES_REQUIRED', status: 400 });
    expect(codeOf({ model: 'm', messages: [], stream: 'yes' })).toEqual({ code: 'VDM_STREAM_NOT_BOOLEAN', status: 400 });
    expect(codeOf({ model: 'm', input: 'x', background: true }, 'openai_responses')).toEqual({ code: 'VDM_BACKGROUND_UNSUPPORTED', status: 400 });
  });

  it('takes a good body, and a Responses body without messages', () => {
    expect(codeOf({ model: 'm', messages: [] })).toBe('accepted');
    expect(codeOf({ model: 'm', input: 'x', background: false }, 'openai_responses')).toBe('accepted');
  });
});
