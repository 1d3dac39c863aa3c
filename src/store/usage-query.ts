import { GatewayErrors } from '../core/errors';

export const GROUP_BY = ['hour', 'day', 'provider', 'model', 'client', 'user', 'session', 'api', 'instance'] as const;
export type GroupBy = (typeof GROUP_BY)[number];
export const FILTERS = ['provider', 'model', 'client', 'user', 'session'] as const;
export type FilterName = (typeof FILTERS)[number];
export const FORMATS = ['json', 'csv', 'yaml'] as const;
export type UsageFormat = (typeof FORMATS)[number];

export interface TimeRange {
  /** Unix seconds, from inclusive, to exclusive. */
  from: number;
  to: number;
}

const RELATIVE = /^-(\d{1,6})([smhd])$/;
const UNIT_S = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
// An ISO-8601 date, or date and time with an optional zone; a bare date is UTC midnight.
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseTime(name: string, value: string | undefined, fallback: number, nowS: number): number {
  if (value === undefined || value === '') return fallback;
  const rel = RELATIVE.exec(value);
  if (rel) return nowS - Number(rel[1]) * UNIT_S[rel[2] as keyof typeof UNIT_S];
  if (value === 'now') return nowS;
  const ms = ISO.test(value) ? Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`) : NaN;
  if (Number.isNaN(ms)) throw new GatewayErrors.VDM_QUERY_TIME(name);
  return ms / 1000;
}

export function parseRange(query: { from?: string; to?: string }, nowS: number): TimeRange {
  const to = parseTime('to', query.to, nowS, nowS);
  const from = parseTime('from', query.from, to - 86_400, nowS);
  if (from >= to) throw new GatewayErrors.VDM_QUERY_RANGE();
  return { from, to };
}

export function parseGroupBy(value: string | undefined): GroupBy[] {
  if (value === undefined || value.trim() === '') return [];
  const parts = value.split(',').map((p) => p.trim().toLowerCase());
  for (const p of parts) {
    if (!(GROUP_BY as readonly string[]).includes(p)) throw new GatewayErrors.VDM_QUERY_GROUP_BY(GROUP_BY.join(', '), JSON.stringify(p));
  }
  if (new Set(parts).size !== parts.length) throw new GatewayErrors.VDM_QUERY_GROUP_BY_REPEATED();
  // A user and a session belong to their client: grouping by either groups by client too, just before it.
  const first = parts.findIndex((p) => p === 'user' || p === 'session');
  if (first >= 0 && !parts.includes('client')) parts.splice(first, 0, 'client');
  return parts as GroupBy[];
}

export function parseFormat(value: string | undefined): UsageFormat {
  if (value === undefined || value === '') return 'json';
  if (!(FORMATS as readonly string[]).includes(value)) throw new GatewayErrors.VDM_QUERY_FORMAT(FORMATS.join(', '));
  return value as UsageFormat;
}

export function parseFilters(query: Partial<Record<FilterName, string>>): Partial<Record<FilterName, string>> {
  const filters: Partial<Record<FilterName, string>> = {};
  for (const name of FILTERS) {
    const v = query[name];
    if (v === undefined) continue;
    if (v === '' || v.length > 256) throw new GatewayErrors.VDM_QUERY_FILTER_LENGTH(name);
    // PostgreSQL holds no NUL in text (a 500 there otherwise): refused alike on both engines.
    if (v.includes('\0')) throw new GatewayErrors.VDM_QUERY_FILTER_NUL(name);
    filters[name] = v;
  }
  return filters;
}

export function parseLimit(value: string | undefined): number {
  if (value === undefined || value === '') return 100;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 1000) throw new GatewayErrors.VDM_QUERY_WHOLE_NUMBER('limit', 1, 1000);
  return Number(value);
}

export function parseStatus(value: string | undefined): 'ok' | 'error' | undefined {
  if (value === undefined || value === '') return undefined;
  if (value !== 'ok' && value !== 'error') throw new GatewayErrors.VDM_QUERY_STATUS();
  return value;
}

/** The cursor is the last row's id, opaque to clients. */
export function encodeCursor(id: number): string {
  return Buffer.from(`r:${id}`).toString('base64url');
}

export function decodeCursor(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^r:(\d{1,18})$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  if (!m) throw new GatewayErrors.VDM_QUERY_CURSOR();
  return Number(m[1]);
}

/** Rows of one /metrics/usage answer: `limit` (default 1000, at most 10000) from `offset`. */
export const USAGE_LIMIT_DEFAULT = 1000;
export const USAGE_LIMIT_MAX = 10_000;
export const USAGE_OFFSET_MAX = 100_000_000;
export const USAGE_ORDERS = ['keys', 'cost', 'requests'] as const;
export type UsageOrder = (typeof USAGE_ORDERS)[number];

export interface UsagePage {
  limit: number;
  offset: number;
  order: UsageOrder;
}

export function parseUsagePage(query: { limit?: string; offset?: string; order?: string }): UsagePage {
  const whole = (name: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) throw new GatewayErrors.VDM_QUERY_WHOLE_NUMBER(name, min, max);
    return Number(value);
  };
  const order = query.order ?? 'keys';
  if (!(USAGE_ORDERS as readonly string[]).includes(order)) throw new GatewayErrors.VDM_QUERY_ORDER(USAGE_ORDERS.join(', '));
  return {
    limit: whole('limit', query.limit, USAGE_LIMIT_DEFAULT, 1, USAGE_LIMIT_MAX),
    offset: whole('offset', query.offset, 0, 0, USAGE_OFFSET_MAX),
    order: order as UsageOrder,
  };
}
