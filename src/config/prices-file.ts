import { STANDARD_SERVICE_TIERS } from '../core/usage';
import { isRecord } from '../core/json';
import { readYamlFile } from './yaml-file';

/** One entry of VDM_PRICES_FILE: USD per million tokens for the gateway providers and models its globs match. */
export interface PriceOverride {
  /** Position in the file's `prices` list, for `GET /metrics/prices`. */
  entry: number;
  provider: string;
  model: string;
  /**
   * A name or glob of the non-standard service tiers this entry prices (`flex`, `priority`, ...).
   * Without one, the entry prices the standard tier only: a flex or priority request never falls
   * back to it.
   */
  serviceTier?: string;
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  cacheWrite1h?: number;
}

export interface PricesFile {
  path: string;
  overrides: PriceOverride[];
}

const REQUIRED_PRICES = ['input', 'output'] as const;
const OPTIONAL_PRICES = { cache_read: 'cacheRead', cache_write: 'cacheWrite', cache_write_1h: 'cacheWrite1h' } as const;
const KNOWN = new Set(['provider', 'model', 'service_tier', ...REQUIRED_PRICES, ...Object.keys(OPTIONAL_PRICES)]);


/** Reads and validates the prices file; a ConfigError names the file, the entry and the field. */
export function loadPricesFile(path: string): PricesFile {
  const { doc, fail } = readYamlFile('VDM_PRICES_FILE', path);
  if (!isRecord(doc) || !Array.isArray(doc.prices)) return fail('the file', 'must hold a `prices:` list');
  const overrides = (doc.prices as unknown[]).map((raw, i): PriceOverride => {
    const at = `prices[${i}]`;
    if (!isRecord(raw)) return fail(at, 'must be a map with provider, model, input and output');
    for (const key of Object.keys(raw)) {
      if (!KNOWN.has(key)) fail(`${at}.${key}`, `is not a known field (${[...KNOWN].join(', ')})`);
    }
    const glob = (field: 'provider' | 'model' | 'service_tier'): string => {
      const value = raw[field];
      return typeof value === 'string' && value.trim() !== '' ? value.trim() : fail(`${at}.${field}`, 'must be a name or glob (a non-empty string)');
    };
    const serviceTier = (): string | undefined => {
      if (raw.service_tier === undefined) return undefined;
      const tier = glob('service_tier').toLowerCase();
      return STANDARD_SERVICE_TIERS.has(tier)
        ? fail(`${at}.service_tier`, `is ${JSON.stringify(tier)}, a standard tier: an entry without service_tier prices the standard tier`)
        : tier;
    };
    const price = (field: string, required: boolean): number | undefined => {
      const value = raw[field];
      if (value === undefined && !required) return undefined;
      return typeof value === 'number' && Number.isFinite(value) && value >= 0
        ? value
        : fail(`${at}.${field}`, `must be a number >= 0 (USD per million tokens), got ${JSON.stringify(value) ?? 'nothing'}`);
    };
    const entry: PriceOverride = { entry: i, provider: glob('provider'), model: glob('model'), input: price('input', true)!, output: price('output', true)! };
    const tier = serviceTier();
    if (tier !== undefined) entry.serviceTier = tier;
    for (const [wire, name] of Object.entries(OPTIONAL_PRICES)) {
      const value = price(wire, false);
      if (value !== undefined) entry[name] = value;
    }
    return entry;
  });
  return { path, overrides };
}
