import type { Generated } from 'kysely';
import { COUNTED_COLUMNS, type CountedColumn } from '../metrics/model/counted-fields';

/** One finished request (contract section 1) plus the instance that served it. */
export interface RequestRow {
  id: Generated<number>;
  /** Unique, given when the row is queued, so a batch written again (its commit's reply lost) adds nothing; null in rows stored before it existed. */
  row_key: string | null;
  instance: string;
  request_id: string;
  start_time: number;
  end_time: number;
  duration_ms: number;
  provider: string | null;
  model: string | null;
  requested_model: string | null;
  api: string | null;
  client: string | null;
  user: string | null;
  session: string | null;
  is_streaming: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  reasoning_tokens: number;
  tool_uses: number;
  tool_results: number;
  tool_calls: number;
  message_count: number;
  request_size: number;
  response_size: number;
  ttft_ms: number | null;
  upstream_ms: number | null;
  /** Nanodollars (integers, so sums stay exact); null when no price is known. */
  cost_nano: number | null;
  error_type: string | null;
  error: string | null;
  /** The service tier the upstream reported (`flex`, `priority`, ...), when it did. */
  service_tier: string | null;
  /** Where the counts came from: `reported`, `partial`, `estimated` or `none`; null in rows stored before it was kept. */
  usage_source: string | null;
}

/** Additive sums per hour and key ('' stands for "not known" so the key columns can be unique); the sums are COUNTED_FIELDS' columns. */
export interface RollupRow extends Record<CountedColumn, number> {
  hour: number;
  instance: string;
  provider: string;
  model: string;
  client: string;
  api: string;
  streaming: number;
  error_type: string;
  last_start: number;
}

/** The same sums per UTC day (`day`, Unix seconds of its midnight) and the same key columns. */
export type DailyRollupRow = Omit<RollupRow, 'hour'> & { day: number };

/** The same sums per hour, instance and session ('' for requests that named none). */
export type SessionRollupRow = Pick<RollupRow, 'hour' | 'instance' | 'client' | (typeof ROLLUP_SUMS)[number] | 'last_start'> & { session: string };

/** A provider's own report for one UTC day and model (migration 0008). */
export interface ReconciliationDayRow {
  provider: string;
  /** Unix seconds of the day's UTC midnight. */
  day: number;
  /** The model as the provider's report names it; '' for cost the report does not attribute to a model. */
  model: string;
  /** Null where the report does not count requests (Anthropic's). */
  requests: number | null;
  /** Uncached input: no cache reads, no cache writes. */
  input_tokens: number;
  cache_read_tokens: number;
  /** Every cache write (Anthropic: the 5-minute and the 1-hour ones). */
  cache_write_tokens: number;
  cache_write_1h_tokens: number;
  output_tokens: number;
  /** Nanodollars; null where the report has no cost. */
  cost_nano: number | null;
  fetched_at: number;
}

/** The last complete pull of a provider's reports: the days it covered (`from_day` inclusive, `to_day` exclusive) and when it ended. */
export interface ReconciliationPullRow {
  provider: string;
  from_day: number;
  to_day: number;
  fetched_at: number;
}

export interface StoreSchema {
  reconciliation_days: ReconciliationDayRow;
  reconciliation_pulls: ReconciliationPullRow;
  usage_requests: RequestRow;
  usage_hourly: RollupRow;
  usage_daily: DailyRollupRow;
  usage_session_hourly: SessionRollupRow;
}

export const ROLLUP_KEYS = ['hour', 'instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type'] as const;
export const DAILY_KEYS = ['day', 'instance', 'provider', 'model', 'client', 'api', 'streaming', 'error_type'] as const;
export const SESSION_KEYS = ['hour', 'instance', 'client', 'session'] as const;
/** The summed columns of the rollup tables (COUNTED_FIELDS); a new one comes with its own migration. */
export const ROLLUP_SUMS: readonly CountedColumn[] = COUNTED_COLUMNS;
