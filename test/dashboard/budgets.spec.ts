/**
 * The Budgets panel's figures (src/dashboard/public/budgets.js), without a DOM: the bar's shares of the limit,
 * who an instance is for, and the forecast in words. The browser spec shows the panel in chromium.
 */
import { describe, expect, it } from 'vitest';
import { barShares, forecastText, whose, type WireBudget } from '../../src/dashboard/public/budgets.js';

const budget = (over: Partial<WireBudget> = {}): WireBudget => ({
  name: 'dev',
  client: 'alice',
  user: null,
  period: 'month',
  window_start: '2026-12-01T00:00:00.000Z',
  window_end: '2027-01-01T00:00:00.000Z',
  limit_usd: 10,
  spent_usd: 4,
  reserved_usd: 1,
  remaining_usd: 5,
  requests: 3,
  refused: 0,
  overshoot_usd: 0,
  forecast: { usd_per_hour: 0.1, exhausted_at: null },
  ...over,
});

describe('the Budgets panel', () => {
  it('draws spent and reserved as shares of the limit, never past it, and marks a budget at its limit', () => {
    expect(barShares(budget())).toEqual({ spent: 0.4, reserved: 0.1, over: false });
    expect(barShares(budget({ spent_usd: 9, reserved_usd: 3 }))).toEqual({ spent: 0.9, reserved: expect.closeTo(0.1, 12) as number, over: true });
    expect(barShares(budget({ spent_usd: 12, reserved_usd: 0 }))).toEqual({ spent: 1, reserved: 0, over: true });
  });

  it('names who an instance is for', () => {
    expect(whose(budget())).toBe('alice');
    expect(whose(budget({ user: 'bob' }))).toBe('alice / bob');
    expect(whose(budget({ user: '' }))).toBe('alice / (no user)');
    expect(whose(budget({ client: null }))).toBe('shared');
  });

  it('says when the burn rate runs it out', () => {
    const now = new Date('2026-12-10T12:00:00Z');
    expect(forecastText(budget(), now)).toBe('lasts the window');
    expect(forecastText(budget({ spent_usd: 0 }), now)).toBe('—');
    expect(forecastText(budget({ forecast: { usd_per_hour: 1, exhausted_at: '2026-12-10T11:00:00Z' } }), now)).toBe('exhausted');
    expect(forecastText(budget({ forecast: { usd_per_hour: 1, exhausted_at: '2026-12-10T18:00:00Z' } }), now)).toMatch(/^runs out /);
  });
});
