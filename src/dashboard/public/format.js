// @ts-check
// Formatting and small pure helpers.

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const pctFmt = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const time24Fmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dayTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** A number or numeric string as the wire sends it; null, undefined and garbage count as 0. @typedef {number | string | null | undefined} Numeric */

/** @param {Numeric} n */
export const num = (n) => intFmt.format(Number(n) || 0);

/**
 * 1234567 -> "1.2M"; small numbers stay exact.
 * @param {Numeric} n
 */
export const compact = (n) => (Math.abs(Number(n) || 0) < 10000 ? num(n) : compactFmt.format(Number(n) || 0));

/** @param {number} ratio */
export const percent = (ratio) => pctFmt.format(Number.isFinite(ratio) ? ratio : 0);

/**
 * A finished request's duration: "850 ms", "1.24 s", "2m 05s".
 * @param {Numeric} ms
 */
export function duration(ms) {
  const v = Number(ms) || 0;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10000) return `${(v / 1000).toFixed(2)} s`;
  if (v < 60000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.floor(v / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${rest}s`;
}

/**
 * An in-flight duration, ticking: whole seconds are enough and do not flicker.
 * @param {Numeric} ms
 */
export function elapsed(ms) {
  const v = Math.max(0, Number(ms) || 0);
  if (v < 60000) return `${Math.floor(v / 1000)} s`;
  return duration(v);
}

/**
 * The Output cell of an in-flight request: output tokens once the upstream reports them, until then
 * the characters streamed so far, marked as such. Anthropic's message_start says `output_tokens: 1`
 * before any text: a placeholder, not a count.
 * @param {{ output_tokens?: Numeric, output_chars?: Numeric, output_chunks?: Numeric }} row
 * @returns {{ text: string, estimate: boolean, title: string }}
 */
export function outputProgress(row) {
  const tokens = Number(row.output_tokens) || 0;
  const chars = Number(row.output_chars) || 0;
  const chunks = Number(row.output_chunks) || 0;
  const received = `${num(chars)} characters in ${num(chunks)} ${chunks === 1 ? 'chunk' : 'chunks'} received`;
  if (chars === 0 || tokens > 1) {
    return { text: compact(tokens), estimate: false, title: chars === 0 ? exact(tokens) : `${num(tokens)} output tokens; ${received}` };
  }
  return { text: `~${compact(chars)} chars`, estimate: true, title: `${received} so far; the upstream reports output tokens at the end of the stream` };
}

/**
 * The exact count for a tooltip, where compact() rounded it; '' (no tooltip) where it did not.
 * @param {Numeric} n
 */
export const exact = (n) => (compact(n) === num(n) ? '' : num(n));

/** @param {Numeric} n */
export function bytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KB`;
  return `${(v / 1024 / 1024).toFixed(1)} MB`;
}

/** A time as the wire sends it: Unix seconds or ms, or an ISO string. @typedef {number | string | null | undefined} TimeValue */

/**
 * Unix seconds (or ms) or an ISO string -> Date, or null.
 * @param {TimeValue} value
 * @returns {Date | null}
 */
export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value === 'number') return new Date(value > 1e12 ? value : value * 1000);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** @param {TimeValue} value */
export const clock = (value) => {
  const d = toDate(value);
  return d ? timeFmt.format(d) : '—';
};

/**
 * The same, on a 24-hour clock ("22:05:09"): narrower, for grid cells.
 * @param {TimeValue} value
 */
export const clock24 = (value) => {
  const d = toDate(value);
  return d ? time24Fmt.format(d) : '—';
};

/**
 * A time of today as a clock ("14:05:09"), an earlier one with its day ("Jan 31, 14:05").
 * @param {TimeValue} value
 * @param {Date} [now]
 */
export function when(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '—';
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dayTimeFmt.format(d);
}

/** @param {TimeValue} value */
export const fullDate = (value) => {
  const d = toDate(value);
  return d ? dateTimeFmt.format(d) : '';
};

/**
 * @param {TimeValue} value
 * @param {number} [now] epoch ms
 */
export function ago(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '—';
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Familiar providers get hand-picked hues; any other name gets one from its hash. */
/** @type {Record<string, number>} */
const KNOWN_HUES = { anthropic: 22, openai: 160, openrouter: 262, demo: 205, gemini: 225, google: 225, azure: 195, groq: 340, mistral: 35, deepseek: 240, ollama: 300, xai: 0 };

/**
 * A stable hue per provider name, so a provider keeps its colour across reloads and servers.
 * Hashed names (FNV-1a) skip the 50-100 band, where badges turn muddy yellow-green.
 * @param {unknown} name
 * @returns {number}
 */
export function hueOf(name) {
  const key = String(name).toLowerCase();
  if (Object.hasOwn(KNOWN_HUES, key)) return KNOWN_HUES[key];
  let h = 0x811c9dc5;
  for (const ch of key) {
    h ^= /** @type {number} */ (ch.codePointAt(0));
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const x = h % 310;
  return x < 50 ? x : x + 50;
}

const usdCompactFmt = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', notation: 'compact', maximumSignificantDigits: 3 });

/**
 * US dollars in at most six characters, so a cell or card never cuts it: below a dollar in cents
 * to two significant digits ("0.48¢"), then "$12.34", then compact ("$123", "$1.23K"); null (no price known) is "—".
 * @param {Numeric} v
 */
export function usd(v) {
  if (v === null || v === undefined) return '—';
  const n = Number(v) || 0;
  if (n === 0) return '$0';
  const cents = Number((n * 100).toPrecision(2));
  if (cents < 100) return n * 100 < 0.01 ? '<0.01¢' : `${cents}¢`;
  if (n < 100) return `$${n.toFixed(2)}`;
  return usdCompactFmt.format(n);
}

/**
 * The whole figure for a tooltip, to the nanodollar the gateway counts in.
 * @param {Numeric} v
 * @param {number} [unpriced] requests left out of it for want of a price
 */
export function usdExact(v, unpriced = 0) {
  if (v === null || v === undefined) return 'no price known for this model (see /metrics/prices)';
  const whole = `$${(Number(v) || 0).toFixed(9).replace(/0+$/, '').replace(/\.$/, '')}`;
  return unpriced ? `${whole}; ${num(unpriced)} unpriced ${unpriced === 1 ? 'request' : 'requests'} not included` : whole;
}
