import { describe, expect, it } from 'vitest';
import { reconcile, statusOf, type GatewayDay, type ProviderDay } from './compare';
import { centsToNano, usdToNano } from './reports';
import { nextPullDelay, FIRST_RETRY_MS } from './reconciler.service';
import { AdminApiError, readPage, retryAfterMs } from './admin-api';

const DAY = 20_000 * 86_400;
const counts = { requests: 2, input_tokens: 1000, cache_read_tokens: 100, cache_write_tokens: 0, output_tokens: 200, cost_nano: 5_000_000 };
const gateway = (over: Partial<GatewayDay> = {}): GatewayDay => ({ provider: 'openai', day: DAY, model: 'gpt-4o', ...counts, estimated_requests: 0, unpriced_requests: 0, ...over });
const reported = (over: Partial<ProviderDay> = {}): ProviderDay => ({ provider: 'openai', day: DAY, model: 'gpt-4o', ...counts, fetched_at: DAY + 2 * 86_400, ...over });
const pulls = new Map([['openai', { provider: 'openai', from_day: DAY - 6 * 86_400, to_day: DAY + 86_400, fetched_at: DAY + 2 * 86_400 }]]);

describe(statusOf.name, () => {
  const g = { ...counts, unpriced_requests: 0 };
  it.each([
    ['match', counts, true],
    ['match', { ...counts, input_tokens: 1009 }, true],
    ['unrouted_traffic', { ...counts, input_tokens: 1200 }, true],
    ['unrouted_traffic', { ...counts, input_tokens: 1200 }, false],
    ['gateway_over', { ...counts, output_tokens: 100 }, true],
    ['provider_lag', { ...counts, output_tokens: 100 }, false],
    ['price_drift', { ...counts, cost_nano: 3_500_000 }, true],
    ['match', { ...counts, cost_nano: null }, true],
  ] as const)('%s for %j (settled: %s)', (status, p, settled) => {
    expect(statusOf(p, g, 0.01, settled)).toBe(status);
  });

  it('checks no cost when some gateway requests had no price', () => {
    expect(statusOf({ ...counts, cost_nano: 1 }, { ...g, unpriced_requests: 1 }, 0.01, true)).toBe('match');
  });
});

describe(reconcile.name, () => {
  it('pairs a dated snapshot with the model the gateway resolved, and keeps unattributed cost apart', () => {
    const { rows, unattributed } = reconcile([reported({ model: 'gpt-4o-2024-08-06' }), reported({ model: '', cost_nano: 7_000_000, input_tokens: 0 })], [gateway()], pulls, 0.01);
    expect(rows).toEqual([expect.objectContaining({ model: 'gpt-4o', provider_model: 'gpt-4o-2024-08-06', status: 'match', effective_rate: 1 })]);
    expect(unattributed).toEqual([{ provider: 'openai', day: new Date(DAY * 1000).toISOString().slice(0, 10), cost_usd: 0.007 }]);
  });

  it('reads a covered day the provider did not report as zero, and an uncovered one as not asked yet', () => {
    expect(reconcile([], [gateway()], pulls, 0.01).rows[0]).toMatchObject({ status: 'gateway_over', provider_report: { input_tokens: 0, cost_usd: 0 } });
    expect(reconcile([], [gateway({ day: DAY - 30 * 86_400 })], pulls, 0.01).rows[0]).toMatchObject({ status: 'provider_lag', provider_report: { requests: null, cost_usd: null } });
    expect(reconcile([reported()], [], pulls, 0.01).rows[0]).toMatchObject({ status: 'unrouted_traffic', delta: { input_tokens: { absolute: 1000, ratio: null } } });
  });
});

describe('report amounts', () => {
  it('reads cents as decimal strings exactly, and USD numbers', () => {
    expect(centsToNano('123.45')).toBe(1_234_500_000);
    expect(centsToNano('0.0000001')).toBe(1);
    expect(centsToNano('12')).toBe(120_000_000);
    expect(usdToNano(0.06)).toBe(60_000_000);
    expect(() => centsToNano(1.5)).toThrow(AdminApiError);
    expect(() => centsToNano('1e5')).toThrow(AdminApiError);
  });
});

describe('paging and retries', () => {
  it('reads the documented page shape and refuses anything else', () => {
    expect(readPage({ data: [], has_more: false, next_page: null })).toEqual({ data: [], hasMore: false, nextPage: null });
    expect(readPage({ data: [1], has_more: true, next_page: 'page_x' })).toEqual({ data: [1], hasMore: true, nextPage: 'page_x' });
    for (const bad of [null, [], { data: {} }, { data: [], has_more: 'no' }, { data: [], has_more: true, next_page: null }]) expect(() => readPage(bad)).toThrow(AdminApiError);
  });

  it('honours retry-after in seconds or as a date, backs off from 30 s up to the interval', () => {
    expect(retryAfterMs('120', 0)).toBe(120_000);
    expect(retryAfterMs(new Date(90_000).toUTCString(), 0)).toBe(90_000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(nextPullDelay(0, 3_600_000)).toBe(3_600_000);
    expect([1, 2, 3, 10].map((n) => nextPullDelay(n, 3_600_000))).toEqual([FIRST_RETRY_MS, 2 * FIRST_RETRY_MS, 4 * FIRST_RETRY_MS, 3_600_000]);
    expect(nextPullDelay(1, 3_600_000, 600_000)).toBe(600_000);
  });
});
