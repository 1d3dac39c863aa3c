import type { Provider } from '../../config/provider';

export interface Route {
  provider: Provider;
  /** The resolved upstream model: canonical, never provider-prefixed, may contain colons. */
  model: string;
  /** The model string exactly as the client sent it. */
  requested: string;
  /** The client named an alias: responses must show the name it asked for. */
  viaAlias: boolean;
}

const PROVIDER_LIKE = /^[A-Za-z][A-Za-z0-9_-]*$/;

export type RouteResult = { ok: true; route: Route } | { ok: false; status: 400 | 404; message: string };

/**
 * `provider:model` goes to that provider (split on the first colon; the rest may contain colons);
 * a bare name is looked up as an alias (case-insensitive), then sent to the default provider.
 */
export function routeModel(requested: string, providers: ReadonlyMap<string, Provider>, defaultProvider: string): RouteResult {
  const model = requested.trim();
  if (!model) return { ok: false, status: 400, message: 'model must be a non-empty string' };
  const colon = model.indexOf(':');
  if (colon > 0) {
    const provider = providers.get(model.slice(0, colon).toLowerCase());
    if (provider) {
      const rest = model.slice(colon + 1);
      if (!rest) return { ok: false, status: 400, message: `model "${requested}" names provider "${provider.name}" but no model` };
      const aliased = provider.aliases.get(rest.toLowerCase());
      return { ok: true, route: { provider, model: aliased ?? rest, requested, viaAlias: aliased !== undefined } };
    }
    // `name:model` with a name-like prefix that is not configured: a typo, not a model name.
    if (PROVIDER_LIKE.test(model.slice(0, colon))) {
      return { ok: false, status: 404, message: `Unknown provider "${model.slice(0, colon)}" in model "${requested}". Configured providers: ${describeProviders(providers)}` };
    }
  }
  for (const provider of orderedForAliases(providers, defaultProvider)) {
    const aliased = provider.aliases.get(model.toLowerCase());
    if (aliased) return { ok: true, route: { provider, model: aliased, requested, viaAlias: true } };
  }
  const fallback = providers.get(defaultProvider);
  if (!fallback) {
    return { ok: false, status: 404, message: `No provider for model "${requested}". Configured providers: ${describeProviders(providers)}` };
  }
  return { ok: true, route: { provider: fallback, model, requested, viaAlias: false } };
}

/** The default provider's aliases win over others'. */
function orderedForAliases(providers: ReadonlyMap<string, Provider>, defaultProvider: string): Provider[] {
  const first = providers.get(defaultProvider);
  return first ? [first, ...[...providers.values()].filter((p) => p !== first)] : [...providers.values()];
}

export function describeProviders(providers: ReadonlyMap<string, Provider>): string {
  if (providers.size === 0) return '(none)';
  return [...providers.values()]
    .map((p) => {
      const aliases = [...p.aliases.keys()];
      return aliases.length ? `${p.name} (aliases: ${aliases.join(', ')})` : p.name;
    })
    .join('; ');
}
