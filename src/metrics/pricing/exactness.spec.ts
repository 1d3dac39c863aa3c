import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeConfig, makeRecord } from '../../../test/support/factories';
import { addRecordToSplit, addTotals, newSplit, newTotals } from '../calculations/accumulation';
import { wireSection } from '../format/wire';
import { recordCost, usd } from './cost';
import { PriceBook } from './price-book';

/** mulberry32: seeded, so the run is the same every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('cost exactness', () => {
  it('a million random requests at random service tiers: every total equals the sum of the per-request costs, to the nanodollar', () => {
    const pricesPath = join(mkdtempSync(join(tmpdir(), 'vdm-exact-')), 'prices.yaml');
    writeFileSync(pricesPath, 'prices:\n  - {provider: openai, model: "gpt-4o*", service_tier: flex, input: 1.25, output: 5, cache_read: 0.625}\n');
    const config = makeConfig({ ANTHROPIC_API_KEY: 'k', OPENAI_API_KEY: 'k', VDM_PRICES_FILE: pricesPath });
    const prices = new PriceBook(config.providers, config.prices);
    const tiers = [undefined, 'default', 'standard', 'flex', 'priority'];
    const models: [string, string][] = [
      ['anthropic', 'claude-sonnet-4-5'],
      ['anthropic', 'claude-haiku-4-5'],
      ['anthropic', 'claude-opus-4-1'],
      ['openai', 'gpt-4o'],
      ['openai', 'gpt-4o-mini'],
      ['openai', 'no-such-model'],
    ];
    const rng = prng(13);
    const splits = models.map(() => newSplit());
    let exact = 0n;
    let floatSum = 0;
    let unpriced = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const m = Math.floor(rng() * models.length);
      const r = makeRecord({
        provider: models[m][0],
        resolvedModel: models[m][1],
        isStreaming: rng() < 0.5,
        inputTokens: Math.floor(rng() * 250_000),
        outputTokens: Math.floor(rng() * 8000),
        cacheReadTokens: rng() < 0.5 ? Math.floor(rng() * 100_000) : 0,
        cacheCreationTokens: rng() < 0.3 ? Math.floor(rng() * 20_000) : 0,
        durationMs: 1,
        serviceTier: tiers[Math.floor(rng() * tiers.length)],
      });
      r.cacheWrite1hTokens = Math.floor(rng() * r.cacheCreationTokens);
      r.pricing = prices.resolve(r.provider!, r.resolvedModel!);
      r.costNano = recordCost(r);
      addRecordToSplit(splits[m], r);
      if (r.costNano === null) unpriced++;
      else {
        exact += BigInt(r.costNano);
        floatSum += usd(r.costNano);
      }
    }
    const total = newTotals();
    for (const s of splits) {
      expect(s.streaming.costNano + s.nonStreaming.costNano).toBe(s.total.costNano);
      addTotals(total, s.total);
    }
    expect(Number.isSafeInteger(total.costNano)).toBe(true);
    expect(BigInt(total.costNano)).toBe(exact);
    expect(total.unpriced).toBe(unpriced);
    expect(wireSection(total).cost_usd).toBe(Number(exact) / 1e9);
    // Why integers: adding the same costs as float dollars drifts away from the exact sum.
    expect(floatSum).not.toBe(Number(exact) / 1e9);
  });
});
