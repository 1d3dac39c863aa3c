import type { ApiFormat } from '../core/api';

/** Special value of `{NAME}_API_KEY`: forward the client's own key to this provider. */
export const PASSTHROUGH_KEY = '!PASSTHRU';

export interface Provider {
  /** Lower-cased `{NAME}`. */
  name: string;
  /**
   * Base URL per format it speaks natively (one for configured providers, both for the demo):
   * Anthropic-style without `/v1`, OpenAI-style with it, as the official SDKs take them.
   */
  baseUrls: Partial<Record<ApiFormat, string>>;
  /** Undefined for the client's own key (PASSTHROUGH_KEY). */
  apiKey?: string;
  /** Lower-cased alias -> upstream model. */
  aliases: ReadonlyMap<string, string>;
  demo?: boolean;
  /** `{NAME}_PRICING`: the catalog provider id that prices it, or `none`; unset: inferred from the base URL and name. */
  pricing?: string;
}

export function speaks(provider: Provider, format: ApiFormat): boolean {
  return provider.baseUrls[format] !== undefined;
}
