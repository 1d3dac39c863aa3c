import { STANDARD_SERVICE_TIERS } from '../../core/usage';
import type { RequestRecord } from '../model/request-record';
import type { Price } from './price';

/** The token split of contract section 1: input excludes cache reads and writes; reasoning is part of output. */
export interface CostUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Of cacheCreationTokens, those written for one hour (the dearer lifetime). */
  cacheWrite1hTokens?: number;
  webSearchRequests?: number;
}

/**
 * What a request costs, in integer nanodollars: each token kind once at its own rate, at the
 * long-context level its whole prompt (input + cache reads + cache writes) reaches. Rounded once
 * per request, so totals are sums of integers and equal the sum of what each request shows.
 */
export function costNano(price: Price, u: CostUsage): number {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheCreationTokens;
  const levels = price.levels;
  let l = levels[0];
  for (let i = 1; i < levels.length; i++) if (prompt > levels[i].start) l = levels[i];
  const write1h = Math.min(u.cacheWrite1hTokens ?? 0, u.cacheCreationTokens);
  const pico =
    u.inputTokens * l.input +
    u.cacheReadTokens * l.cacheRead +
    (u.cacheCreationTokens - write1h) * l.cacheWrite +
    write1h * l.cacheWrite1h +
    u.outputTokens * l.output +
    (u.webSearchRequests ?? 0) * price.webSearch;
  return Math.round(pico / 1000);
}

/**
 * A request's cost in nanodollars: final once finalized, else so far. Null when its provider/model,
 * at the service tier the upstream reported, has no known price; 0 for a request never routed to a
 * model (nothing was sent upstream).
 */
export function recordCost(r: RequestRecord): number | null {
  if (r.costNano !== undefined) return r.costNano;
  let pricing = r.pricing;
  if (pricing === undefined) return 0;
  const tier = r.serviceTier;
  if (tier !== undefined && !STANDARD_SERVICE_TIERS.has(tier)) pricing = pricing.atTier(tier);
  return pricing.price === undefined ? null : costNano(pricing.price, r);
}

/** Nanodollars as the wire's US dollars. */
export const usd = (nano: number): number => nano / 1e9;

export const usdOrNull = (nano: number | null): number | null => (nano === null ? null : nano / 1e9);
