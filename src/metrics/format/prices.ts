import { CATALOG_NAME, CATALOG_VERSION } from '../pricing/catalog';
import { perMillion } from '../pricing/price';
import type { PriceFacts, PriceSource } from '../pricing/price-book';

type WireSource =
  | { kind: 'catalog'; catalog: string; version: string; catalog_provider: string; catalog_model: string }
  | { kind: 'override'; file: string; entry: number }
  | null;

/** The price of non-standard service tiers a prices-file entry gives: `service_tier` is the entry's name or glob. */
export type WireServiceTierPrice = ReturnType<typeof perMillion> & { service_tier: string; source: WireSource };

/** One provider/model in `GET /metrics/prices` (contract section 9): USD per million tokens, and where the price came from. */
export interface WirePrice {
  provider: string;
  model: string;
  priced: boolean;
  input: number | null;
  output: number | null;
  cache_read: number | null;
  cache_write: number | null;
  cache_write_1h: number | null;
  /** USD per 1,000 web search requests. */
  web_searches_per_thousand: number | null;
  /** Long-context tiers: these rates apply to a request whose prompt (input + cache reads + cache writes) exceeds `above_prompt_tokens`. */
  tiers: (ReturnType<typeof perMillion> & { above_prompt_tokens: number })[];
  /** Prices-file entries for non-standard service tiers (flex, priority) that apply here, first match first; a tier none names is unpriced. */
  service_tiers: WireServiceTierPrice[];
  source: WireSource;
}

export interface WirePrices {
  catalog: { name: string; version: string };
  prices_file: string | null;
  prices: WirePrice[];
}

function wireSource(s: PriceSource | undefined): WireSource {
  if (s === undefined) return null;
  return s.kind === 'override'
    ? { kind: 'override', file: s.file, entry: s.entry }
    : { kind: 'catalog', catalog: s.catalog, version: s.version, catalog_provider: s.catalogProvider, catalog_model: s.catalogModel };
}

/** A provider/model's price, with the service-tier entries that apply to it. */
export function wirePrice(r: PriceFacts, serviceTiers: readonly PriceFacts[] = []): WirePrice {
  const base = r.price?.levels[0];
  const rates = base === undefined ? undefined : perMillion(base);
  return {
    provider: r.provider,
    model: r.model,
    priced: r.price !== undefined,
    input: rates?.input ?? null,
    output: rates?.output ?? null,
    cache_read: rates?.cache_read ?? null,
    cache_write: rates?.cache_write ?? null,
    cache_write_1h: rates?.cache_write_1h ?? null,
    web_searches_per_thousand: r.price === undefined ? null : r.price.webSearch / 1e9,
    tiers: (r.price?.levels ?? []).slice(1).map((l) => ({ above_prompt_tokens: l.start, ...perMillion(l) })),
    service_tiers: serviceTiers.flatMap((t) =>
      t.price === undefined || t.serviceTier === undefined ? [] : [{ service_tier: t.serviceTier, ...perMillion(t.price.levels[0]), source: wireSource(t.source) }],
    ),
    source: wireSource(r.source),
  };
}

export function wirePrices(entries: Iterable<PriceFacts>, pricesFile: string | undefined, serviceTiers: (p: PriceFacts) => readonly PriceFacts[] = () => []): WirePrices {
  return {
    catalog: { name: CATALOG_NAME, version: CATALOG_VERSION },
    prices_file: pricesFile ?? null,
    prices: [...entries].map((e) => wirePrice(e, serviceTiers(e))),
  };
}
