import { Logger } from '@nestjs/common';
import type { PriceOverride, PricesFile } from '../../config/prices-file';
import type { ProviderSettings } from '../../config/providers';
import { compileGlob } from '../calculations/wildcard';
import { CATALOG_NAME, CATALOG_VERSION, catalogPrice } from './catalog';
import { picoPerToken, type Price } from './price';

export type PriceSource =
  | { kind: 'catalog'; catalog: string; version: string; catalogProvider: string; catalogModel: string }
  | { kind: 'override'; file: string; entry: number };

/** The price of one provider/model, or none known (`price` undefined: the request is unpriced). */
export interface ResolvedPrice {
  provider: string;
  model: string;
  price?: Price;
  source?: PriceSource;
}

/** Distinct provider/model prices kept; past this (invented model names) the oldest is forgotten and resolved again if seen. */
export const PRICE_CACHE_LIMIT = 4096;

interface CompiledOverride {
  provider: RegExp;
  model: RegExp;
  override: PriceOverride;
  price: Price;
}

function overridePrice(o: PriceOverride): Price {
  const input = picoPerToken(o.input);
  const cacheWrite = o.cacheWrite === undefined ? input : picoPerToken(o.cacheWrite);
  return {
    levels: [
      {
        start: -1,
        input,
        output: picoPerToken(o.output),
        cacheRead: o.cacheRead === undefined ? input : picoPerToken(o.cacheRead),
        cacheWrite,
        cacheWrite1h: o.cacheWrite1h === undefined ? cacheWrite : picoPerToken(o.cacheWrite1h),
      },
    ],
    webSearch: 0,
  };
}

/**
 * Which price applies to a provider/model: the first matching VDM_PRICES_FILE entry, else the
 * bundled catalog. Resolved once per provider/model and cached (the catalog's own lookup scans
 * its model list); an unknown price is logged once, not per request.
 */
export class PriceBook {
  private readonly logger = new Logger('Pricing');
  private readonly cache = new Map<string, ResolvedPrice>();
  /** The same entries by provider, then model: the per-request lookup joins no strings. */
  private readonly index = new Map<string, Map<string, ResolvedPrice>>();
  private readonly overrides: CompiledOverride[];

  constructor(
    private readonly providers: ProviderSettings,
    private readonly file?: PricesFile,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.overrides = (file?.overrides ?? []).map((o) => ({ provider: compileGlob(o.provider), model: compileGlob(o.model), override: o, price: overridePrice(o) }));
  }

  resolve(provider: string, model: string): ResolvedPrice {
    let found = this.index.get(provider)?.get(model);
    if (found === undefined) {
      found = this.lookup(provider, model);
      if (this.cache.size >= PRICE_CACHE_LIMIT) {
        const oldest = this.cache.values().next().value!;
        this.cache.delete(`${oldest.provider}\u0000${oldest.model}`);
        this.index.get(oldest.provider)?.delete(oldest.model);
      }
      this.cache.set(`${provider}\u0000${model}`, found);
      let models = this.index.get(provider);
      if (models === undefined) {
        models = new Map();
        this.index.set(provider, models);
      }
      models.set(model, found);
      if (found.price === undefined) {
        this.logger.warn(`No price known for provider=${provider} model=${model}: its requests count as unpriced (cost_usd null); add it to VDM_PRICES_FILE or set ${provider.toUpperCase()}_PRICING`);
      }
    }
    return found;
  }

  /** The price that would apply, for a query: neither cached nor logged, so queries cannot evict or spam. */
  peek(provider: string, model: string): ResolvedPrice {
    return this.cache.get(`${provider}\u0000${model}`) ?? this.lookup(provider, model);
  }

  /** Every provider/model resolved so far (by requests), in first-seen order. */
  known(): Iterable<ResolvedPrice> {
    return this.cache.values();
  }

  private lookup(provider: string, model: string): ResolvedPrice {
    for (const o of this.overrides) {
      if (o.provider.test(provider) && o.model.test(model)) {
        return { provider, model, price: o.price, source: { kind: 'override', file: this.file!.path, entry: o.override.entry } };
      }
    }
    let match: ReturnType<typeof catalogPrice>;
    try {
      match = catalogPrice(this.providers.providers.get(provider), provider, model, this.now());
    } catch (error) {
      this.logger.warn(`The price catalog failed on provider=${provider} model=${model}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (match === undefined) return { provider, model };
    return {
      provider,
      model,
      price: match.price,
      source: { kind: 'catalog', catalog: CATALOG_NAME, version: CATALOG_VERSION, catalogProvider: match.catalogProvider, catalogModel: match.catalogModel },
    };
  }
}
