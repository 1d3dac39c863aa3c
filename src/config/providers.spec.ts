import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error';
import { loadProviders } from './providers';

describe(loadProviders.name, () => {
  it('uses the demo provider when none is configured', () => {
    expect(loadProviders({})).toMatchObject({ usesDemo: true, defaultProvider: 'demo' });
  });

  it('makes one provider per {NAME}_API_KEY with defaults for well-known names', () => {
    const sut = loadProviders({ OPENAI_API_KEY: 'k1', ANTHROPIC_API_KEY: 'k2', PROXY_API_KEY: 'not-a-provider' });
    expect([...sut.providers.keys()].sort()).toEqual(['anthropic', 'openai']);
    expect(sut.providers.get('anthropic')!.baseUrls).toEqual({ anthropic: 'https://api.anthropic.com' });
    expect(sut.providers.get('openai')!.baseUrls).toEqual({ openai: 'https://api.openai.com/v1' });
    expect(sut.defaultProvider).toBe('openai');
  });

  it('reads base URL, format and aliases; names may contain underscores', () => {
    const sut = loadProviders({
      AZURE_OPENAI_API_KEY: 'k',
      AZURE_OPENAI_BASE_URL: 'https://example.test/openai/v1/',
      AZURE_OPENAI_ALIAS_FAST: 'gpt-4o-mini',
      OLLAMA_API_KEY: 'x',
      OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1',
      OLLAMA_API_FORMAT: 'OpenAI',
      OLLAMA_ALIAS_SMALL_ONE: 'llama3:8b',
    }, 'ollama');
    expect(sut.providers.get('azure_openai')).toMatchObject({ baseUrls: { openai: 'https://example.test/openai/v1' } });
    expect(sut.providers.get('azure_openai')!.aliases.get('fast')).toBe('gpt-4o-mini');
    expect(sut.providers.get('ollama')!.aliases.get('small_one')).toBe('llama3:8b');
    expect(sut.defaultProvider).toBe('ollama');
  });

  it('forwards the client key only for a provider configured for it', () => {
    const sut = loadProviders({ OPENAI_API_KEY: '!PASSTHRU', ANTHROPIC_API_KEY: 'mine' });
    expect(sut.providers.get('openai')!.apiKey).toBeUndefined();
    expect(sut.providers.get('anthropic')!.apiKey).toBe('mine');
  });

  it.each([
    [{ GROQ_API_KEY: 'k', GROQ_API_FORMAT: 'openai' }, 'GROQ_BASE_URL must be set'],
    [{ X_API_KEY: 'k', X_BASE_URL: 'ftp://nope' }, 'X_BASE_URL="ftp://nope" must be an http(s) URL'],
    [{ OPENAI_API_KEY: 'k', OPENAI_API_FORMAT: 'grpc' }, 'OPENAI_API_FORMAT="grpc" must be one of anthropic, openai'],
  ])('rejects %o naming the variable', (env, message) => {
    expect(() => loadProviders(env)).toThrow(ConfigError);
    expect(() => loadProviders(env)).toThrow(message);
  });

  it('skips a {NAME}_API_KEY that nothing else makes a provider, with one line saying what would', () => {
    const sut = loadProviders({ PINECONE_API_KEY: 'k', PINECONE_ALIAS_X: 'y', OPENAI_API_KEY: 'k' });
    expect([...sut.providers.keys()]).toEqual(['openai']);
    expect(sut.skipped).toEqual([
      'Ignoring PINECONE_API_KEY: it makes no provider by itself; set PINECONE_BASE_URL (and PINECONE_API_FORMAT=openai or anthropic) to use "pinecone" as one',
    ]);
    expect(loadProviders({ GROQ_API_KEY: 'k' })).toMatchObject({ usesDemo: true, skipped: [expect.stringContaining('GROQ_BASE_URL')] });
  });

  it('rejects a default provider that is not configured', () => {
    expect(() => loadProviders({ OPENAI_API_KEY: 'k' }, 'anthropic')).toThrow('VDM_DEFAULT_PROVIDER="anthropic" must name a configured provider (openai)');
  });
});
