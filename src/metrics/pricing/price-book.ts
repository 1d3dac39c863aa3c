import { Logger } from '@nestjs/common';
import type { PriceOverride, PricesFile } from '../../config/prices-file';
import { Glob } from '../../core/glob';
import { isStandardServiceTier } from '../../core/usage';
import type { ProviderSettings } from '../../config/providers';
import { CATALOG_NAME, CATALOG_VERSION, catalogPrice } from './catalog';
import { OverrideIndex } from './override-index';
import { picoPerToken, type Price } from './price';

export type PriceSource =
  | { kind: 'catalog'; catalog: string; version: string; catalogProvider: string; catalogModel: string }
  | { kind: 'override'; file: string; entry: number };

/** The price of one provider/model, or none known (`price` undefined: the request is unpriced). */
export interface ResolvedPrice {
  provider: string;
  model: string;
  /** The non-standard service tier this is the price of; undefined for the standard tier. */
  serviceTier?: string;
  price?: Price;
  source?: PriceSource;
  /**
   * The price of a request the upstream served at `tier`: this one for a standard tier, else that
   * tier's own, resolved on first use and kept with this price (so once per provider/model/tier).
   */
  readonly atTier: (tier: string) => ResolvedPrice;
}

/** Distinct provider/model prices kept; past this (invented model names) the oldest is forgotten and resolved again if seen. */
export const PRICE_CACHE_LIMIT = 4096;
/** Distinct non-standard tiers kept per provider/model; real upstreams report a handful. */
export const TIER_CACHE_LIMIT = 16;

interface CompiledOverride {
  entry: number;
  provider: Glob;
  model: Glob;
  /** Entries with a service tier price only the non-standard tiers it matches; the others only the standard tier. */
  serviceTier?: Glob;
  override: PriceOverride;
  price: Price;
}

/** What a price is, without its tier lookup (what `GET /metrics/prices` shows). */
export type PriceFacts = Omit<ResolvedPrice, 'atTier'>;

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
 * its model list); an unknown price is logged once, not per request. A non-standard service tier
 * (flex, priority) is priced only by an entry naming it: the catalog has no tier prices, and the
 * standard rate would be a wrong figure, so without one the request is unpriced.
 */
export class PriceBook {
  private readonly logger = new Logger('Pricing');
  /** Resolved prices by provider, then model: the per-request lookup joins no strings. */
  private readonly index = new Map<string, Map<string, ResolvedPrice>>();
  /** The same entries in first-seen order, for eviction and `known()`. */
  private readonly seen = new Set<ResolvedPrice>();
  private readonly overrides: OverrideIndex<CompiledOverride>;

  constructor(
    private readonly providers: ProviderSettings,
    private readonly file?: PricesFile,
    private readonly now: () => Date = () => new Date(),
  ) {
    const compiled = (file?.overrides ?? []).map((o) => ({
      entry: o.entry,
      provider: new Glob(o.provider),
      model: new Glob(o.model),
      serviceTier: o.serviceTier === undefined ? undefined : new Glob(o.serviceTier),
      override: o,
      price: overridePrice(o),
    }));
    this.overrides = new OverrideIndex(compiled);
  }

  resolve(provider: string, model: string): ResolvedPrice {
    let found = this.index.get(provider)?.get(model);
    if (found === undefined) {
      found = this.withTiers(this.lookup(provider, model));
      if (this.seen.size >= PRICE_CACHE_LIMIT) {
        const oldest = this.seen.values().next().value!;
        this.seen.delete(oldest);
        this.index.get(oldest.provider)?.delete(oldest.model);
      }
      this.seen.add(found);
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
    return this.index.get(provider)?.get(model) ?? this.withTiers(this.lookup(provider, model), false);
  }

  /** Every provider/model resolved so far (by requests), in first-seen order. */
  known(): Iterable<ResolvedPrice> {
    return this.seen.values();
  }

  /** The prices file's service-tier entries that apply to a provider/model, in the order they are tried (`serviceTier` is the entry's glob). */
  tierOverrides(provider: string, model: string): PriceFacts[] {
    return this.overrides
      .all(provider, model, (o) => o.serviceTier !== undefined)
      .map((o) => this.fromOverride(provider, model, o, o.override.serviceTier));
  }

  /** Gives a standard price its tier lookup: each tier resolved once, kept with it, and an unknown one logged once. */
  private withTiers(facts: PriceFacts, log = true): ResolvedPrice {
    const tiers = new Map<string, ResolvedPrice>();
    const standard: ResolvedPrice = {
      ...facts,
      atTier: (tier) => {
        if (isStandardServiceTier(tier)) return standard;
        let found = tiers.get(tier);
        if (found === undefined) {
          found = { ...this.lookupTier(facts.provider, facts.model, tier), atTier: standard.atTier };
          if (tiers.size >= TIER_CACHE_LIMIT) tiers.delete(tiers.keys().next().value!);
          tiers.set(tier, found);
          if (log && found.price === undefined) {
            this.logger.warn(
              `No price known for provider=${facts.provider} model=${facts.model} service_tier=${tier}: its requests count as unpriced (cost_usd null), not at the standard rate; add an entry with service_tier: ${tier} to VDM_PRICES_FILE`,
            );
          }
        }
        return found;
      },
    };
    return standard;
  }

  private fromOverride(provider: string, model: string, o: CompiledOverride, serviceTier?: string): PriceFacts {
    const facts: PriceFacts = { provider, model, price: o.price, source: { kind: 'override', file: this.file!.path, entry: o.override.entry } };
    if (serviceTier !== undefined) facts.serviceTier = serviceTier;
    return facts;
  }

  /** A non-standard tier: the first entry naming it; the bundled catalog keeps one price per model, none per tier. */
  private lookupTier(provider: string, model: string, tier: string): PriceFacts {
    const o = this.overrides.first(provider, model, (e) => e.serviceTier?.test(tier) === true);
    return o === undefined ? { provider, model, serviceTier: tier } : this.fromOverride(provider, model, o, tier);
  }

  private lookup(provider: string, model: string): PriceFacts {
    const o = this.overrides.first(provider, model, (e) => e.serviceTier === undefined);
    if (o !== undefined) return this.fromOverride(provider, model, o);
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
