import { afterEach, describe, expect, it, vi } from 'vitest';
import { Glob } from '../../core/glob';
import type { PriceOverride } from '../../config/prices-file';
import { makeConfig } from '../../../test/support/factories';
import { OverrideIndex, type IndexedEntry } from './override-index';
import { PriceBook } from './price-book';

interface Entry extends IndexedEntry {
  tier?: Glob;
}

function entries(rows: [string, string, string?][]): Entry[] {
  return rows.map(([provider, model, tier], entry) => ({ entry, provider: new Glob(provider), model: new Glob(model), tier: tier === undefined ? undefined : new Glob(tier) }));
}

/** What the gateway did before the index: the first entry in file order whose globs match. */
function scan(all: Entry[], provider: string, model: string, accept: (e: Entry) => boolean): Entry | undefined {
  return all.find((e) => accept(e) && e.provider.test(provider) && e.model.test(model));
}

const FILE = entries([
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4o*'],
  ['OpenAI', 'GPT-4O'],
  ['openai', 'gpt-4o'],
  ['*', 'llama-3'],
  ['openai', 'gpt-4o', 'flex'],
  ['openai', 'gpt-4o', 'prio*'],
  ['azure', 'gpt-4o'],
  ['azure', 'gpt-4o'],
  ['a?ure', '*'],
  ['openai', 'Ünï-модель'],
  ['openai', 'o3', 'flex'],
  ['openai', 'o3'],
]);

const QUERIES: [string, string][] = [
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4o'],
  ['openai', 'GPT-4o'],
  ['openai', 'gpt-4o-2024'],
  ['ollama', 'llama-3'],
  ['azure', 'gpt-4o'],
  ['azure', 'gpt-5'],
  ['openai', 'Ünï-модель'],
  ['openai', 'ünï-модель'],
  ['openai', 'o3'],
  ['nobody', 'nothing'],
];

describe(OverrideIndex.name, () => {
  const index = new OverrideIndex(FILE);
  const standard = (e: Entry): boolean => e.tier === undefined;

  it.each(QUERIES)('finds for %s/%s the entry a scan in file order finds', (provider, model) => {
    expect(index.first(provider, model, standard)).toBe(scan(FILE, provider, model, standard));
    for (const tier of ['flex', 'priority', 'scale']) {
      const atTier = (e: Entry): boolean => e.tier?.test(tier) === true;
      expect(index.first(provider, model, atTier), tier).toBe(scan(FILE, provider, model, atTier));
    }
    const tiered = (e: Entry): boolean => e.tier !== undefined;
    expect(index.all(provider, model, tiered)).toEqual(FILE.filter((e) => tiered(e) && e.provider.test(provider) && e.model.test(model)));
  });
});

describe('a prices file of 100,000 exact names', () => {
  afterEach(() => vi.restoreAllMocks());

  const N = 100_000;
  const overrides: PriceOverride[] = Array.from({ length: N }, (_, i) => ({ entry: i, provider: 'openai', model: `model-${i}`, input: 1 + (i % 7), output: 2 }));
  overrides.push({ entry: N, provider: 'openai', model: 'late-*', input: 9, output: 9 });
  const config = makeConfig({ OPENAI_API_KEY: 'sk-x' });
  const book = new PriceBook(config.providers, { path: '/prices.yaml', overrides });

  it('prices a new exact name without trying the entries one by one', () => {
    const tried = vi.spyOn(Glob.prototype, 'test');
    const found = book.resolve('openai', 'model-77777');
    expect(found.source).toEqual({ kind: 'override', file: '/prices.yaml', entry: 77_777 });
    // The one wildcard entry comes after it in the file: not even tried.
    expect(tried).not.toHaveBeenCalled();
  });

  it('tries only the wildcard entries for a name the map does not hold', () => {
    const tried = vi.spyOn(Glob.prototype, 'test');
    expect(book.resolve('openai', 'late-model').source).toEqual({ kind: 'override', file: '/prices.yaml', entry: N });
    expect(tried.mock.calls.length).toBeLessThanOrEqual(2);
    tried.mockClear();
    expect(book.resolve('openai', 'gpt-4o').source).toMatchObject({ kind: 'catalog' });
    expect(tried.mock.calls.length).toBeLessThanOrEqual(2);
  });
});
