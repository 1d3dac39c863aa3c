import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it, vi } from 'vitest';
import {
  countSampledTokens,
  countTextTokens,
  MAX_RUN_BYTES,
  TOKENIZE_CAP_CHARS,
  type CountTokens,
} from './token-count';

const ENGLISH = 'The gateway estimates what the upstream did not report, from the text it relayed. ';

describe(countTextTokens.name, () => {
  it('counts text under the cap exactly as the tokenizer does, part by part', () => {
    const parts = [ENGLISH, ENGLISH.repeat(3), 'naïve café 東京'];
    expect(countTextTokens(parts)).toBe(parts.reduce((n, p) => n + countTokens(p), 0));
    expect(countTextTokens([])).toBe(0);
    expect(countTextTokens(['', ''])).toBe(0);
  });

  it('beyond the cap, counts the rest at the rate of what it tokenized', () => {
    const text = ENGLISH.repeat(Math.ceil((4 * TOKENIZE_CAP_CHARS) / ENGLISH.length));
    const exact = countTokens(text);
    const estimate = countTextTokens([text]);
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.02);
  });

  it('cuts a run without whitespace into short pieces: an unbroken word costs what its pieces do', () => {
    const word = 'a'.repeat(4096);
    // o200k merges runs of a's into tokens of a few letters: the pieces add up to about the same.
    expect(Math.abs(countTextTokens([word]) - countTokens(word))).toBeLessThanOrEqual(word.length / 48 + 1);
    // A run far past the cap is extrapolated linearly, the same per character as a shorter one.
    expect(countTextTokens(['b'.repeat(1_000_000)])).toBe(
      countTextTokens(['b'.repeat(TOKENIZE_CAP_CHARS)]) * (1_000_000 / TOKENIZE_CAP_CHARS),
    );
  });
});

/** A stand-in tokenizer that records what it is handed (four characters a token). */
function recording(): { count: CountTokens; pieces: string[] } {
  const pieces: string[] = [];
  return { pieces, count: (text) => (pieces.push(text), Math.ceil(text.length / 4)) };
}

/** The longest run without whitespace in a piece, in UTF-8 bytes. */
function longestRun(piece: string): number {
  return Math.max(0, ...piece.split(/[\s\u00a0\u3000]+/).map((run) => Buffer.byteLength(run)));
}

describe('the work handed to the tokenizer', () => {
  it.each([
    ['one unbroken 1 MB word', ['a'.repeat(1_000_000)]],
    ['32 MB of prose', [ENGLISH.repeat(Math.ceil(32_000_000 / ENGLISH.length))]],
    ['100,000 short messages', Array.from({ length: 100_000 }, (_, i) => `message ${i}`)],
    ['unspaced CJK text', ['東京'.repeat(200_000)]],
    ['a base64 blob between words', [`see ${'QUJD'.repeat(250_000)} here`]],
  ])(
    '%s: at most TOKENIZE_CAP_CHARS characters, in pieces without a run over MAX_RUN_BYTES',
    (_name, parts) => {
      const { count, pieces } = recording();
      expect(countTextTokens(parts, TOKENIZE_CAP_CHARS, count)).toBeGreaterThan(0);
      expect(pieces.reduce((n, p) => n + p.length, 0)).toBeLessThanOrEqual(TOKENIZE_CAP_CHARS);
      // A run cut at MAX_RUN_BYTES keeps its last character whole: at most 3 bytes over (a surrogate half).
      expect(Math.max(...pieces.map(longestRun))).toBeLessThanOrEqual(MAX_RUN_BYTES + 3);
    },
  );
});

describe(countSampledTokens.name, () => {
  it('tokenizes the sample and extrapolates the characters it does not hold', () => {
    expect(countSampledTokens([ENGLISH], ENGLISH.length, ENGLISH.length)).toBe(countTokens(ENGLISH));
    expect(countSampledTokens([ENGLISH], ENGLISH.length, ENGLISH.length * 3)).toBe(countTokens(ENGLISH) * 3);
    // Nothing sampled: four characters a token.
    expect(countSampledTokens([], 0, 40)).toBe(10);
  });
});

describe('loadTokenizer', () => {
  it('loads the encoder tables at once, where the first estimate would otherwise load them', async () => {
    vi.resetModules();
    const fresh = await import('./token-count');
    expect(fresh.tokenizerLoaded()).toBe(false);
    fresh.loadTokenizer();
    expect(fresh.tokenizerLoaded()).toBe(true);
    expect(fresh.countTextTokens(['hello world'])).toBe(countTokens('hello world'));
  });
});
