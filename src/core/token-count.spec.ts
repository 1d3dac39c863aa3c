import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { countSampledTokens, countTextTokens, TOKENIZE_CAP_CHARS } from './token-count';

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
    expect(countTextTokens(['b'.repeat(1_000_000)])).toBe(countTextTokens(['b'.repeat(TOKENIZE_CAP_CHARS)]) * (1_000_000 / TOKENIZE_CAP_CHARS));
  });
});

describe(countSampledTokens.name, () => {
  it('tokenizes the sample and extrapolates the characters it does not hold', () => {
    expect(countSampledTokens([ENGLISH], ENGLISH.length, ENGLISH.length)).toBe(countTokens(ENGLISH));
    expect(countSampledTokens([ENGLISH], ENGLISH.length, ENGLISH.length * 3)).toBe(countTokens(ENGLISH) * 3);
    // Nothing sampled: four characters a token.
    expect(countSampledTokens([], 0, 40)).toBe(10);
  });
});
