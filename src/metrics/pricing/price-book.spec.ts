import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeConfig, makeRecord } from '../../../test/support/factories';
import { costNano, recordCost, usd } from './cost';
import { PriceBook } from './price-book';

function pricesFile(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vdm-prices-')), 'prices.yaml');
  writeFileSync(path, yaml);
  return path;
}

function book(env: Record<string, string>): PriceBook {
  const config = makeConfig(env);
  return new PriceBook(config.providers, config.prices);
}

const none = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheCreationTokens: 0 };

// Golden cases: list prices per million tokens as the providers publish them, worked by hand.
describe(PriceBook.name, () => {
  const sut = book({ ANTHROPIC_API_KEY: 'sk-ant-x', OPENAI_API_KEY: 'sk-x', OLLAMA_API_KEY: 'unused', OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' });

  it('prices Anthropic cache writes by lifetime and cache reads at their own rate (claude-sonnet-4-5: $3 in, $3.75 5m write, $6 1h write, $0.30 read, $15 out)', () => {
    const { price, source } = sut.resolve('anthropic', 'claude-sonnet-4-5-20250929');
    expect(source).toMatchObject({ kind: 'catalog', catalogProvider: 'anthropic', catalogModel: 'claude-sonnet-4-5' });
    // 1000*3 + 1500*3.75 + 500*6 + 10000*0.30 + 500*15 = 22125 per million = $0.022125
    const u = { inputTokens: 1000, cacheCreationTokens: 2000, cacheWrite1hTokens: 500, cacheReadTokens: 10_000, outputTokens: 500 };
    expect(usd(costNano(price!, u))).toBe(0.022125);
  });

  it('prices OpenAI cached prompt tokens at the cached rate, never as plain input too (gpt-4o: $2.50 in, $1.25 cached, $10 out)', () => {
    const { price } = sut.resolve('openai', 'gpt-4o');
    // prompt_tokens 3000 with 2000 cached: input 1000. 1000*2.5 + 2000*1.25 + 400*10 = 9000 per million = $0.009
    expect(usd(costNano(price!, { inputTokens: 1000, cacheReadTokens: 2000, cacheCreationTokens: 0, outputTokens: 400 }))).toBe(0.009);
  });

  it('applies the long-context tier to the whole request once its prompt passes 200k (claude-sonnet-4-5: $6 in, $0.60 read, $22.50 out)', () => {
    const { price } = sut.resolve('anthropic', 'claude-sonnet-4-5');
    // prompt 150000 + 60000 cached = 210000 > 200000: 150000*6 + 60000*0.6 + 1000*22.5 = 958500 per million
    expect(usd(costNano(price!, { inputTokens: 150_000, cacheReadTokens: 60_000, cacheCreationTokens: 0, outputTokens: 1000 }))).toBe(0.9585);
    // exactly 200000 is not past the threshold: 140000*3 + 60000*0.3 + 1000*15 = 453000 per million
    expect(usd(costNano(price!, { inputTokens: 140_000, cacheReadTokens: 60_000, cacheCreationTokens: 0, outputTokens: 1000 }))).toBe(0.453);
  });

  it('prices Anthropic web searches per search ($10 per 1000)', () => {
    const { price } = sut.resolve('anthropic', 'claude-sonnet-4-5');
    expect(usd(costNano(price!, { ...none, webSearchRequests: 3 }))).toBe(0.03);
  });

  it('leaves a model the catalog does not know unpriced, and logs it once per provider/model', () => {
    const first = sut.resolve('ollama', 'llama3:8b');
    expect(first.price).toBeUndefined();
    expect(sut.resolve('ollama', 'llama3:8b')).toBe(first);
  });

  it('answers a query without caching it, so queries neither evict nor log', () => {
    const b = book({ OPENAI_API_KEY: 'k' });
    expect(b.peek('openai', 'gpt-4o').source).toMatchObject({ catalogModel: 'gpt-4o' });
    expect(b.peek('openai', 'no-such-model').price).toBeUndefined();
    expect([...b.known()]).toEqual([]);
  });

  it('resolves a provider/model once and caches it', () => {
    expect(sut.resolve('openai', 'gpt-4o-mini')).toBe(sut.resolve('openai', 'gpt-4o-mini'));
  });

  it('infers the catalog from the base URL host, and {NAME}_PRICING overrides it', () => {
    const b = book({ CORP_API_KEY: 'k', CORP_BASE_URL: 'https://api.anthropic.com', OTHER_API_KEY: 'k', OTHER_BASE_URL: 'http://10.0.0.1/v1', OTHER_PRICING: 'openai', OFF_API_KEY: 'k', OFF_BASE_URL: 'https://api.openai.com/v1', OFF_PRICING: 'none' });
    expect(b.resolve('corp', 'claude-haiku-4-5').source).toMatchObject({ catalogProvider: 'anthropic' });
    expect(b.resolve('other', 'gpt-4o').source).toMatchObject({ catalogProvider: 'openai' });
    expect(b.resolve('off', 'gpt-4o').price).toBeUndefined();
  });

  it('prices the demo provider as the models it imitates', () => {
    expect(sut.resolve('demo', 'demo-sonnet').source).toMatchObject({ catalogProvider: 'anthropic', catalogModel: 'claude-sonnet-4-5' });
    expect(sut.resolve('demo', 'gpt-demo').source).toMatchObject({ catalogProvider: 'openai', catalogModel: 'gpt-4o' });
  });

  it('takes the first matching VDM_PRICES_FILE entry before the catalog', () => {
    const path = pricesFile('prices:\n  - {provider: ollama, model: "*", input: 0, output: 0}\n  - provider: open*\n    model: gpt-4o*\n    input: 1\n    output: 2\n    cache_read: 0.1\n');
    const b = book({ OPENAI_API_KEY: 'k', OLLAMA_API_KEY: 'k', OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1', VDM_PRICES_FILE: path });
    const gpt = b.resolve('openai', 'gpt-4o');
    expect(gpt.source).toEqual({ kind: 'override', file: path, entry: 1 });
    // 1000*1 + 500*0.1 + 100*2 = 1250 per million
    expect(usd(costNano(gpt.price!, { inputTokens: 1000, cacheReadTokens: 500, cacheCreationTokens: 0, outputTokens: 100 }))).toBe(0.00125);
    expect(usd(costNano(b.resolve('ollama', 'llama3').price!, { ...none, inputTokens: 5000, outputTokens: 5000 }))).toBe(0);
  });
});

describe('service tiers', () => {
  // OpenAI's published flex rates for gpt-5: $0.625 in, $0.0625 cached, $5 out (half the standard $1.25 / $0.125 / $10).
  const path = pricesFile(
    [
      'prices:',
      '  - {provider: azure, model: "gpt-5*", input: 1, output: 8}',
      '  - {provider: "*", model: "gpt-5*", service_tier: flex, input: 0.625, output: 5, cache_read: 0.0625}',
      '  - {provider: anthropic, model: "claude-sonnet-4-5*", service_tier: "prio*", input: 6, output: 30, cache_read: 0.6, cache_write: 7.5}',
      '',
    ].join('\n'),
  );
  const sut = book({ OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k', AZURE_API_KEY: 'k', AZURE_BASE_URL: 'http://10.0.0.1/v1', VDM_PRICES_FILE: path });
  const cached = { inputTokens: 1000, cacheReadTokens: 2000, cacheCreationTokens: 0, outputTokens: 400 };

  it('prices a flex request by the entry naming its tier, and the standard tier as before', () => {
    const gpt5 = sut.resolve('openai', 'gpt-5');
    const flex = gpt5.atTier('flex');
    expect(flex).toMatchObject({ provider: 'openai', model: 'gpt-5', serviceTier: 'flex', source: { kind: 'override', file: path, entry: 1 } });
    // 1000*0.625 + 2000*0.0625 + 400*5 = 2750 per million
    expect(usd(costNano(flex.price!, cached))).toBe(0.00275);
    // catalog gpt-5: 1000*1.25 + 2000*0.125 + 400*10 = 5500 per million
    expect(usd(costNano(gpt5.price!, cached))).toBe(0.0055);
  });

  it.each(['default', 'auto', 'standard', 'on_demand'])('the standard tier %s is the standard price itself', (tier) => {
    const gpt5 = sut.resolve('openai', 'gpt-5');
    expect(gpt5.atTier(tier)).toBe(gpt5);
  });

  it('matches a tier glob (prio*) and resolves each tier once', () => {
    const sonnet = sut.resolve('anthropic', 'claude-sonnet-4-5-20250929');
    const priority = sonnet.atTier('priority');
    expect(priority.source).toEqual({ kind: 'override', file: path, entry: 2 });
    expect(sonnet.atTier('priority')).toBe(priority);
    // 1000*6 + 2000*0.6 + 400*30 = 19200 per million
    expect(usd(costNano(priority.price!, cached))).toBe(0.0192);
  });

  it('leaves a tier no entry names unpriced, never at the standard rate: the catalog has no tier prices', () => {
    const priority = sut.resolve('openai', 'gpt-5').atTier('priority');
    expect(priority).toMatchObject({ provider: 'openai', model: 'gpt-5', serviceTier: 'priority' });
    expect(priority.price).toBeUndefined();
    expect(priority.source).toBeUndefined();
  });

  it('an entry without service_tier prices the standard tier only, so a flex request does not fall back to it', () => {
    const azure = sut.resolve('azure', 'gpt-5');
    expect(azure.source).toEqual({ kind: 'override', file: path, entry: 0 });
    expect(azure.atTier('flex').source).toEqual({ kind: 'override', file: path, entry: 1 });
    const plain = book({ AZURE_API_KEY: 'k', AZURE_BASE_URL: 'http://10.0.0.1/v1', VDM_PRICES_FILE: pricesFile('prices:\n  - {provider: azure, model: "*", input: 1, output: 2}\n') });
    expect(plain.resolve('azure', 'gpt-5').atTier('flex').price).toBeUndefined();
  });

  it('lists the tier entries that apply to a provider/model, for GET /metrics/prices', () => {
    expect(sut.tierOverrides('openai', 'gpt-5')).toEqual([expect.objectContaining({ serviceTier: 'flex', source: { kind: 'override', file: path, entry: 1 } })]);
    expect(sut.tierOverrides('anthropic', 'claude-sonnet-4-5')).toEqual([expect.objectContaining({ serviceTier: 'prio*' })]);
    expect(sut.tierOverrides('openai', 'gpt-4o')).toEqual([]);
  });

  describe(recordCost.name, () => {
    const record = (serviceTier?: string) => {
      const r = makeRecord({ provider: 'openai', resolvedModel: 'gpt-5', ...cached, serviceTier });
      r.pricing = sut.resolve('openai', 'gpt-5');
      return r;
    };

    it('prices a request at the tier it reported', () => {
      expect(recordCost(record('flex'))).toBe(2_750_000);
      expect(recordCost(record('default'))).toBe(5_500_000);
      expect(recordCost(record())).toBe(5_500_000);
    });

    it('is null for a tier with no known price', () => {
      expect(recordCost(record('priority'))).toBeNull();
    });
  });
});

describe('VDM_PRICES_FILE validation', () => {
  it.each([
    ['prices:\n  - {provider: a, model: b, input: 1}\n', 'prices[0].output must be a number >= 0'],
    ['prices:\n  - {provider: a, model: b, input: 1, output: 2}\n  - {provider: a, model: b, input: -1, output: 2}\n', 'prices[1].input must be a number >= 0'],
    ['prices:\n  - {provider: a, model: b, input: 1, output: 2, cache_reed: 1}\n', 'prices[0].cache_reed is not a known field'],
    ['prices:\n  - {model: b, input: 1, output: 2}\n', 'prices[0].provider must be a name or glob'],
    ['prices:\n  - {provider: a, model: b, service_tier: "", input: 1, output: 2}\n', 'prices[0].service_tier must be a name or glob'],
    ['prices:\n  - {provider: a, model: b, service_tier: [flex], input: 1, output: 2}\n', 'prices[0].service_tier must be a name or glob'],
    ['prices:\n  - {provider: a, model: b, service_tier: Default, input: 1, output: 2}\n', 'prices[0].service_tier is "default", a standard tier'],
    ['prices: 3\n', 'the file must hold a `prices:` list'],
    ['prices: [\n', 'the file cannot be read as YAML'],
  ])('%j stops start-up naming the file, the entry and the field', (yaml, message) => {
    const path = pricesFile(yaml);
    expect(() => makeConfig({ VDM_PRICES_FILE: path })).toThrow(`VDM_PRICES_FILE=${JSON.stringify(path)}: ${message}`);
  });

  it('a missing file stops start-up too', () => {
    expect(() => makeConfig({ VDM_PRICES_FILE: '/nonexistent/prices.yaml' })).toThrow('VDM_PRICES_FILE="/nonexistent/prices.yaml": the file cannot be read');
  });

  it('an unknown {NAME}_PRICING stops start-up', () => {
    expect(() => makeConfig({ X_API_KEY: 'k', X_BASE_URL: 'http://h/v1', X_PRICING: 'nosuch' })).toThrow('X_PRICING="nosuch" must be a price catalog provider id');
  });
});
