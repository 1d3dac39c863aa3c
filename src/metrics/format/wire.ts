import { averageMs, isoSeconds, ms3 } from '../calculations/duration';
import { UNKNOWN, type RunningTotalsTree } from '../calculations/hierarchical';
import type { UsageSource } from '../../core/usage';
import type { RequestRecord } from '../model/request-record';
import { COUNTED_FIELDS, type CountedField, type CountedWireName } from '../model/counted-fields';
import type { SectionName, Split, Totals } from '../model/totals';
import { recordCost, usd, usdOrNull } from '../pricing/cost';

/** The one place where internal names become the contract's snake_case wire names. */

/** A running-totals section: every counted field under its wire name (COUNTED_FIELDS), and the averages derived from them. */
export interface WireSection extends Record<CountedWireName, number> {
  average_duration_ms: number;
  average_ttft_ms: number;
  average_overhead_ms: number;
}

/**
 * Field by field, spelled out, in the contract's order: it runs once per node and section on every
 * report (counted-fields.spec.ts holds it to the table).
 */
export function wireSection(t: Totals): WireSection {
  return {
    requests: t.requests,
    errors: t.errors,
    input_tokens: t.inputTokens,
    output_tokens: t.outputTokens,
    cache_read_tokens: t.cacheReadTokens,
    cache_creation_tokens: t.cacheCreationTokens,
    reasoning_tokens: t.reasoningTokens,
    tool_uses: t.toolUses,
    tool_results: t.toolResults,
    tool_calls: t.toolCalls,
    average_duration_ms: averageMs(t.totalDurationMs, t.completed),
    total_duration_ms: t.totalDurationMs,
    completed_requests: t.completed,
    average_ttft_ms: averageMs(t.totalTtftMs, t.ttftCount),
    average_overhead_ms: t.overheadCount > 0 ? ms3(t.totalOverheadMs / t.overheadCount) : 0,
    ttft_requests: t.ttftCount,
    total_ttft_ms: ms3(t.totalTtftMs),
    overhead_requests: t.overheadCount,
    total_overhead_ms: ms3(t.totalOverheadMs),
    cost_usd: usd(t.costNano),
    unpriced_requests: t.unpriced,
    estimated_requests: t.estimatedRequests,
  };
}

export interface WireSplit {
  total: WireSection;
  streaming: WireSection;
  non_streaming: WireSection;
}

function wireSplit(s: Split): WireSplit {
  return { total: wireSection(s.total), streaming: wireSection(s.streaming), non_streaming: wireSection(s.nonStreaming) };
}

export interface WireModel extends WireSplit {
  last_accessed: string | null;
}

export interface WireProvider {
  last_accessed: string | null;
  rollup: WireSplit;
  models: Record<string, WireModel>;
}

type SummaryKey = Extract<CountedField, { summary: string }>['summary'];

/** The summary: the counted fields that have a summary name (COUNTED_FIELDS), the averages, and what is no section's. */
export interface WireSummary extends Record<SummaryKey, number> {
  last_accessed: { top: string } | null;
  active_requests: number;
  average_duration_ms: number;
  average_ttft_ms: number;
  average_overhead_ms: number;
  /** count_tokens calls since start (contract section 12): not requests, so in no other figure; no filter applies. */
  count_tokens_requests: number;
}

const SUMMARY_FIELDS = COUNTED_FIELDS.filter((f): f is Extract<CountedField, { summary: string }> => 'summary' in f);

export interface WireClient {
  last_accessed: string | null;
  rollup: WireSplit;
}

export interface WireRunningTotals {
  summary: WireSummary;
  providers: Record<string, WireProvider>;
  clients: Record<string, WireClient>;
}

const iso = (unix: number | undefined): string | null => (unix === undefined ? null : isoSeconds(unix));

export function wireRunningTotals(tree: RunningTotalsTree, countTokensRequests = 0): WireRunningTotals {
  const s = wireSection(tree.summary);
  const providers: Record<string, WireProvider> = {};
  for (const [name, node] of tree.providers) {
    const models: Record<string, WireModel> = {};
    for (const [model, m] of node.models) models[model] = { last_accessed: iso(m.lastAccessed), ...wireSplit(m.split) };
    providers[name] = { last_accessed: iso(node.lastAccessed), rollup: wireSplit(node.rollup), models };
  }
  const clients: Record<string, WireClient> = {};
  for (const [name, node] of tree.clients) clients[name] = { last_accessed: iso(node.lastAccessed), rollup: wireSplit(node.rollup) };
  const summary = { last_accessed: tree.lastAccessed === undefined ? null : { top: isoSeconds(tree.lastAccessed) } } as WireSummary;
  for (const f of SUMMARY_FIELDS) summary[f.summary] = s[f.wire];
  summary.active_requests = tree.activeRequests;
  summary.average_duration_ms = s.average_duration_ms;
  summary.average_ttft_ms = s.average_ttft_ms;
  summary.average_overhead_ms = s.average_overhead_ms;
  summary.count_tokens_requests = countTokensRequests;
  return {
    summary,
    providers,
    clients,
  };
}

export interface WireSeriesRow extends WireSection {
  provider: string;
  model: string;
  mode: SectionName;
}


const MODES: [SectionName, keyof WireSplit][] = [
  ['total', 'total'],
  ['streaming', 'streaming'],
  ['non_streaming', 'non_streaming'],
];

/**
 * Flat rows for JSONPath scrapers (Prometheus json_exporter): one per provider, model and mode.
 * Only model-level rows, so summing a metric over rows never double counts a request.
 */
export function wireSeries(doc: WireRunningTotals): WireSeriesRow[] {
  const rows: WireSeriesRow[] = [];
  for (const [provider, p] of Object.entries(doc.providers)) {
    const remainder: WireSplit = structuredClone(p.rollup);
    for (const [model, m] of Object.entries(p.models)) {
      for (const [mode, key] of MODES) {
        rows.push({ provider, model, mode, ...m[key] });
        subtractInPlace(remainder[key], m[key]);
      }
    }
    if (remainder.total.requests > 0) {
      for (const [mode, key] of MODES) rows.push({ provider, model: UNKNOWN, mode, ...remainder[key] });
    }
  }
  return rows;
}

export interface WireClientSeriesRow extends WireSection {
  client: string;
  mode: SectionName;
}

/** Flat rows per client and mode, for JSONPath scrapers; a client's rows sum to its rollup. */
export function wireClientSeries(doc: WireRunningTotals): WireClientSeriesRow[] {
  const rows: WireClientSeriesRow[] = [];
  for (const [client, c] of Object.entries(doc.clients)) {
    for (const [mode, key] of MODES) rows.push({ client, mode, ...c.rollup[key] });
  }
  return rows;
}

function subtractInPlace(target: WireSection, s: WireSection): void {
  for (const key of Object.keys(s) as (keyof WireSection)[]) {
    if (key.startsWith('average_')) continue;
    target[key] -= s[key];
  }
  target.total_ttft_ms = ms3(target.total_ttft_ms);
  target.total_overhead_ms = ms3(target.total_overhead_ms);
  // Every cost is a whole number of nanodollars: rounding to them undoes the float subtraction's error.
  target.cost_usd = Number(target.cost_usd.toFixed(9));
  target.average_duration_ms = target.completed_requests > 0 ? Math.round(target.total_duration_ms / target.completed_requests) : 0;
  target.average_ttft_ms = target.ttft_requests > 0 ? Math.round(target.total_ttft_ms / target.ttft_requests) : 0;
  target.average_overhead_ms = target.overhead_requests > 0 ? ms3(target.total_overhead_ms / target.overhead_requests) : 0;
}

export interface WireActiveRow {
  request_id: string;
  api: string | null;
  provider: string | null;
  model: string | null;
  requested_model: string | null;
  resolved_model: string | null;
  qualified_model: string | null;
  is_streaming: boolean;
  start_time: number;
  duration_ms: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  reasoning_tokens: number;
  tool_uses: number;
  tool_results: number;
  tool_calls: number;
  request_size: number;
  message_count: number;
  /** Streamed content so far (text, thinking, tool-argument characters, and the deltas that carried them): progress before output tokens are reported. */
  output_chars: number;
  output_chunks: number;
  /** The cost so far, from the usage reported so far; null when no price is known. */
  cost_usd: number | null;
  /** Who sent it, as in traces: the client (key name or fingerprint), the user and session it named. */
  client: string;
  user: string | null;
  session: string | null;
}

/** The requested model without its provider prefix (`openai:gpt-4o` -> `gpt-4o`). */
function unprefixed(requested: string | undefined, provider: string | undefined): string | undefined {
  if (requested === undefined || provider === undefined) return requested;
  const prefix = `${provider}:`;
  return requested.toLowerCase().startsWith(prefix.toLowerCase()) ? requested.slice(prefix.length) : requested;
}

export function wireActiveRow(r: RequestRecord, nowMono: number): WireActiveRow {
  const model = r.resolvedModel ?? unprefixed(r.requestedModel, r.provider);
  return {
    request_id: r.requestId,
    api: r.api ?? null,
    provider: r.provider ?? null,
    model: unprefixed(r.requestedModel, r.provider) ?? null,
    requested_model: r.requestedModel ?? null,
    resolved_model: r.resolvedModel ?? null,
    qualified_model: r.provider && model ? `${r.provider}:${model}` : null,
    is_streaming: r.isStreaming,
    start_time: r.startTime,
    duration_ms: Math.round(nowMono - r.startMono),
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_creation_tokens: r.cacheCreationTokens,
    reasoning_tokens: r.reasoningTokens,
    tool_uses: r.toolUseCount,
    tool_results: r.toolResultCount,
    tool_calls: r.toolCallCount,
    request_size: r.requestSize,
    message_count: r.messageCount,
    output_chars: r.outputChars,
    output_chunks: r.outputChunks,
    cost_usd: usdOrNull(recordCost(r)),
    client: r.client,
    user: r.user ?? null,
    session: r.session ?? null,
  };
}

export interface WireTrace {
  seq: number;
  ts: number;
  request_id: string;
  api: string | null;
  provider: string | null;
  model: string | null;
  requested_model: string | null;
  is_streaming: boolean;
  duration_ms: number;
  ttft_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  reasoning_tokens: number;
  tool_use_count: number;
  tool_call_count: number;
  tool_result_count: number;
  request_size: number;
  response_size: number;
  status: 'ok' | 'error';
  error: string | null;
  error_type: string | null;
  cost_usd: number | null;
  /** Where the counts came from (contract section 14): `reported`, `partial`, `estimated` or `none`. */
  usage_source: UsageSource | null;
  /** The service tier the upstream reported (`default`, `standard`, `flex`, `priority`, ...); null when none. */
  service_tier: string | null;
  client: string;
  user: string | null;
  session: string | null;
}

export function wireTrace(r: RequestRecord, seq: number): WireTrace {
  return {
    seq,
    ts: r.endTime ?? r.startTime,
    request_id: r.requestId,
    api: r.api ?? null,
    provider: r.provider ?? null,
    model: r.resolvedModel ?? null,
    requested_model: r.requestedModel ?? null,
    is_streaming: r.isStreaming,
    duration_ms: ms3(r.durationMs ?? 0),
    ttft_ms: r.ttftMs === undefined ? null : ms3(r.ttftMs),
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_creation_tokens: r.cacheCreationTokens,
    reasoning_tokens: r.reasoningTokens,
    tool_use_count: r.toolUseCount,
    tool_call_count: r.toolCallCount,
    tool_result_count: r.toolResultCount,
    request_size: r.requestSize,
    response_size: r.responseSize,
    status: r.errorType === undefined ? 'ok' : 'error',
    error: r.error ?? null,
    error_type: r.errorType ?? null,
    cost_usd: usdOrNull(recordCost(r)),
    usage_source: r.usageSource ?? null,
    service_tier: r.serviceTier ?? null,
    client: r.client,
    user: r.user ?? null,
    session: r.session ?? null,
  };
}
