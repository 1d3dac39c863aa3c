/**
 * Every counted field of a running-totals section, in one table: the tracker's name (Totals), the
 * contract's wire name, the rollup tables' column, the RequestRecord field it sums (when it is one
 * as is), the Prometheus token_type, a label, and where else it shows. Totals, the rollup columns
 * and the history sums, the token families and the summary log are built from it. The loops that
 * stay spelled out for speed (newTotals, addRecord and addToDistributions per request, addTotals,
 * wireSection and rowOf) are held to it by counted-fields.spec.ts.
 *
 * The order is the usage history's column order (GET /metrics/usage, its CSV too).
 */
export interface CountedFieldSpec {
  /** The field of Totals. */
  readonly name: string;
  /** Its key in a running-totals section (contract section 2) and in the usage history. */
  readonly wire: string;
  /** Its key in the running totals' summary, when it is there. */
  readonly summary?: string;
  /** The summed column of the rollup tables (usage_hourly, usage_daily, usage_session_hourly). */
  readonly column: string;
  /** The RequestRecord count added as is, and the usage_requests column that stores it. */
  readonly record?: string;
  /** The `token_type` label of vdm_tokens_total and gen_ai_client_token_usage. */
  readonly tokenType?: string;
  /** How the wire shows it: a count, milliseconds (3 decimals), or nanodollars as US dollars. */
  readonly unit: 'count' | 'ms' | 'nanodollars';
  /** Summed by the usage history API (GET /metrics/usage). */
  readonly history: boolean;
  /** Named in the summary log line, after the request count, errors and average duration it always names. */
  readonly log: boolean;
  readonly label: string;
}

export const COUNTED_FIELDS = [
  { name: 'requests', wire: 'requests', summary: 'total_requests', column: 'requests', unit: 'count', history: true, log: false, label: 'Requests' },
  { name: 'errors', wire: 'errors', summary: 'total_errors', column: 'errors', unit: 'count', history: true, log: false, label: 'Errors' },
  {
    name: 'inputTokens',
    wire: 'input_tokens',
    summary: 'total_input_tokens',
    column: 'input_tokens',
    record: 'inputTokens',
    tokenType: 'input',
    unit: 'count',
    history: true,
    log: true,
    label: 'Input tokens',
  },
  {
    name: 'outputTokens',
    wire: 'output_tokens',
    summary: 'total_output_tokens',
    column: 'output_tokens',
    record: 'outputTokens',
    tokenType: 'output',
    unit: 'count',
    history: true,
    log: true,
    label: 'Output tokens',
  },
  {
    name: 'cacheReadTokens',
    wire: 'cache_read_tokens',
    summary: 'total_cache_read_tokens',
    column: 'cache_read_tokens',
    record: 'cacheReadTokens',
    tokenType: 'cache_read',
    unit: 'count',
    history: true,
    log: true,
    label: 'Cache read tokens',
  },
  {
    name: 'cacheCreationTokens',
    wire: 'cache_creation_tokens',
    summary: 'total_cache_creation_tokens',
    column: 'cache_creation_tokens',
    record: 'cacheCreationTokens',
    tokenType: 'cache_creation',
    unit: 'count',
    history: true,
    log: true,
    label: 'Cache creation tokens',
  },
  {
    // Already included in output tokens, never added to them.
    name: 'reasoningTokens',
    wire: 'reasoning_tokens',
    summary: 'total_reasoning_tokens',
    column: 'reasoning_tokens',
    record: 'reasoningTokens',
    tokenType: 'reasoning',
    unit: 'count',
    history: true,
    log: false,
    label: 'Reasoning tokens',
  },
  { name: 'toolUses', wire: 'tool_uses', summary: 'total_tool_uses', column: 'tool_uses', record: 'toolUseCount', unit: 'count', history: true, log: true, label: 'Tool uses' },
  {
    name: 'toolResults',
    wire: 'tool_results',
    summary: 'total_tool_results',
    column: 'tool_results',
    record: 'toolResultCount',
    unit: 'count',
    history: true,
    log: true,
    label: 'Tool results',
  },
  { name: 'toolCalls', wire: 'tool_calls', summary: 'total_tool_calls', column: 'tool_calls', record: 'toolCallCount', unit: 'count', history: true, log: true, label: 'Tool calls' },
  // Nanodollars of the requests whose price is known (integers, so every sum is exact).
  { name: 'costNano', wire: 'cost_usd', summary: 'total_cost_usd', column: 'cost_nano', unit: 'nanodollars', history: true, log: true, label: 'Cost' },
  // Requests with no known price, so a partial cost is never mistaken for the whole.
  { name: 'unpriced', wire: 'unpriced_requests', summary: 'total_unpriced_requests', column: 'unpriced_requests', unit: 'count', history: true, log: true, label: 'Unpriced requests' },
  // Requests whose counts were estimated in whole or in part (contract section 14).
  {
    name: 'estimatedRequests',
    wire: 'estimated_requests',
    summary: 'total_estimated_requests',
    column: 'estimated_requests',
    unit: 'count',
    history: true,
    log: true,
    label: 'Estimated requests',
  },
  // Sum of per-request durations in whole ms, never wall-clock time.
  { name: 'totalDurationMs', wire: 'total_duration_ms', summary: 'total_duration_ms', column: 'total_duration_ms', unit: 'count', history: true, log: false, label: 'Total duration (ms)' },
  // Finished requests: the denominator of average_duration_ms (in-flight requests have no duration).
  { name: 'completed', wire: 'completed_requests', summary: 'completed_requests', column: 'completed', unit: 'count', history: false, log: false, label: 'Completed requests' },
  // Requests with a time to first token, and their sum: the Prometheus TTFT histogram's _count and _sum.
  { name: 'ttftCount', wire: 'ttft_requests', column: 'ttft_count', unit: 'count', history: false, log: false, label: 'Requests with a time to first token' },
  { name: 'totalTtftMs', wire: 'total_ttft_ms', column: 'total_ttft_ms', unit: 'ms', history: false, log: false, label: 'Total time to first token (ms)' },
  // Requests with a known upstream time, and the sum of their gateway overhead (vdm_gateway_overhead_seconds).
  { name: 'overheadCount', wire: 'overhead_requests', column: 'overhead_count', unit: 'count', history: false, log: false, label: 'Requests with a known upstream time' },
  { name: 'totalOverheadMs', wire: 'total_overhead_ms', column: 'total_overhead_ms', unit: 'ms', history: false, log: false, label: 'Total gateway overhead (ms)' },
] as const satisfies readonly CountedFieldSpec[];

export type CountedField = (typeof COUNTED_FIELDS)[number];
export type CountedName = CountedField['name'];
export type CountedWireName = CountedField['wire'];
export type CountedColumn = CountedField['column'];
export type HistoryField = Extract<CountedField, { history: true }>;
export type TokenField = Extract<CountedField, { tokenType: string }>;
export type TokenType = TokenField['tokenType'];

/** The tracker's additive counters of one section (total, streaming or non_streaming) of a bucket. */
export type Counts = Record<CountedName, number>;

/** The summed columns of the rollup tables, in table order. */
export const COUNTED_COLUMNS: readonly CountedColumn[] = COUNTED_FIELDS.map((f) => f.column);

/** Token kinds, as the `token_type` label spells them (OTel `gen_ai.token.type`, plus the cache kinds; reasoning is counted inside output too, as OTel does). */
export const TOKEN_FIELDS: readonly TokenField[] = COUNTED_FIELDS.filter((f): f is TokenField => 'tokenType' in f);
export const TOKEN_TYPES: readonly TokenType[] = TOKEN_FIELDS.map((f) => f.tokenType);

/** The sums of the usage history API, in its column order. */
export const HISTORY_FIELDS: readonly HistoryField[] = COUNTED_FIELDS.filter((f): f is HistoryField => f.history);
