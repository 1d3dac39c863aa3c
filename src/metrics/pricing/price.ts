/**
 * Prices as the cost arithmetic uses them: integer picodollars per token (USD per million tokens
 * times 10^6), so a request's cost is a sum of integer products and exact.
 */

/** The rates from one prompt size on (long-context tiers); `start` is exclusive, as the catalog counts it. */
export interface PriceLevel {
  start: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
}

export interface Price {
  /** Sorted by `start`; the first starts at -1 (every request). */
  levels: PriceLevel[];
  /** Picodollars per web search request (Anthropic `server_tool_use.web_search_requests`). */
  webSearch: number;
}

/** USD per million tokens as picodollars per token. */
export const picoPerToken = (usdPerMillion: number): number => Math.round(usdPerMillion * 1e6);

/** Per-million-token prices (USD) of one level, back from picodollars, for `GET /metrics/prices`. */
export function perMillion(level: PriceLevel): Record<'input' | 'output' | 'cache_read' | 'cache_write' | 'cache_write_1h', number> {
  return {
    input: level.input / 1e6,
    output: level.output / 1e6,
    cache_read: level.cacheRead / 1e6,
    cache_write: level.cacheWrite / 1e6,
    cache_write_1h: level.cacheWrite1h / 1e6,
  };
}
