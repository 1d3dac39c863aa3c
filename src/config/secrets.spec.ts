import { describe, expect, it } from 'vitest';
import { loadConfig } from './app-config';
import { configuredSecrets } from './secrets';

describe(configuredSecrets.name, () => {
  it('collects the gateway key, provider keys and base-URL userinfo', () => {
    const sut = loadConfig({
      PROXY_API_KEY: 'gateway-key-1234',
      OPENAI_API_KEY: 'sk-openai-5678',
      LOCAL_API_KEY: 'local-key-9012',
      LOCAL_BASE_URL: 'http://vdm-user:p%40ss-word@127.0.0.1:11434/v1',
    });
    expect(configuredSecrets(sut).sort()).toEqual(
      ['gateway-key-1234', 'sk-openai-5678', 'local-key-9012', 'vdm-user', 'p%40ss-word', 'p@ss-word'].sort(),
    );
  });

  it('leaves out !PASSTHRU (the client key is a per-request secret) and an unset gateway key', () => {
    const sut = loadConfig({ ANTHROPIC_API_KEY: '!PASSTHRU' });
    expect(configuredSecrets(sut)).toEqual([]);
  });
});
