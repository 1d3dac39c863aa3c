import { CATALOG_NAME, CATALOG_VERSION } from '../pricing/catalog';
import { perMillion } from '../pricing/price';
import type { ResolvedPrice } from '../pricing/price-book';

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
  source:
    | { kind: 'catalog'; catalog: string; version: string; catalog_provider: string; catalog_model: string }
    | { kind: 'override'; file: string; entry: number }
    | null;
}

export interface WirePrices {
  catalog: { name: string; version: string };
  prices_file: string | null;
  prices: WirePrice[];
}

export function wirePrice(r: ResolvedPrice): WirePrice {
  const base = r.price?.levels[0];
  const rates = base === undefined ? undefined : perMillion(base);
  const s = r.source;
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
    source:
      s === undefined
        ? null
        : s.kind === 'override'
          ? { kind: 'override', file: s.file, entry: s.entry }
          : { kind: 'catalog', catalog: s.catalog, version: s.version, catalog_provider: s.catalogProvider, catalog_model: s.catalogModel },
  };
}

export function wirePrices(entries: Iterable<ResolvedPrice>, pricesFile: string | undefined): WirePrices {
  return { catalog: { name: CATALOG_NAME, version: CATALOG_VERSION }, prices_file: pricesFile ?? null, prices: [...entries].map(wirePrice) };
}
