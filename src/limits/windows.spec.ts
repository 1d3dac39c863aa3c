import { describe, expect, it } from 'vitest';
import { windowOf } from './windows';

const iso = (w: { start: number; end: number }): [string, string] => [new Date(w.start).toISOString(), new Date(w.end).toISOString()];

describe('windowOf', () => {
  it.each([
    ['minute', '2026-03-04T10:20:30.500Z', '2026-03-04T10:20:00.000Z', '2026-03-04T10:21:00.000Z'],
    ['hour', '2026-03-04T10:20:30.500Z', '2026-03-04T10:00:00.000Z', '2026-03-04T11:00:00.000Z'],
    ['day', '2026-03-04T23:59:59.999Z', '2026-03-04T00:00:00.000Z', '2026-03-05T00:00:00.000Z'],
    // 2026-03-01 is a Sunday: its week began on Monday 2026-02-23.
    ['week', '2026-03-01T12:00:00.000Z', '2026-02-23T00:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ['week', '2026-03-02T00:00:00.000Z', '2026-03-02T00:00:00.000Z', '2026-03-09T00:00:00.000Z'],
    ['month', '2026-12-31T23:00:00.000Z', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['month', '2028-02-29T05:00:00.000Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
  ] as const)('%s at %s is [%s, %s)', (period, at, start, end) => {
    expect(iso(windowOf(period, Date.parse(at)))).toEqual([start, end]);
  });
});
