import type { Insertable, Selectable } from 'kysely';
import type { ErrorType } from '../core/error-type';
import { USAGE_SOURCES, type UsageSource } from '../core/usage';
import { addRecord, newTotals } from '../metrics/calculations/accumulation';
import type { RequestRecord } from '../metrics/model/request-record';
import { COUNTED_FIELDS } from '../metrics/model/counted-fields';
import type { Totals } from '../metrics/model/totals';
import { ROLLUP_SUMS, type DailyRollupRow, type RequestRow, type RollupRow, type SessionRollupRow } from './schema';

const isUsageSource = (v: string | null): v is UsageSource => (USAGE_SOURCES as readonly (string | null)[]).includes(v);

const text = (v: string | undefined): string | null => (v !== undefined && v !== '' ? v : null);

export function rowOf(record: Readonly<RequestRecord>, instance: string, rowKey: string): Insertable<RequestRow> & { row_key: string } {
  const durationMs = record.durationMs ?? 0;
  return {
    row_key: rowKey,
    instance,
    request_id: record.requestId,
    start_time: record.startTime,
    end_time: record.endTime ?? record.startTime + durationMs / 1000,
    duration_ms: durationMs,
    provider: record.provider ?? null,
    model: record.resolvedModel ?? null,
    requested_model: record.requestedModel ?? null,
    api: text(record.api),
    client: text(record.client),
    user: text(record.user),
    session: text(record.session),
    is_streaming: record.isStreaming ? 1 : 0,
    input_tokens: record.inputTokens,
    output_tokens: record.outputTokens,
    cache_read_tokens: record.cacheReadTokens,
    cache_creation_tokens: record.cacheCreationTokens,
    reasoning_tokens: record.reasoningTokens,
    tool_uses: record.toolUseCount,
    tool_results: record.toolResultCount,
    tool_calls: record.toolCallCount,
    message_count: record.messageCount,
    request_size: record.requestSize,
    response_size: record.responseSize,
    ttft_ms: record.ttftMs ?? null,
    upstream_ms: record.upstreamMs ?? null,
    cost_nano: record.costNano ?? null,
    error_type: record.errorType ?? null,
    error: record.error ?? null,
    service_tier: record.serviceTier ?? null,
    usage_source: record.usageSource ?? null,
  };
}

/** A stored row as a record again (traces and errors restored at start-up). */
export function recordOf(row: Selectable<RequestRow>): RequestRecord {
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  return {
    requestId: row.request_id,
    startTime: Number(row.start_time),
    startMono: 0,
    endTime: Number(row.end_time),
    durationMs: Number(row.duration_ms),
    requestedModel: opt(row.requested_model),
    resolvedModel: opt(row.model),
    provider: opt(row.provider),
    client: row.client ?? 'anonymous',
    user: opt(row.user),
    session: opt(row.session),
    api: opt(row.api) as RequestRecord['api'],
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheCreationTokens: Number(row.cache_creation_tokens),
    reasoningTokens: Number(row.reasoning_tokens),
    cacheWrite1hTokens: 0,
    webSearchRequests: 0,
    costNano: row.cost_nano === null ? null : Number(row.cost_nano),
    messageCount: Number(row.message_count),
    requestSize: Number(row.request_size),
    responseSize: Number(row.response_size),
    isStreaming: Number(row.is_streaming) === 1,
    error: opt(row.error),
    errorType: opt(row.error_type) as ErrorType | undefined,
    toolUseCount: Number(row.tool_uses),
    toolResultCount: Number(row.tool_results),
    toolCallCount: Number(row.tool_calls),
    outputChars: 0,
    outputChunks: 0,
    ttftMs: row.ttft_ms === null ? undefined : Number(row.ttft_ms),
    upstreamMs: row.upstream_ms === null ? undefined : Number(row.upstream_ms),
    serviceTier: opt(row.service_tier),
    usageSource: isUsageSource(row.usage_source) ? row.usage_source : undefined,
  };
}

export const HOUR_S = 3600;
export const DAY_S = 86_400;

type RollupKey = Pick<RollupRow, 'hour' | 'instance' | 'provider' | 'model' | 'client' | 'api' | 'streaming' | 'error_type'>;

/** The batch's hourly sums, one per key, computed with the tracker's own arithmetic so a restore adds up exactly. */
export function rollupsOf(rows: readonly Insertable<RequestRow>[], records: readonly Readonly<RequestRecord>[]): RollupRow[] {
  const byKey = new Map<string, { key: RollupKey; totals: Totals; lastStart: number }>();
  rows.forEach((row, i) => {
    const key: RollupKey = {
      hour: Math.floor(row.start_time / HOUR_S) * HOUR_S,
      instance: row.instance,
      provider: row.provider ?? '',
      model: row.model ?? '',
      client: row.client ?? '',
      api: row.api ?? '',
      streaming: row.is_streaming,
      error_type: row.error_type ?? '',
    };
    const id = Object.values(key).join('\u0000');
    let entry = byKey.get(id);
    if (!entry) {
      entry = { key, totals: newTotals(), lastStart: row.start_time };
      byKey.set(id, entry);
    }
    addRecord(entry.totals, records[i]);
    if (row.start_time > entry.lastStart) entry.lastStart = row.start_time;
  });
  return [...byKey.values()].map(({ key, totals, lastStart }) => rollupRow(key, totals, lastStart));
}

/** The same sums per UTC day: added up from the batch's hourly sums, which are exact. */
export function dailyRollupsOf(hourly: readonly RollupRow[]): DailyRollupRow[] {
  const byKey = new Map<string, DailyRollupRow>();
  for (const h of hourly) {
    const day = Math.floor(h.hour / DAY_S) * DAY_S;
    const id = `${day}\u0000${h.instance}\u0000${h.provider}\u0000${h.model}\u0000${h.client}\u0000${h.api}\u0000${h.streaming}\u0000${h.error_type}`;
    const d = byKey.get(id);
    if (!d) {
      const { hour: _hour, ...rest } = h;
      byKey.set(id, { day, ...rest });
      continue;
    }
    for (const k of ROLLUP_SUMS) d[k] += h[k];
    if (h.last_start > d.last_start) d.last_start = h.last_start;
  }
  return [...byKey.values()];
}

/** The batch's sums per hour, instance, client and session ('' when the request named none). */
export function sessionRollupsOf(rows: readonly Insertable<RequestRow>[], records: readonly Readonly<RequestRecord>[]): SessionRollupRow[] {
  const byKey = new Map<string, { hour: number; instance: string; client: string; session: string; totals: Totals; lastStart: number }>();
  rows.forEach((row, i) => {
    const hour = Math.floor(row.start_time / HOUR_S) * HOUR_S;
    // A session belongs to the client that sent it: the same name from two clients is two sessions.
    const client = row.client ?? '';
    const session = row.session ?? '';
    const id = `${hour}\u0000${row.instance}\u0000${client}\u0000${session}`;
    let entry = byKey.get(id);
    if (!entry) {
      entry = { hour, instance: row.instance, client, session, totals: newTotals(), lastStart: row.start_time };
      byKey.set(id, entry);
    }
    addRecord(entry.totals, records[i]);
    if (row.start_time > entry.lastStart) entry.lastStart = row.start_time;
  });
  return [...byKey.values()].map(({ hour, instance, client, session, totals: t, lastStart }) => ({
    hour,
    instance,
    client,
    session,
    ...sumColumns(t),
    last_start: lastStart,
  }));
}

function sumColumns(t: Totals): Pick<RollupRow, (typeof ROLLUP_SUMS)[number]> {
  const out = {} as Pick<RollupRow, (typeof ROLLUP_SUMS)[number]>;
  for (const f of COUNTED_FIELDS) out[f.column] = t[f.name];
  return out;
}

/** One rollup row per key of a batch (tens per batch, not one per request). */
function rollupRow(k: RollupKey, t: Totals, lastStart: number): RollupRow {
  return { ...k, ...sumColumns(t), last_start: lastStart };
}

/** Stored sums back into a tracker section. */
export function totalsOf(r: Record<string, unknown>): Totals {
  const t = newTotals();
  for (const f of COUNTED_FIELDS) t[f.name] = Number(r[f.column] ?? 0);
  return t;
}
