/**
 * Fixed-bucket histograms kept in the tracker's own data and rendered into Prometheus at scrape
 * time: observing is one short linear search, no labels and no allocation on the request path.
 */
export interface Histogram {
  /** Per-bucket counts, NOT cumulative; the last slot is the +Inf bucket. */
  counts: number[];
  sum: number;
  count: number;
}

export function newHistogram(bounds: readonly number[]): Histogram {
  return { counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 };
}

/** Prometheus `le` semantics: a value equal to a bound falls in that bound's bucket. */
export function observe(h: Histogram, bounds: readonly number[], value: number): void {
  let i = 0;
  while (i < bounds.length && value > bounds[i]) i++;
  h.counts[i]++;
  h.sum += value;
  h.count++;
}

export function addHistogram(target: Histogram, source: Histogram): void {
  for (let i = 0; i < source.counts.length; i++) target.counts[i] += source.counts[i];
  target.sum += source.sum;
  target.count += source.count;
}

/** Running totals per bucket, as the `_bucket{le=...}` series need them; the last equals `count`. */
export function cumulativeCounts(h: Histogram): number[] {
  let running = 0;
  return h.counts.map((c) => (running += c));
}

/** `start, start*factor, ...`: `count` bounds, rounded so they print as short decimals in `le`. */
export function exponentialBounds(start: number, factor: number, count: number): number[] {
  const bounds: number[] = [];
  for (let i = 0, b = start; i < count; i++, b *= factor) bounds.push(Number(b.toPrecision(6)));
  return bounds;
}
