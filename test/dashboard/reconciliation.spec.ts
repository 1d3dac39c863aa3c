/**
 * The Reconciliation panel's bars (src/dashboard/public/reconciliation.js), without a DOM: one pair per UTC day,
 * cost where both sides have one, tokens otherwise, and the days with a row outside tolerance marked. The browser
 * spec (test/browser/dashboard.browser.spec.ts) shows the panel in chromium.
 */
import { describe, expect, it } from 'vitest';
import { dayBars, type ReconRow } from '../../src/dashboard/public/reconciliation.js';

const side = (tokens: number, cost: number | null) => ({ requests: 1, input_tokens: tokens, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost_usd: cost });
const row = (day: string, status: string, gateway: [number, number | null], provider: [number, number | null]): ReconRow => ({
  provider: 'openai',
  day,
  model: 'gpt-4o',
  status,
  effective_rate: null,
  gateway: side(...gateway),
  provider_report: side(...provider),
  delta: {},
});

describe(dayBars.name, () => {
  it('sums each day on both sides, in day order, and marks a day with a row outside tolerance (not one within the lag)', () => {
    const { bars, unit } = dayBars([
      row('2026-12-02', 'match', [10, 0.5], [10, 0.5]),
      row('2026-12-01', 'price_drift', [10, 1], [10, 0.7]),
      row('2026-12-01', 'match', [5, 0.25], [5, 0.25]),
      row('2026-12-03', 'provider_lag', [10, 0.5], [4, 0.2]),
    ]);
    expect(unit).toBe('usd');
    expect(bars).toEqual([
      { day: '2026-12-01', gateway: 1.25, provider: 0.95, drift: true },
      { day: '2026-12-02', gateway: 0.5, provider: 0.5, drift: false },
      { day: '2026-12-03', gateway: 0.5, provider: 0.2, drift: false },
    ]);
  });

  it('charts tokens where no row has a cost on both sides', () => {
    expect(dayBars([row('2026-12-01', 'unrouted_traffic', [10, null], [12, 0.1])])).toEqual({ unit: 'tokens', bars: [{ day: '2026-12-01', gateway: 10, provider: 12, drift: true }] });
  });
});
