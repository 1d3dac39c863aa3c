/**
 * Token counts estimated from text with an OpenAI tokenizer (gpt-tokenizer, o200k), for answers and
 * requests whose provider reported no count. The work is bounded whatever the text: at most
 * TOKENIZE_CAP_CHARS characters are tokenized, beyond that the count grows at the rate measured on
 * what was tokenized; and no run without whitespace longer than MAX_RUN_BYTES reaches the tokenizer
 * (its merges take time quadratic in the bytes of one run).
 */

/** Characters tokenized per estimate; the rest is extrapolated. */
export const TOKENIZE_CAP_CHARS = 8192;
/** Longer runs without whitespace (a base64 blob, unspaced CJK text) are cut into runs of this many UTF-8 bytes, about. */
export const MAX_RUN_BYTES = 48;
/** Tokens per character assumed when nothing could be tokenized (OpenAI's rule of thumb: 4 characters a token). */
const CHARS_PER_TOKEN = 4;

/** A tokenizer's count of one text (gpt-tokenizer's countTokens, or a test's recording stand-in). */
export type CountTokens = (text: string) => number;
let tokenizer: CountTokens | undefined;

function countTokens(): CountTokens {
  // Loaded on first use where nothing loaded it before (tests, tools); the gateway loads it before it listens.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  tokenizer ??= (require('gpt-tokenizer') as typeof import('gpt-tokenizer')).countTokens;
  return tokenizer;
}

/**
 * Loads the tokenizer's encoder tables now (about 130 ms, over a second on a loaded machine). The gateway
 * calls it before it listens, so the first estimate (a client leaving before the usage event, a
 * count_tokens call) does not stall every request in flight while the tables load.
 */
export function loadTokenizer(): void {
  countTokens()('warm');
}

/** Whether the tokenizer's tables are loaded. */
export const tokenizerLoaded = (): boolean => tokenizer !== undefined;

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x3000;
}

/** Tokens of one text, tokenized in pieces that never hold a run without whitespace longer than MAX_RUN_BYTES. */
function tokensOf(text: string, count: CountTokens): number {
  let tokens = 0;
  let pieceStart = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isSpace(code)) {
      run = 0;
      continue;
    }
    // Bytes, near enough: a surrogate pair counts 3 + 3 instead of 4.
    const bytes = code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
    run += bytes;
    if (run > MAX_RUN_BYTES) {
      tokens += count(text.slice(pieceStart, i));
      pieceStart = i;
      run = bytes;
    }
  }
  if (pieceStart < text.length) tokens += count(pieceStart === 0 ? text : text.slice(pieceStart));
  return tokens;
}

/**
 * The estimated tokens of some texts, read as one: each part is tokenized on its own (parts are
 * messages, deltas, arguments) until `cap` characters were, and the remaining characters are
 * counted at the rate of those.
 */
export function countTextTokens(parts: Iterable<string>, cap = TOKENIZE_CAP_CHARS, count: CountTokens = countTokens()): number {
  let chars = 0;
  let sampled = 0;
  let tokens = 0;
  for (const part of parts) {
    chars += part.length;
    if (sampled >= cap || part.length === 0) continue;
    const take = part.length <= cap - sampled ? part : part.slice(0, cap - sampled);
    sampled += take.length;
    tokens += tokensOf(take, count);
  }
  const rest = chars - sampled;
  if (rest <= 0) return tokens;
  return tokens + Math.ceil(sampled > 0 ? (rest * tokens) / sampled : rest / CHARS_PER_TOKEN);
}

/**
 * The estimated tokens of a text of which only the first `sampledChars` characters were kept (in
 * `sample`): those are tokenized, the rest counted at their rate.
 */
export function countSampledTokens(sample: readonly string[], sampledChars: number, totalChars: number): number {
  // One text, as the pieces were one answer (and one tokenizer call instead of one per delta).
  const tokens = countTextTokens([sample.join('')]);
  const rest = totalChars - sampledChars;
  if (rest <= 0) return tokens;
  return tokens + Math.ceil(sampledChars > 0 ? (rest * tokens) / sampledChars : rest / CHARS_PER_TOKEN);
}
