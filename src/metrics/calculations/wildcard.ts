/** Case-insensitive glob with `*` and `?`; every other character is literal. */
export function compileGlob(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

export interface ProviderModelFilter {
  provider?: RegExp;
  model?: RegExp;
}

/** The running-totals query: provider and model, and the client (a glob like them). */
export interface RunningTotalsFilter extends ProviderModelFilter {
  client?: RegExp;
}

/** A model filter never excludes an entry that has no model (contract section 3). */
export function matchesFilter(filter: ProviderModelFilter, provider: string, model: string | undefined): boolean {
  if (filter.provider && !filter.provider.test(provider)) return false;
  if (filter.model && model !== undefined && !filter.model.test(model)) return false;
  return true;
}
