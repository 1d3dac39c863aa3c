import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('collects the plain keys of VDM_CLIENT_KEYS_FILE (a key_sha256 entry holds no key)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vdm-secrets-')), 'clients.yaml');
    writeFileSync(file, `clients:\n  - name: a\n    key: sk-client-key-a1\n  - name: b\n    key_sha256: ${'ab'.repeat(32)}\n`);
    expect(configuredSecrets(loadConfig({ VDM_CLIENT_KEYS_FILE: file }))).toEqual(['sk-client-key-a1']);
  });

  it('collects admin keys and the userinfo of billing URLs', () => {
    const sut = loadConfig({ OPENAI_API_KEY: 'sk-openai-5678', OPENAI_ADMIN_KEY: 'sk-admin-openai-1234', OPENAI_BILLING_URL: 'http://billing-user:billing-pass@127.0.0.1:9/v1', VDM_STORE: 'sqlite:/tmp/x.db' });
    expect(configuredSecrets(sut).sort()).toEqual(['billing-pass', 'billing-user', 'sk-admin-openai-1234', 'sk-openai-5678']);
  });
});
