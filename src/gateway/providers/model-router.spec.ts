import { describe, expect, it } from 'vitest';
import { routeModel } from './model-router';
import type { Provider } from '../../config/provider';

function provider(name: string, aliases: Record<string, string> = {}): Provider {
  return { name, baseUrls: { openai: `https://${name}.test/v1` }, apiKey: 'k', aliases: new Map(Object.entries(aliases)) };
}

const providers = new Map([
  ['openai', provider('openai', { fast: 'gpt-4o-mini' })],
  ['openrouter', provider('openrouter', { coder: 'kwaipilot/kat-coder-pro:free' })],
]);

describe(routeModel.name, () => {
  it('routes provider:model on the first colon only', () => {
    const sut = routeModel('openrouter:anthropic/claude-3-5-sonnet:context-flash', providers, 'openai');
    expect(sut).toMatchObject({ ok: true, route: { model: 'anthropic/claude-3-5-sonnet:context-flash', viaAlias: false } });
    expect(sut.ok && sut.route.provider.name).toBe('openrouter');
  });

  it('resolves aliases case-insensitively, bare or provider-prefixed', () => {
    expect(routeModel('FAST', providers, 'openai')).toMatchObject({ ok: true, route: { model: 'gpt-4o-mini', requested: 'FAST', viaAlias: true } });
    const prefixed = routeModel('openrouter:Coder', providers, 'openai');
    expect(prefixed).toMatchObject({ ok: true, route: { model: 'kwaipilot/kat-coder-pro:free', viaAlias: true } });
  });

  it('sends an unknown bare name to the default provider as it is', () => {
    const sut = routeModel('gpt-4.1', providers, 'openai');
    expect(sut.ok && [sut.route.provider.name, sut.route.model]).toEqual(['openai', 'gpt-4.1']);
  });

  it('keeps a bare model whose prefix is not provider-like (a slash or a dot)', () => {
    const sut = routeModel('anthropic/claude-3-5-sonnet:free', providers, 'openrouter');
    expect(sut.ok && sut.route.model).toBe('anthropic/claude-3-5-sonnet:free');
  });

  it('refuses an unknown provider prefix, listing what is configured', () => {
    const sut = routeModel('nosuch:gpt-4o', providers, 'openai');
    expect(sut).toMatchObject({ ok: false, status: 404 });
    expect(!sut.ok && sut.message).toContain('openai (aliases: fast); openrouter (aliases: coder)');
  });

  it('refuses an empty model after the prefix', () => {
    expect(routeModel('openai:', providers, 'openai')).toMatchObject({ ok: false, status: 400 });
  });
});
