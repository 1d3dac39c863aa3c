import type { RequestRecord } from '../model/request-record';
import { recordCost } from '../pricing/cost';
import type { ClientCell, Split, Totals } from '../model/totals';

/**
 * Spelled out, in the table's order: a literal keeps every field in the object itself, which the
 * per-request addRecord reads and writes (counted-fields.spec.ts holds it to the table).
 */
export function newTotals(): Totals {
  return {
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheCreationTokens: 0,
    reasoningTokens: 0,
    toolUses: 0,
    toolResults: 0,
    toolCalls: 0,
    costNano: 0,
    unpriced: 0,
    estimatedRequests: 0,
    totalDurationMs: 0,
    completed: 0,
    ttftCount: 0,
    totalTtftMs: 0,
    overheadCount: 0,
    totalOverheadMs: 0,
  };
}

export function newSplit(): Split {
  return { total: newTotals(), streaming: newTotals(), nonStreaming: newTotals() };
}

/**
 * Adds one request. An in-flight request (no durationMs yet) adds its counts but no duration.
 * Field by field, spelled out: it runs for every request (counted-fields.spec.ts holds it to the table).
 */
export function addRecord(target: Totals, r: RequestRecord): void {
  target.requests += 1;
  if (r.errorType !== undefined) target.errors += 1;
  target.inputTokens += r.inputTokens;
  target.outputTokens += r.outputTokens;
  target.cacheReadTokens += r.cacheReadTokens;
  target.cacheCreationTokens += r.cacheCreationTokens;
  target.reasoningTokens += r.reasoningTokens;
  target.toolUses += r.toolUseCount;
  target.toolResults += r.toolResultCount;
  target.toolCalls += r.toolCallCount;
  const cost = recordCost(r);
  if (cost === null) target.unpriced += 1;
  else target.costNano += cost;
  if (r.usageSource === 'estimated' || r.usageSource === 'partial') target.estimatedRequests += 1;
  if (r.durationMs !== undefined) {
    target.completed += 1;
    target.totalDurationMs += Math.round(r.durationMs);
    if (r.upstreamMs !== undefined) {
      target.overheadCount += 1;
      target.totalOverheadMs += Math.max(0, r.durationMs - r.upstreamMs);
    }
  }
  if (r.ttftMs !== undefined) {
    target.ttftCount += 1;
    target.totalTtftMs += r.ttftMs;
  }
}

export function addRecordToSplit(split: Split, r: RequestRecord): void {
  addRecord(split.total, r);
  addRecord(r.isStreaming ? split.streaming : split.nonStreaming, r);
}

export function newClientCell(): ClientCell {
  return { split: newSplit(), streamingOutcomes: new Map(), nonStreamingOutcomes: new Map() };
}

/** Adds one finished request to its client's cell of a bucket. */
export function addRecordToClientCell(cells: Map<string, ClientCell>, r: RequestRecord): void {
  let cell = cells.get(r.client);
  if (cell === undefined) {
    cell = newClientCell();
    cells.set(r.client, cell);
  }
  addRecordToSplit(cell.split, r);
  cell.lastStart = Math.max(cell.lastStart ?? r.startTime, r.startTime);
  const byApi = r.isStreaming ? cell.streamingOutcomes : cell.nonStreamingOutcomes;
  const api = r.api ?? 'unknown';
  let outcomes = byApi.get(api);
  if (outcomes === undefined) {
    // A success series exists from the first request on, so it never appears out of nowhere.
    outcomes = new Map([['success', 0]]);
    byApi.set(api, outcomes);
  }
  const outcome = r.errorType ?? 'success';
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
}

/** Field by field, spelled out: this runs once per bucket and section on every report (counted-fields.spec.ts holds it to the table). */
export function addTotals(target: Totals, source: Totals): void {
  target.requests += source.requests;
  target.errors += source.errors;
  target.inputTokens += source.inputTokens;
  target.outputTokens += source.outputTokens;
  target.cacheReadTokens += source.cacheReadTokens;
  target.cacheCreationTokens += source.cacheCreationTokens;
  target.reasoningTokens += source.reasoningTokens;
  target.toolUses += source.toolUses;
  target.toolResults += source.toolResults;
  target.toolCalls += source.toolCalls;
  target.completed += source.completed;
  target.totalDurationMs += source.totalDurationMs;
  target.ttftCount += source.ttftCount;
  target.totalTtftMs += source.totalTtftMs;
  target.overheadCount += source.overheadCount;
  target.totalOverheadMs += source.totalOverheadMs;
  target.costNano += source.costNano;
  target.unpriced += source.unpriced;
  target.estimatedRequests += source.estimatedRequests;
}

export function addSplit(target: Split, source: Split): void {
  addTotals(target.total, source.total);
  addTotals(target.streaming, source.streaming);
  addTotals(target.nonStreaming, source.nonStreaming);
}
