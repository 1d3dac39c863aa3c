import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, parseFilters, parseFormat, parseGroupBy, parseLimit, parseRange, parseStatus, parseUsagePage } from './usage-query';

const NOW = 1_800_000_000;

function refusal(parse: () => unknown): unknown {
  try {
    parse();
  } catch (error) {
    const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
    return { code: e.code, status: e.statusCode, message: e.message };
  }
  return 'accepted';
}

describe('the history API query parsers', () => {
  it.each([
    ['from', () => parseRange({ from: 'yesterday' }, NOW), 'VDM_QUERY_TIME', 'from must be an ISO-8601 time (2026-01-31T00:00:00Z) or relative (-24h, -7d, -30m)'],
    ['to', () => parseRange({ to: '2026-13-45T00:00:00Z' }, NOW), 'VDM_QUERY_TIME', /^to must be an ISO-8601 time/],
    ['from after to', () => parseRange({ from: '-1h', to: '-2h' }, NOW), 'VDM_QUERY_RANGE', 'from must be before to'],
    ['group_by', () => parseGroupBy('model,nope'), 'VDM_QUERY_GROUP_BY', 'group_by takes a comma list of hour, day, provider, model, client, user, session, api, instance; got "nope"'],
    ['group_by twice', () => parseGroupBy('model,MODEL'), 'VDM_QUERY_GROUP_BY_REPEATED', 'group_by names a key twice'],
    ['format', () => parseFormat('xml'), 'VDM_QUERY_FORMAT', 'format must be one of json, csv, yaml'],
    ['a long glob', () => parseFilters({ model: 'm'.repeat(257) }), 'VDM_QUERY_FILTER_LENGTH', 'model must be a glob of 1 to 256 characters'],
    ['a NUL in a glob', () => parseFilters({ user: 'a\u0000b' }), 'VDM_QUERY_FILTER_NUL', 'user must not contain a NUL character'],
    ['limit', () => parseLimit('1001'), 'VDM_QUERY_WHOLE_NUMBER', 'limit must be a whole number from 1 to 1000'],
    ['status', () => parseStatus('fine'), 'VDM_QUERY_STATUS', 'status must be ok or error'],
    ['cursor', () => decodeCursor('bm9wZQ'), 'VDM_QUERY_CURSOR', 'cursor is not one this gateway handed out'],
    ['a page offset', () => parseUsagePage({ offset: '-1' }), 'VDM_QUERY_WHOLE_NUMBER', 'offset must be a whole number from 0 to 100000000'],
    ['a page limit', () => parseUsagePage({ limit: '0' }), 'VDM_QUERY_WHOLE_NUMBER', 'limit must be a whole number from 1 to 10000'],
    ['order', () => parseUsagePage({ order: 'random' }), 'VDM_QUERY_ORDER', 'order must be one of keys, cost, requests'],
  ])('refuses a bad %s with its catalogue code and a 400', (_what, parse, code, message) => {
    expect(refusal(parse)).toEqual({ code, status: 400, message: typeof message === 'string' ? message : expect.stringMatching(message) });
  });

  it('passes a client-chosen group_by key into the message as text, never as a template', () => {
    expect(refusal(() => parseGroupBy('%s%d'))).toMatchObject({ code: 'VDM_QUERY_GROUP_BY', message: expect.stringMatching(/; got "%s%d"$/) });
  });

  it('accepts what it documents', () => {
    expect(parseRange({ from: '-2h', to: 'now' }, NOW)).toEqual({ from: NOW - 7200, to: NOW });
    expect(parseGroupBy('session,model')).toEqual(['client', 'session', 'model']);
    expect(parseFormat(undefined)).toBe('json');
    expect(parseLimit('1000')).toBe(1000);
    expect(parseStatus('error')).toBe('error');
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    expect(parseUsagePage({})).toEqual({ limit: 1000, offset: 0, order: 'keys' });
  });
});
