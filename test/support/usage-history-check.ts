/**
 * A history over several UTC days, written through the store's own batch writer, and the check that
 * `/metrics/usage` answers over it exactly what summing the requests themselves gives, whichever
 * rollups it read.
 */
import { expect } from 'vitest';
import type { RequestRecord } from '../../src/metrics/model/request-record';
import { isoSeconds } from '../../src/metrics/calculations/duration';
import { rowOf } from '../../src/store/rows';
import type { GroupBy } from '../../src/store/usage-query';
import type { UsageStore } from '../../src/store/usage-store.service';
import { StatementCache, writeBatch, type QueuedRow } from '../../src/store/write-batch';
import { rng } from '../soak/soak-engine';
import { makeRecord } from './factories';

const HOUR_S = 3600;
const DAY_S = 86_400;

export interface History {
  records: RequestRecord[];
  /** The range queried: partial hours at both ends, whole hours before and after four whole days. */
  from: number;
  to: number;
}

/** `n` requests from 7 hours before a UTC midnight to 9 hours past four days after it, some outside the range queried. */
export async function seedHistory(store: UsageStore, instance: string, n: number, seed: number): Promise<History> {
  const midnight = Math.floor(Date.now() / 1000 / DAY_S) * DAY_S - 10 * DAY_S;
  const first = midnight - 7 * HOUR_S;
  const last = midnight + 4 * DAY_S + 9 * HOUR_S;
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const records: RequestRecord[] = [];
  for (let i = 0; i < n; i++) {
    const provider = pick(['anthropic', 'openai', undefined]);
    const failed = random() < 0.1;
    records.push(
      makeRecord({
        requestId: `hist-${seed}-${i}`,
        startTime: first + random() * (last - first),
        durationMs: 50 + random() * 5000,
        upstreamMs: random() < 0.9 ? 40 : undefined,
        ttftMs: random() < 0.5 ? 30 + random() * 100 : undefined,
        provider,
        resolvedModel: provider === undefined ? undefined : pick(['gpt-5', 'claude-sonnet-4-5', 'Gpt-4o']),
        api: pick(['anthropic_messages', 'openai_chat', undefined] as const),
        client: pick(['team-a', 'team-b', 'anonymous']),
        user: pick(['u-1', 'u-2', undefined]),
        session: pick(['s-1', 's-10', 'S-2', 'other', undefined]),
        isStreaming: random() < 0.5,
        inputTokens: Math.floor(random() * 1000),
        outputTokens: Math.floor(random() * 500),
        cacheReadTokens: Math.floor(random() * 300),
        cacheCreationTokens: Math.floor(random() * 50),
        reasoningTokens: Math.floor(random() * 20),
        toolUseCount: Math.floor(random() * 3),
        toolCallCount: Math.floor(random() * 2),
        toolResultCount: Math.floor(random() * 2),
        costNano: random() < 0.2 ? null : Math.floor(random() * 5_000_000),
        usageSource: pick(['reported', 'reported', 'estimated', 'partial', 'none'] as const),
        errorType: failed ? pick(['rate_limit', 'upstream_timeout'] as const) : undefined,
        error: failed ? 'failed' : undefined,
      }),
    );
  }
  const statements = new StatementCache();
  const db = store.db;
  if (!db) throw new Error('store not connected');
  for (let i = 0; i < records.length; i += 200) {
    const batch: QueuedRow[] = records.slice(i, i + 200).map((record) => ({ row: rowOf(record, instance, record.requestId), record }));
    await writeBatch(db, batch, statements);
  }
  return { records, from: midnight - 5 * HOUR_S - 793, to: midnight + 4 * DAY_S + 6 * HOUR_S + 421 };
}

const globRe = (glob: string): RegExp => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');

type Filters = Partial<Record<'provider' | 'model' | 'client' | 'user' | 'session', string>>;

/** The answer computed from the requests themselves: the group keys as the gateway shows them, and the sums. */
export function expectedUsage(h: History, instance: string, groupBy: readonly GroupBy[], filters: Filters): Map<string, Record<string, unknown>> {
  const field = (r: RequestRecord, g: GroupBy): string | null => {
    if (g === 'hour') return isoSeconds(Math.floor(r.startTime / HOUR_S) * HOUR_S);
    if (g === 'day') return isoSeconds(Math.floor(r.startTime / DAY_S) * DAY_S);
    if (g === 'instance') return instance;
    if (g === 'model') return r.resolvedModel ?? null;
    return r[g] || null;
  };
  const out = new Map<string, Record<string, unknown>>();
  for (const r of h.records) {
    if (r.startTime < h.from || r.startTime >= h.to) continue;
    const match = Object.entries(filters).every(([name, glob]) => {
      const v = field(r, name as GroupBy);
      return v !== null && globRe(glob).test(v);
    });
    if (!match) continue;
    const keys = Object.fromEntries(groupBy.map((g) => [g, field(r, g)]));
    const id = JSON.stringify(groupBy.map((g) => keys[g]));
    let row = out.get(id) as Record<string, number> | undefined;
    if (!row) {
      row = { ...keys, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_creation_tokens: 0, reasoning_tokens: 0, tool_uses: 0, tool_results: 0, tool_calls: 0, cost_nano: 0, unpriced_requests: 0, estimated_requests: 0, total_duration_ms: 0 };
      out.set(id, row);
    }
    row.requests += 1;
    row.errors += r.errorType === undefined ? 0 : 1;
    row.input_tokens += r.inputTokens;
    row.output_tokens += r.outputTokens;
    row.cache_read_tokens += r.cacheReadTokens;
    row.cache_creation_tokens += r.cacheCreationTokens;
    row.reasoning_tokens += r.reasoningTokens;
    row.tool_uses += r.toolUseCount;
    row.tool_results += r.toolResultCount;
    row.tool_calls += r.toolCallCount;
    if (r.costNano === null || r.costNano === undefined) row.unpriced_requests += 1;
    else row.cost_nano += r.costNano;
    if (r.usageSource === 'estimated' || r.usageSource === 'partial') row.estimated_requests += 1;
    row.total_duration_ms += Math.round(r.durationMs ?? 0);
  }
  for (const row of out.values() as Iterable<Record<string, number>>) {
    row.cost_usd = row.cost_nano / 1e9;
    delete row.cost_nano;
    row.average_duration_ms = Math.round(row.total_duration_ms / row.requests);
  }
  return out;
}

/** `groupedBy`: what the gateway groups by when it is not `groupBy` (a user or a session is grouped with its client). */
export const HISTORY_CASES: { groupBy: GroupBy[]; groupedBy?: GroupBy[]; filters?: Filters; source: string }[] = [
  { groupBy: [], source: 'daily+hourly+rows' },
  { groupBy: ['day', 'model'], source: 'daily+hourly+rows' },
  { groupBy: ['provider', 'model', 'hour'], source: 'hourly+rows' },
  { groupBy: ['client', 'api', 'instance'], filters: { model: 'g*' }, source: 'daily+hourly+rows' },
  { groupBy: ['provider'], filters: { provider: '*' }, source: 'daily+hourly+rows' },
  { groupBy: ['session'], groupedBy: ['client', 'session'], source: 'session_hourly+rows' },
  { groupBy: ['session', 'day', 'instance'], groupedBy: ['client', 'session', 'day', 'instance'], source: 'session_hourly+rows' },
  { groupBy: ['hour'], filters: { session: 's-1*' }, source: 'session_hourly+rows' },
  { groupBy: ['session'], groupedBy: ['client', 'session'], filters: { session: 's-2' }, source: 'session_hourly+rows' },
  { groupBy: ['day', 'session'], groupedBy: ['day', 'client', 'session'], filters: { client: 'team-*' }, source: 'session_hourly+rows' },
  { groupBy: ['session', 'model'], groupedBy: ['client', 'session', 'model'], source: 'rows' },
  { groupBy: ['user'], groupedBy: ['client', 'user'], filters: { client: 'team-?' }, source: 'rows' },
  { groupBy: ['user', 'client'], source: 'rows' },
];

/** Every case's answer from `url` equals the one summed from the requests, and names the tables it read. */
export async function checkHistory(url: string, h: History, instance: string): Promise<void> {
  for (const c of HISTORY_CASES) {
    const filters = c.filters ?? {};
    const query = new URLSearchParams({ from: isoSeconds(h.from), to: isoSeconds(h.to), group_by: c.groupBy.join(','), ...filters });
    const res = await fetch(`${url}/metrics/usage?${query.toString()}`);
    const doc = (await res.json()) as { source: string; group_by: GroupBy[]; rows: Record<string, unknown>[] };
    const label = `${c.groupBy.join(',')} ${JSON.stringify(filters)}`;
    expect(res.status, label).toBe(200);
    expect(doc.source, label).toBe(c.source);
    const groupBy = c.groupedBy ?? c.groupBy;
    expect(doc.group_by, label).toEqual(groupBy);
    const expected = expectedUsage(h, instance, groupBy, filters);
    expect(expected.size, label).toBeGreaterThan(0);
    const actual = new Map(doc.rows.map((r) => [JSON.stringify(groupBy.map((g) => r[g])), r]));
    expect(Object.fromEntries(actual), label).toEqual(Object.fromEntries(expected));
  }
}
