import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAdminApi } from '../../test/fakes/fake-admin-api';
import { AdminApiError } from './admin-api';
import { DAY_S, MAX_REPORT_ROWS, pullAnthropic, pullOpenAi } from './reports';

/** The report readers against the fake admin API on loopback (its documented shapes, paged two days a page). */
let admin: FakeAdminApi;
const KEYS = { openai: 'sk-admin-openai-unit-01', anthropic: 'sk-ant-admin01-unit-02' };
const TODAY = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S;
const range = { from: TODAY - 6 * DAY_S, to: TODAY + DAY_S };

beforeAll(async () => {
  admin = await FakeAdminApi.start(KEYS);
});
afterAll(() => admin.close());

describe('the report readers', () => {
  it('map both formats to the contract split, keep costs exact, and page through every day', async () => {
    admin.billed.openai = [{ day: TODAY - 5 * DAY_S, model: 'gpt-4o', requests: 4, input: 100, cacheRead: 30, cacheWrite5m: 7, output: 20, costNano: 123_456_789 }];
    admin.billed.anthropic = [{ day: TODAY, model: 'claude-x', input: 100, cacheRead: 30, cacheWrite5m: 7, cacheWrite1h: 5, output: 20, costNano: 987_654_321 }];
    const openai = await pullOpenAi({ format: 'openai', adminKey: KEYS.openai, baseUrl: `${admin.url}/v1` }, range, { timeoutMs: 5000 });
    expect(openai).toEqual([{ day: TODAY - 5 * DAY_S, model: 'gpt-4o', requests: 4, input_tokens: 100, cache_read_tokens: 30, cache_write_tokens: 7, cache_write_1h_tokens: 0, output_tokens: 20, cost_nano: 123_456_789 }]);
    const anthropic = await pullAnthropic({ format: 'anthropic', adminKey: KEYS.anthropic, baseUrl: admin.url }, range, { timeoutMs: 5000 });
    expect(anthropic).toEqual([{ day: TODAY, model: 'claude-x', requests: null, input_tokens: 100, cache_read_tokens: 30, cache_write_tokens: 12, cache_write_1h_tokens: 5, output_tokens: 20, cost_nano: 987_654_321 }]);
  });

  it('refuse a report naming more days and models than a pull keeps', async () => {
    admin.pageBuckets = 1;
    admin.billed.openai = [0, 1].flatMap((d) =>
      Array.from({ length: MAX_REPORT_ROWS / 2 + 1 }, (_, i) => ({ day: TODAY - d * DAY_S, model: `m-${i}`, input: 1, output: 1, costNano: 1 })),
    );
    await expect(pullOpenAi({ format: 'openai', adminKey: KEYS.openai, baseUrl: `${admin.url}/v1` }, range, { timeoutMs: 20_000 })).rejects.toThrow(
      new AdminApiError(`the reports name more than ${MAX_REPORT_ROWS} days and models`),
    );
    admin.pageBuckets = 2;
  });
});
