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
  /** `{NAME}_ADMIN_KEY` and its companions: the provider's billing reports are reconciled against the gateway's accounting. */
  billing?: BillingSettings;
}

/** Where and how the gateway reads a provider's own usage and cost reports (its admin API). */
export interface BillingSettings {
  /** The report formats follow the provider's API format: OpenAI's organization usage API or Anthropic's Admin API. */
  format: ApiFormat;
  /** `{NAME}_ADMIN_KEY`: a configured secret, sent to `baseUrl` only. */
  adminKey: string;
  /** `{NAME}_BILLING_URL`, or the provider's well-known admin API base (`https://api.openai.com/v1`, `https://api.anthropic.com`), without a trailing slash. */
  baseUrl: string;
  /** `{NAME}_API_KEY_ID`: only the usage of this provider key is reported. */
  apiKeyId?: string;
}

export function speaks(provider: Provider, format: ApiFormat): boolean {
  return provider.baseUrls[format] !== undefined;
}
