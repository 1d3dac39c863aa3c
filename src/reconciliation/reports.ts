import type { BillingSettings } from '../config/provider';
import type { ReconciliationDayRow } from '../store/schema';
import { AdminApiError, fetchAllPages } from './admin-api';

export const DAY_S = 86_400;

/** A provider's report for one UTC day and model, in the contract's token split (section 1), as stored. */
export type ReportRow = Omit<ReconciliationDayRow, 'provider' | 'fetched_at'>;

/** Which days a pull asks for: `from` inclusive, `to` exclusive, both UTC midnights. */
export interface DayRange {
  from: number;
  to: number;
}

export interface PullOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Report buckets per page: both documents allow at most 31 one-day buckets on the usage reports. */
const BUCKETS_PER_PAGE = 31;

function count(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new AdminApiError(`malformed page: ${field} is not a count`);
  return value;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminApiError(`malformed page: ${what} is not an object`);
  return value as Record<string, unknown>;
}

function results(bucket: Record<string, unknown>): Record<string, unknown>[] {
  if (!Array.isArray(bucket.results)) throw new AdminApiError('malformed page: a bucket has no results array');
  return bucket.results.map((r) => object(r, 'a result'));
}

/** A bucket's day from its start: Unix seconds (OpenAI) or an RFC 3339 time (Anthropic); a 1-day bucket starts at a UTC midnight. */
function dayOf(start: unknown): number {
  const s = typeof start === 'number' ? start : typeof start === 'string' ? Date.parse(start) / 1000 : NaN;
  if (!Number.isFinite(s)) throw new AdminApiError('malformed page: a bucket has no start time');
  return Math.floor(s / DAY_S) * DAY_S;
}

function modelName(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') throw new AdminApiError('malformed page: model is not a string');
  // Names are the provider's; bounded, as they become row keys.
  return value.slice(0, 200);
}

/** A decimal string of cents (Anthropic's `amount`) in nanodollars, exactly: 1 cent is 10^7 nanodollars. */
export function centsToNano(amount: unknown): number {
  if (typeof amount !== 'string' || !/^-?\d{1,15}(\.\d+)?$/.test(amount)) throw new AdminApiError('malformed page: amount is not a decimal string');
  const negative = amount.startsWith('-');
  const [whole, fraction = ''] = amount.replace('-', '').split('.');
  const digits = (fraction + '00000000').slice(0, 8);
  // Seven decimal places of a cent are whole nanodollars; the eighth rounds half up.
  const nano = Number(whole) * 1e7 + Number(digits.slice(0, 7)) + (Number(digits[7]) >= 5 ? 1 : 0);
  return negative ? -nano : nano;
}

/** A USD amount as a number (OpenAI's `amount.value`) in nanodollars. */
export function usdToNano(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new AdminApiError('malformed page: amount.value is not a number');
  return Math.round(value * 1e9);
}

/** Distinct days and models one pull keeps: a report naming more is refused, so a runaway one cannot grow memory or the store. */
export const MAX_REPORT_ROWS = 20_000;

class Days {
  private readonly rows = new Map<string, ReportRow>();

  at(day: number, model: string): ReportRow {
    const key = `${day}\u0000${model}`;
    let row = this.rows.get(key);
    if (row === undefined) {
      if (this.rows.size >= MAX_REPORT_ROWS) throw new AdminApiError(`the reports name more than ${MAX_REPORT_ROWS} days and models`);
      row = { day, model, requests: null, input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cache_write_1h_tokens: 0, output_tokens: 0, cost_nano: null };
      this.rows.set(key, row);
    }
    return row;
  }

  addCost(day: number, model: string, nano: number): void {
    const row = this.at(day, model);
    row.cost_nano = (row.cost_nano ?? 0) + nano;
  }

  list(range: DayRange): ReportRow[] {
    return [...this.rows.values()].filter((r) => r.day >= range.from && r.day < range.to).sort((a, b) => a.day - b.day || a.model.localeCompare(b.model));
  }
}

/**
 * OpenAI's organization usage and costs, with an admin key as a Bearer token (OpenAPI `AdminApiKeyAuth`, scheme bearer).
 * Shapes from the OpenAI OpenAPI document (github.com/openai/openai-openapi, openapi.yaml):
 * - `GET /organization/usage/completions` (operationId usage-completions): `start_time`, `end_time` (Unix seconds),
 *   `bucket_width=1d`, `group_by=model`, `api_key_ids`, `limit` (1d: at most 31), `page` = the previous `next_page`.
 *   Answers `UsageResponse` {object: "page", data: [UsageTimeBucket {start_time, end_time, results}], has_more, next_page};
 *   each `UsageCompletionsResult` has `input_tokens` (including cached and cache-write tokens), `input_cached_tokens`,
 *   `input_cache_write_tokens`, `output_tokens`, `num_model_requests`, `model`.
 * - `GET /organization/costs` (operationId usage-costs): the same paging; `group_by=line_item`, `api_key_ids`, `limit` up to 180.
 *   Each `CostsResult` has `amount` {value (a number), currency ("usd")} and `line_item`.
 * The costs report has no model grouping: a line item named `<model>, <kind>` (as OpenAI's line items read) is that
 * model's; any other is cost the report attributes to no model ('').
 */
export async function pullOpenAi(billing: BillingSettings, range: DayRange, options: PullOptions): Promise<ReportRow[]> {
  const headers = { authorization: `Bearer ${billing.adminKey}`, accept: 'application/json' };
  const base = `${billing.baseUrl}/organization`;
  const days = new Days();

  const usage = new URL(`${base}/usage/completions`);
  usage.searchParams.set('start_time', String(range.from));
  usage.searchParams.set('end_time', String(range.to));
  usage.searchParams.set('bucket_width', '1d');
  usage.searchParams.append('group_by', 'model');
  usage.searchParams.set('limit', String(BUCKETS_PER_PAGE));
  if (billing.apiKeyId) usage.searchParams.append('api_key_ids', billing.apiKeyId);
  for (const raw of await fetchAllPages({ url: usage, headers, ...options })) {
    const bucket = object(raw, 'a bucket');
    const day = dayOf(bucket.start_time);
    for (const r of results(bucket)) {
      const row = days.at(day, modelName(r.model));
      const input = count(r.input_tokens, 'input_tokens');
      const cached = count(r.input_cached_tokens, 'input_cached_tokens');
      const written = count(r.input_cache_write_tokens, 'input_cache_write_tokens');
      if (cached + written > input) throw new AdminApiError('malformed page: input_cached_tokens and input_cache_write_tokens exceed input_tokens');
      row.requests = (row.requests ?? 0) + count(r.num_model_requests, 'num_model_requests');
      // OpenAI's input counts the cached tokens (and the cache writes); the contract's input_tokens excludes them.
      row.input_tokens += input - cached - written;
      row.cache_read_tokens += cached;
      row.cache_write_tokens += written;
      row.output_tokens += count(r.output_tokens, 'output_tokens');
    }
  }

  const costs = new URL(`${base}/costs`);
  costs.searchParams.set('start_time', String(range.from));
  costs.searchParams.set('end_time', String(range.to));
  costs.searchParams.set('bucket_width', '1d');
  costs.searchParams.append('group_by', 'line_item');
  costs.searchParams.set('limit', String(BUCKETS_PER_PAGE));
  if (billing.apiKeyId) costs.searchParams.append('api_key_ids', billing.apiKeyId);
  for (const raw of await fetchAllPages({ url: costs, headers, ...options })) {
    const bucket = object(raw, 'a bucket');
    const day = dayOf(bucket.start_time);
    for (const r of results(bucket)) {
      const amount = object(r.amount, 'amount');
      if (typeof amount.currency !== 'string' || amount.currency.toLowerCase() !== 'usd') throw new AdminApiError(`malformed page: currency ${JSON.stringify(amount.currency)} is not usd`);
      const item = typeof r.line_item === 'string' ? r.line_item : '';
      const comma = item.indexOf(', ');
      days.addCost(day, comma > 0 ? modelName(item.slice(0, comma)) : '', usdToNano(amount.value));
    }
  }
  return days.list(range);
}

/**
 * Anthropic's Admin API usage and cost reports, with the admin key in `x-api-key` and `anthropic-version: 2023-06-01`.
 * Shapes from Anthropic's API reference (platform.claude.com/docs/en/api/admin/usage_report/retrieve_messages and
 * .../admin/cost_report):
 * - `GET /v1/organizations/usage_report/messages`: `starting_at`, `ending_at` (RFC 3339), `bucket_width=1d`,
 *   `group_by[]=model`, `api_key_ids[]`, `limit` (1d: at most 31), `page` = the previous `next_page`. Answers
 *   {data: [{starting_at, ending_at, results}], has_more, next_page}; each result has `uncached_input_tokens`,
 *   `cache_read_input_tokens`, `cache_creation` {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, `output_tokens`, `model`.
 *   It counts no requests.
 * - `GET /v1/organizations/cost_report`: the same paging, `group_by[]=description` (which fills `model`), `limit` at most 31.
 *   Each result has `amount`, a decimal string of cents ("123.45" is $1.2345), `currency` ("USD"), `model` (null for
 *   costs of no model). The cost report takes no `api_key_ids`: with `{NAME}_API_KEY_ID` it covers the whole organization.
 */
export async function pullAnthropic(billing: BillingSettings, range: DayRange, options: PullOptions): Promise<ReportRow[]> {
  const headers = { 'x-api-key': billing.adminKey, 'anthropic-version': '2023-06-01', accept: 'application/json' };
  const base = `${billing.baseUrl}/v1/organizations`;
  const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const days = new Days();

  const usage = new URL(`${base}/usage_report/messages`);
  usage.searchParams.set('starting_at', iso(range.from));
  usage.searchParams.set('ending_at', iso(range.to));
  usage.searchParams.set('bucket_width', '1d');
  usage.searchParams.append('group_by[]', 'model');
  usage.searchParams.set('limit', String(BUCKETS_PER_PAGE));
  if (billing.apiKeyId) usage.searchParams.append('api_key_ids[]', billing.apiKeyId);
  for (const raw of await fetchAllPages({ url: usage, headers, ...options })) {
    const bucket = object(raw, 'a bucket');
    const day = dayOf(bucket.starting_at);
    for (const r of results(bucket)) {
      const row = days.at(day, modelName(r.model));
      const creation = r.cache_creation === undefined || r.cache_creation === null ? {} : object(r.cache_creation, 'cache_creation');
      const oneHour = count(creation.ephemeral_1h_input_tokens, 'ephemeral_1h_input_tokens');
      row.input_tokens += count(r.uncached_input_tokens, 'uncached_input_tokens');
      row.cache_read_tokens += count(r.cache_read_input_tokens, 'cache_read_input_tokens');
      row.cache_write_tokens += count(creation.ephemeral_5m_input_tokens, 'ephemeral_5m_input_tokens') + oneHour;
      row.cache_write_1h_tokens += oneHour;
      row.output_tokens += count(r.output_tokens, 'output_tokens');
    }
  }

  const costs = new URL(`${base}/cost_report`);
  costs.searchParams.set('starting_at', iso(range.from));
  costs.searchParams.set('ending_at', iso(range.to));
  costs.searchParams.set('bucket_width', '1d');
  costs.searchParams.append('group_by[]', 'description');
  costs.searchParams.set('limit', String(BUCKETS_PER_PAGE));
  for (const raw of await fetchAllPages({ url: costs, headers, ...options })) {
    const bucket = object(raw, 'a bucket');
    const day = dayOf(bucket.starting_at);
    for (const r of results(bucket)) {
      if (typeof r.currency !== 'string' || r.currency.toUpperCase() !== 'USD') throw new AdminApiError(`malformed page: currency ${JSON.stringify(r.currency)} is not USD`);
      days.addCost(day, modelName(r.model), centsToNano(r.amount));
    }
  }
  return days.list(range);
}

export function pullReports(billing: BillingSettings, range: DayRange, options: PullOptions): Promise<ReportRow[]> {
  return billing.format === 'anthropic' ? pullAnthropic(billing, range, options) : pullOpenAi(billing, range, options);
}
