import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calcPrice, findProvider, type ModelPrice, type TieredPrices } from '@pydantic/genai-prices';
import { DEMO_PROVIDER } from '../../config/providers';
import type { Provider } from '../../config/provider';
import { picoPerToken, type Price, type PriceLevel } from './price';

export const CATALOG_NAME = '@pydantic/genai-prices';

/** The bundled catalog's version (its package version): the gateway runs offline and never fetches prices. */
export const CATALOG_VERSION: string = (
  JSON.parse(readFileSync(join(dirname(require.resolve(CATALOG_NAME)), '..', 'package.json'), 'utf8')) as { version: string }
).version;

/** The demo provider's models, priced as the models they imitate. */
const DEMO_MODELS: Record<string, [catalogProvider: string, model: string]> = {
  'demo-haiku': ['anthropic', 'claude-haiku-4-5'],
  'demo-sonnet': ['anthropic', 'claude-sonnet-4-5'],
  'demo-opus': ['anthropic', 'claude-opus-4-5'],
  'gpt-demo': ['openai', 'gpt-4o'],
};

/** Which catalog provider prices a gateway provider: `{NAME}_PRICING`, else its base URL host, else its name. */
export function catalogProviderOf(provider: Provider | undefined, name: string): string | undefined {
  if (provider?.pricing !== undefined) return provider.pricing === 'none' ? undefined : provider.pricing;
  for (const url of Object.values(provider?.baseUrls ?? {})) {
    const found = findProvider({ providerApiUrl: url });
    if (found) return found.id;
  }
  return findProvider({ providerId: name })?.id;
}

export interface CatalogMatch {
  catalogProvider: string;
  catalogModel: string;
  price: Price;
}

type Rate = number | TieredPrices | undefined;

function rateAt(rate: Rate, prompt: number): number | undefined {
  if (rate === undefined || typeof rate === 'number') return rate;
  let value = rate.base;
  for (const tier of rate.tiers) if (prompt > tier.start) value = tier.price;
  return value;
}

/**
 * The catalog's prices as levels. The catalog's `input_tokens` includes cache tokens and a cache
 * kind it has no price for is charged as input; with our split, that is each kind at its own rate,
 * falling back to input (cache reads and writes) and to the 5-minute write (1-hour writes).
 */
export function levelsOf(prices: ModelPrice): Price {
  const starts = new Set<number>([-1]);
  for (const rate of Object.values(prices)) {
    if (rate !== undefined && typeof rate !== 'number') for (const tier of rate.tiers) starts.add(tier.start);
  }
  const levels: PriceLevel[] = [...starts]
    .sort((a, b) => a - b)
    .map((start) => {
      const at = start + 1;
      const input = rateAt(prices.input_mtok, at) ?? 0;
      const cacheWrite = rateAt(prices.cache_write_mtok, at) ?? input;
      return {
        start,
        input: picoPerToken(input),
        output: picoPerToken(rateAt(prices.output_mtok, at) ?? 0),
        cacheRead: picoPerToken(rateAt(prices.cache_read_mtok, at) ?? input),
        cacheWrite: picoPerToken(cacheWrite),
        cacheWrite1h: picoPerToken(rateAt(prices.cache_write_1h_mtok, at) ?? cacheWrite),
      };
    });
  const perThousand = rateAt(prices.web_searches_kcount, 0) ?? 0;
  return { levels, webSearch: Math.round(perThousand * 1e9) };
}

/** The catalog's price of a model at a gateway provider, or undefined when the catalog has none. */
export function catalogPrice(provider: Provider | undefined, name: string, model: string, at: Date): CatalogMatch | undefined {
  // The demo answers any model name: its own at the prices they imitate, a real one at that model's.
  const [catalogProvider, catalogModel] =
    name === DEMO_PROVIDER ? (DEMO_MODELS[model] ?? [findProvider({ modelId: model })?.id, model]) : [catalogProviderOf(provider, name), model];
  if (catalogProvider === undefined || catalogModel === undefined) return undefined;
  const found = calcPrice({ input_tokens: 0, output_tokens: 0 }, catalogModel, { providerId: catalogProvider, timestamp: at });
  if (!found || (found.model_price.input_mtok === undefined && found.model_price.output_mtok === undefined)) return undefined;
  return { catalogProvider: found.provider.id, catalogModel: found.model.id, price: levelsOf(found.model_price) };
}
