import type { Glob } from '../../core/glob';

export interface ProviderModelFilter {
  provider?: Glob;
  model?: Glob;
}

/** The running-totals query: provider and model, and the client (a glob like them). */
export interface RunningTotalsFilter extends ProviderModelFilter {
  client?: Glob;
}

/** A model filter never excludes an entry that has no model (contract section 3). */
export function matchesFilter(filter: ProviderModelFilter, provider: string, model: string | undefined): boolean {
  if (filter.provider && !filter.provider.test(provider)) return false;
  if (filter.model && model !== undefined && !filter.model.test(model)) return false;
  return true;
}
