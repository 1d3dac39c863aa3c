import type { Glob } from '../../core/glob';

export interface ProviderModelFilter {
  provider?: Glob;
  model?: Glob;
}

/** The running-totals query: provider and model, and the client (a glob like them). */
export interface RunningTotalsFilter extends ProviderModelFilter {
  client?: Glob;
  /** The one client a client key may read (exact name), beside any `client` glob. */
  ownClient?: string;
}

/** Whether a client's share passes the filter's `client` glob and its own-client scope; undefined when neither is set. */
export function clientPredicate(filter: RunningTotalsFilter): ((client: string) => boolean) | undefined {
  const { client: glob, ownClient } = filter;
  if (glob === undefined && ownClient === undefined) return undefined;
  return (client) => (ownClient === undefined || client === ownClient) && (glob === undefined || glob.test(client));
}

/** A model filter never excludes an entry that has no model (contract section 3). */
export function matchesFilter(filter: ProviderModelFilter, provider: string, model: string | undefined): boolean {
  if (filter.provider && !filter.provider.test(provider)) return false;
  if (filter.model && model !== undefined && !filter.model.test(model)) return false;
  return true;
}
