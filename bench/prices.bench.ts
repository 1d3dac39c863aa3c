/**
 * 8. Price lookup: the price book resolving a model name it has not seen, in-process, with a prices
 * file of 1 entry and of 100,000 exact provider/model entries (VDM_PRICES_FILE), for a name the file
 * holds and for one it does not (which falls through to the bundled catalog). Each lookup is the
 * uncached one a new name pays (PriceBook.peek: resolve without the cache or the unknown-price log).
 * Alternating rounds, medians; the ratio is 100,000 entries over 1 entry.
 */
import { loadConfig } from '../src/config/app-config';
import type { PriceOverride, PricesFile } from '../src/config/prices-file';
import { PriceBook } from '../src/metrics/pricing/price-book';
import { fmt, median, QUICK, table } from './support/stats';

type Case = 'in_file' | 'not_in_file';
const CASES: Case[] = ['in_file', 'not_in_file'];
const LABEL: Record<Case, string> = { in_file: 'a name the file holds', not_in_file: 'a name it does not (catalog)' };
const SIZES = [1, 100_000];

export interface PricesRow {
  entries: number;
  case: Case;
  usPerLookup: number;
}

export interface PricesResult {
  rows: PricesRow[];
  /** Per case: microseconds at 100,000 entries over microseconds at 1 entry. */
  ratio: Record<Case, number>;
}

function file(n: number): PricesFile {
  const overrides: PriceOverride[] = Array.from({ length: n }, (_, i) => ({ entry: i, provider: 'openai', model: `bench-model-${i}`, input: 1 + (i % 5), output: 4 }));
  return { path: 'prices.yaml', overrides };
}

let sink = 0;

function loop(book: PriceBook, which: Case, n: number, count: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const model = which === 'in_file' ? `bench-model-${(i * 7919) % n}` : `gpt-4o-${i}`;
    if (book.peek('openai', model).price !== undefined) sink++;
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / count;
}

export function runPricesBench(): PricesResult {
  const rounds = QUICK ? 3 : 7;
  const perRound = QUICK ? 200 : 1_000;
  const providers = loadConfig({ LOG_LEVEL: 'silent', OPENAI_API_KEY: 'sk-bench' }).providers;
  const files = new Map(SIZES.map((n) => [n, file(n)]));
  // The file is read and indexed once, at start-up; what is measured is the lookup of a new name.
  const books = new Map(SIZES.map((n) => [n, new PriceBook(providers, files.get(n))]));
  for (const n of SIZES) for (const which of CASES) loop(books.get(n)!, which, n, 50);
  const samples = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
      for (const which of CASES) samples.set(`${n}/${which}`, [...(samples.get(`${n}/${which}`) ?? []), loop(books.get(n)!, which, n, perRound)]);
    }
  }
  if (sink === -1) console.log(sink);
  const rows = SIZES.flatMap((n) => CASES.map((which) => ({ entries: n, case: which, usPerLookup: median(samples.get(`${n}/${which}`)!) })));
  const us = (n: number, which: Case): number => rows.find((row) => row.entries === n && row.case === which)!.usPerLookup;
  const ratio = Object.fromEntries(CASES.map((which) => [which, us(100_000, which) / us(1, which)])) as Record<Case, number>;
  return { rows, ratio };
}

export function printPrices(r: PricesResult): string {
  const us = (n: number, which: Case): number => r.rows.find((row) => row.entries === n && row.case === which)!.usPerLookup;
  return [
    '## 8. Price lookup (a new model name, in-process, median of alternating rounds)',
    table(
      ['lookup', 'us at 1 entry', 'us at 100,000 entries', '100,000 / 1'],
      CASES.map((which) => [LABEL[which], fmt(us(1, which), 3), fmt(us(100_000, which), 3), fmt(r.ratio[which], 2)]),
    ),
  ].join('\n');
}
