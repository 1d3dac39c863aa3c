import type { Price } from '../metrics/pricing/price';

/**
 * The most a request can cost, in nanodollars (contract section 15): its estimated input at the
 * dearest input-side rate that can apply to a prompt of that size (input, cache write, 1-hour cache
 * write, cache read: the long-context level the size reaches), plus its output cap at that level's
 * output rate. Rounded up, so the reservation is never below the exact cost of the same counts.
 */
export function upperBoundNano(price: Price, inputTokens: number, outputCap: number): number {
  const levels = price.levels;
  let level = levels[0];
  for (let i = 1; i < levels.length; i++) if (inputTokens > levels[i].start) level = levels[i];
  const inputRate = Math.max(level.input, level.cacheWrite, level.cacheWrite1h, level.cacheRead);
  const pico = inputTokens * inputRate + outputCap * level.output;
  return Math.ceil(pico / 1000);
}
