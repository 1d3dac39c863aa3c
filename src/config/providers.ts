import { findProvider } from '@pydantic/genai-prices';
import { ConfigError } from './config-error';
import { API_FORMATS, type ApiFormat } from '../core/api';
import { PASSTHROUGH_KEY, type Provider } from './provider';

/** Well-known base URLs, used when `{NAME}_BASE_URL` is not set. */
export const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  openrouter: 'https://openrouter.ai/api/v1',
};

export const DEMO_PROVIDER = 'demo';

/** The admin API base URLs of the two report formats, used when `{NAME}_BILLING_URL` is not set. */
export const DEFAULT_BILLING_URLS: Record<ApiFormat, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

export interface ProviderSettings {
  providers: Map<string, Provider>;
  defaultProvider: string;
  /** No provider configured: the built-in demo upstream serves everything. */
  usesDemo: boolean;
  /** `{NAME}_API_KEY` variables that configure no provider, one line each, to be logged at start-up. */
  skipped: string[];
}

const KEY_VAR = /^([A-Z][A-Z0-9_]*)_API_KEY$/;
const RESERVED = new Set(['PROXY']);

/**
 * Providers from the environment: one per `{NAME}_API_KEY`, with `{NAME}_BASE_URL`,
 * `{NAME}_API_FORMAT` and `{NAME}_ALIAS_{ALIAS}`. Throws a ConfigError naming every bad variable.
 */
export function loadProviders(env: Readonly<Record<string, string | undefined>>, defaultProvider?: string): ProviderSettings {
  const problems: string[] = [];
  const providers = new Map<string, Provider>();
  const skipped: string[] = [];
  const names = Object.keys(env)
    .map((k) => KEY_VAR.exec(k)?.[1])
    .filter((n): n is string => n !== undefined && !RESERVED.has(n) && (env[`${n}_API_KEY`] ?? '') !== '')
    .filter((n) => {
      // A key of some other service (PINECONE_API_KEY): no base URL is known and nothing else names it a provider.
      const set = (v: string): boolean => (env[`${n}_${v}`]?.trim() ?? '') !== '';
      if (DEFAULT_BASE_URLS[n.toLowerCase()] !== undefined || set('BASE_URL') || set('API_FORMAT')) return true;
      skipped.push(`Ignoring ${n}_API_KEY: it makes no provider by itself; set ${n}_BASE_URL (and ${n}_API_FORMAT=openai or anthropic) to use "${n.toLowerCase()}" as one`);
      return false;
    })
    .sort((a, b) => b.length - a.length);

  for (const upper of names) {
    const name = upper.toLowerCase();
    const formatVar = `${upper}_API_FORMAT`;
    const rawFormat = env[formatVar]?.trim().toLowerCase();
    let format: ApiFormat = name === 'anthropic' ? 'anthropic' : 'openai';
    if (rawFormat) {
      if ((API_FORMATS as readonly string[]).includes(rawFormat)) format = rawFormat as ApiFormat;
      else problems.push(`Invalid configuration: ${formatVar}=${JSON.stringify(env[formatVar])} must be one of ${API_FORMATS.join(', ')}`);
    }
    const baseVar = `${upper}_BASE_URL`;
    const baseUrl = (env[baseVar]?.trim() || DEFAULT_BASE_URLS[name] || '').replace(/\/+$/, '');
    if (!baseUrl) {
      problems.push(`Invalid configuration: ${baseVar} must be set for provider "${name}" (an http(s) URL)`);
    } else if (!/^https?:\/\/[^/\s]+/i.test(baseUrl)) {
      problems.push(`Invalid configuration: ${baseVar}=${JSON.stringify(env[baseVar])} must be an http(s) URL`);
    }
    const pricingVar = `${upper}_PRICING`;
    const pricing = env[pricingVar]?.trim().toLowerCase() || undefined;
    if (pricing !== undefined && pricing !== 'none' && findProvider({ providerId: pricing }) === undefined) {
      problems.push(`Invalid configuration: ${pricingVar}=${JSON.stringify(env[pricingVar])} must be a price catalog provider id (openai, anthropic, openrouter, google, ...) or none`);
    }
    const key = env[`${upper}_API_KEY`] ?? '';
    providers.set(name, {
      name,
      baseUrls: { [format]: baseUrl },
      apiKey: key === PASSTHROUGH_KEY ? undefined : key,
      aliases: new Map(),
      pricing,
      billing: billingSettings(env, upper, format, problems),
    });
  }
  for (const variable of Object.keys(env)) {
    const owner = ADMIN_KEY_VAR.exec(variable)?.[1];
    if (owner !== undefined && (env[variable] ?? '') !== '' && !names.includes(owner)) {
      skipped.push(`Ignoring ${variable}: no provider ${owner.toLowerCase()} is configured (set ${owner}_API_KEY to reconcile its billing)`);
    }
  }

  // Aliases: match the longest provider name first, as names may contain underscores.
  for (const [variable, value] of Object.entries(env)) {
    const m = /^([A-Z][A-Z0-9_]*?)_ALIAS_([A-Z0-9_.-]+)$/i.exec(variable);
    if (!m || !value) continue;
    const owner = names.find((n) => variable.startsWith(`${n}_ALIAS_`));
    if (!owner) continue;
    const alias = variable.slice(owner.length + '_ALIAS_'.length).toLowerCase();
    (providers.get(owner.toLowerCase())!.aliases as Map<string, string>).set(alias, value.trim());
  }

  if (problems.length > 0) throw new ConfigError(problems);

  if (providers.size === 0) {
    if (defaultProvider !== undefined && defaultProvider !== DEMO_PROVIDER) {
      throw new ConfigError([
        `Invalid configuration: VDM_DEFAULT_PROVIDER=${JSON.stringify(defaultProvider)} must name a configured provider (${DEMO_PROVIDER}: no provider is configured)`,
      ]);
    }
    return { providers, defaultProvider: DEMO_PROVIDER, usesDemo: true, skipped };
  }
  const chosen = defaultProvider ?? (providers.has('openai') ? 'openai' : [...providers.keys()].sort()[0]);
  if (!providers.has(chosen)) {
    throw new ConfigError([
      `Invalid configuration: VDM_DEFAULT_PROVIDER=${JSON.stringify(defaultProvider)} must name a configured provider (${[...providers.keys()].sort().join(', ')})`,
    ]);
  }
  return { providers, defaultProvider: chosen, usesDemo: false, skipped };
}

const ADMIN_KEY_VAR = /^([A-Z][A-Z0-9_]*)_ADMIN_KEY$/;

/** `{NAME}_ADMIN_KEY`, `{NAME}_BILLING_URL` and `{NAME}_API_KEY_ID` of one provider; undefined without an admin key. */
function billingSettings(env: Readonly<Record<string, string | undefined>>, upper: string, format: ApiFormat, problems: string[]): Provider['billing'] {
  const adminKey = env[`${upper}_ADMIN_KEY`]?.trim() ?? '';
  const urlVar = `${upper}_BILLING_URL`;
  const idVar = `${upper}_API_KEY_ID`;
  if (adminKey === '') {
    for (const v of [urlVar, idVar]) if ((env[v]?.trim() ?? '') !== '') problems.push(`Invalid configuration: ${v} is set but ${upper}_ADMIN_KEY is not; reconciliation needs the provider's admin key`);
    return undefined;
  }
  const baseUrl = (env[urlVar]?.trim() || DEFAULT_BILLING_URLS[format]).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/i.test(baseUrl)) problems.push(`Invalid configuration: ${urlVar}=${JSON.stringify(env[urlVar])} must be an http(s) URL`);
  const apiKeyId = env[idVar]?.trim() || undefined;
  if (apiKeyId !== undefined && !/^[A-Za-z0-9_-]{1,200}$/.test(apiKeyId)) problems.push(`Invalid configuration: ${idVar} must be the provider's API key id (letters, digits, _ and -), e.g. key_abc123 or apikey_01Rj2N8SVvo6BePZj99NhmiT`);
  return { format, adminKey, baseUrl, apiKeyId };
}

/** The demo provider, once its loopback upstream is listening. */
export function demoProvider(origin: string): Provider {
  return {
    name: DEMO_PROVIDER,
    baseUrls: { anthropic: origin, openai: `${origin}/v1` },
    apiKey: 'demo',
    demo: true,
    aliases: new Map([
      ['haiku', 'demo-haiku'],
      ['sonnet', 'demo-sonnet'],
      ['opus', 'demo-opus'],
    ]),
  };
}
