/**
 * The dashboard's formatting helpers (src/dashboard/public/format.js), the browser module itself
 * imported into node. Figures whose text depends on the machine's locale are compared with each
 * other, not with a spelled-out string.
 */
import { describe, expect, it } from 'vitest';
import * as fmt from '../../src/dashboard/public/format.js';

describe('durations', () => {
  it('writes a finished request in ms, then seconds, then minutes and hours', () => {
    expect(fmt.duration(850)).toBe('850 ms');
    expect(fmt.duration(999.6)).toBe('1000 ms');
    expect(fmt.duration(1240)).toBe('1.24 s');
    expect(fmt.duration('1500')).toBe('1.50 s');
    expect(fmt.duration(12_345)).toBe('12.3 s');
    expect(fmt.duration(125_000)).toBe('2m 05s');
    expect(fmt.duration(3_723_000)).toBe('1h 02m');
    expect(fmt.duration(null)).toBe('0 ms');
    expect(fmt.duration('garbage')).toBe('0 ms');
  });

  it('ticks an in-flight request in whole seconds, never below zero', () => {
    expect(fmt.elapsed(59_999)).toBe('59 s');
    expect(fmt.elapsed(-5)).toBe('0 s');
    expect(fmt.elapsed(61_000)).toBe('1m 01s');
  });
});

describe('sizes and counts', () => {
  it('writes bytes as B, KB and MB', () => {
    expect(fmt.bytes(1023)).toBe('1023 B');
    expect(fmt.bytes(1536)).toBe('1.5 KB');
    expect(fmt.bytes(5 * 1024 * 1024)).toBe('5.0 MB');
    expect(fmt.bytes(undefined)).toBe('0 B');
  });

  it('keeps counts below 10,000 exact and gives the exact figure as a tooltip only where compact() rounded', () => {
    expect(fmt.compact(9999)).toBe(fmt.num(9999));
    expect(fmt.exact(9999)).toBe('');
    expect(fmt.compact(12_345)).not.toBe(fmt.num(12_345));
    expect(fmt.compact(12_345).length).toBeLessThan(fmt.num(12_345).length);
    expect(fmt.exact(12_345)).toBe(fmt.num(12_345));
    expect(fmt.num(null)).toBe(fmt.num(0));
    expect(fmt.percent(Number.NaN)).toBe(fmt.percent(0));
  });

  it('shows characters, marked as an estimate, until the upstream reports output tokens', () => {
    expect(fmt.outputProgress({ output_tokens: 1, output_chars: 0, output_chunks: 0 })).toEqual({ text: '1', estimate: false, title: '' });
    // Anthropic's message_start says output_tokens: 1 before any text: a placeholder.
    expect(fmt.outputProgress({ output_tokens: 1, output_chars: 120, output_chunks: 3 })).toEqual({
      text: '~120 chars',
      estimate: true,
      title: '120 characters in 3 chunks received so far; the upstream reports output tokens at the end of the stream',
    });
    expect(fmt.outputProgress({ output_tokens: 40, output_chars: 120, output_chunks: 1 })).toEqual({
      text: '40',
      estimate: false,
      title: '40 output tokens; 120 characters in 1 chunk received',
    });
  });
});

describe('money', () => {
  it('writes US dollars in at most six characters: cents below a dollar, then dollars, then compact', () => {
    expect(fmt.usd(null)).toBe('—');
    expect(fmt.usd(undefined)).toBe('—');
    expect(fmt.usd(0)).toBe('$0');
    expect(fmt.usd(0.0048)).toBe('0.48¢');
    expect(fmt.usd(0.5)).toBe('50¢');
    expect(fmt.usd(0.000_000_01)).toBe('<0.01¢');
    // 99.9 cents rounds to two significant digits as 100: a dollar.
    expect(fmt.usd(0.999)).toBe('$1.00');
    expect(fmt.usd(12.5)).toBe('$12.50');
    expect(fmt.usd(123)).toBe('$123');
    expect(fmt.usd(1234)).toBe('$1.23K');
    for (const v of [0.0048, 0.5, 0.999, 12.5, 99.99, 123, 1234, 98_765, 1_234_567]) expect(fmt.usd(v).length).toBeLessThanOrEqual(6);
  });

  it('gives the whole figure to the nanodollar in the tooltip, and the unpriced requests left out of it', () => {
    expect(fmt.usdExact(null)).toBe('no price known for this model (see /metrics/prices)');
    expect(fmt.usdExact(0.004782)).toBe('$0.004782');
    expect(fmt.usdExact(0.000_000_001)).toBe('$0.000000001');
    expect(fmt.usdExact(1)).toBe('$1');
    expect(fmt.usdExact(0.01, 1)).toBe('$0.01; 1 unpriced request not included');
    expect(fmt.usdExact(0.01, 3)).toBe('$0.01; 3 unpriced requests not included');
  });
});

describe('times', () => {
  const at = Date.UTC(2026, 0, 31, 14, 5, 9);

  it('reads Unix seconds, Unix ms and ISO strings; anything else is no time', () => {
    expect(fmt.toDate(at / 1000)?.getTime()).toBe(at);
    expect(fmt.toDate(at)?.getTime()).toBe(at);
    expect(fmt.toDate('2026-01-31T14:05:09Z')?.getTime()).toBe(at);
    expect(fmt.toDate('not a date')).toBeNull();
    expect(fmt.toDate('')).toBeNull();
    expect(fmt.toDate(null)).toBeNull();
    expect(fmt.clock(null)).toBe('—');
    expect(fmt.clock24(undefined)).toBe('—');
    expect(fmt.fullDate('')).toBe('');
  });

  it('says how long ago, from "just now" to days; a time ahead of the clock is "just now"', () => {
    expect(fmt.ago(at - 3_000, at)).toBe('just now');
    expect(fmt.ago(at + 60_000, at)).toBe('just now');
    expect(fmt.ago(at - 30_000, at)).toBe('30 s ago');
    expect(fmt.ago(at - 125_000, at)).toBe('2 min ago');
    expect(fmt.ago(at - 7_200_000, at)).toBe('2 h ago');
    expect(fmt.ago(at - 2 * 86_400_000, at)).toBe('2 d ago');
    expect(fmt.ago(null, at)).toBe('—');
  });

  it('writes a time of today as a clock, an earlier one with its day', () => {
    const now = new Date(at);
    expect(fmt.when(at, now)).toBe(fmt.clock(at));
    const lastWeek = at - 7 * 86_400_000;
    expect(fmt.when(lastWeek, now)).not.toBe(fmt.clock(lastWeek));
    expect(fmt.when(null, now)).toBe('—');
  });
});

describe('provider hues', () => {
  it('gives familiar providers their hand-picked hue, whatever the case', () => {
    expect(fmt.hueOf('anthropic')).toBe(22);
    expect(fmt.hueOf('OpenAI')).toBe(160);
  });

  it('hashes any other name to a stable hue outside the muddy 50-100 band', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `provider-${i}`);
    const hues = names.map((name) => fmt.hueOf(name));
    for (const hue of hues) {
      expect(Number.isInteger(hue)).toBe(true);
      expect(hue >= 0 && hue < 360 && (hue < 50 || hue >= 100)).toBe(true);
    }
    expect(names.map((name) => fmt.hueOf(name))).toEqual(hues);
    expect(new Set(hues).size).toBeGreaterThan(200);
  });

  it('hashes names that are also object keys ("__proto__", "constructor") like any other', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(typeof fmt.hueOf(name)).toBe('number');
  });
});
