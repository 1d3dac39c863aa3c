import { addDistributions, newBucketDistributions, newTokenHistograms } from '../calculations/distributions';
import { addSplit, addTotals, newClientCell, newSplit } from '../calculations/accumulation';
import { addHistogram, cumulativeCounts, newHistogram, type Histogram } from '../calculations/histogram';
import { UNKNOWN } from '../calculations/hierarchical';
import type { ModelCapView } from '../calculations/model-cap';
import {
  LATENCY_BOUNDS,
  OVERHEAD_BOUNDS,
  TOKEN_COUNT_BOUNDS,
  TOKEN_INTERVAL_BOUNDS,
  TOKEN_RATE_BOUNDS,
  TOKEN_TYPES,
  type BucketDistributions,
  type Distributions,
  type TokenType,
} from '../model/distributions';
import { TOKEN_FIELDS, type TokenField } from '../model/counted-fields';
import type { RequestRecord } from '../model/request-record';
import type { Bucket, ClientCell, Split, Totals } from '../model/totals';
import { usd } from '../pricing/cost';

/**
 * Prometheus families built from the tracker's state at scrape time (never per request). Names follow
 * the OpenTelemetry GenAI semantic conventions in their Prometheus form where one exists
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/), `vdm_` otherwise.
 * Every series is a per-instance count or sum, so `sum by (provider, model)` over replicas is the fleet.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram';

export interface FamilySpec {
  name: string;
  help: string;
  type: FamilyType;
}

export type Labels = Record<string, string | number>;

/**
 * One sample line; `metricName` only for histogram parts (`_bucket`, `_sum`, `_count`).
 * `sharedLabels`, one object reused by many lines, is escaped and joined once per object by
 * prom-client (registry.js, flattenSharedLabels), which is most of a large scrape's rendering.
 */
export interface Sample {
  metricName?: string;
  labels: Labels;
  sharedLabels?: Labels;
  value: number;
}

/** For lines whose labels are all shared: one object, so prom-client's per-object cache hits. */
const NO_LABELS: Labels = Object.freeze({});

export const FAMILIES = {
  requests: { name: 'vdm_requests_total', type: 'counter', help: 'Finished requests by client api, client, outcome (success, error) and error_type.' },
  tokens: { name: 'vdm_tokens_total', type: 'counter', help: 'Tokens of finished requests by client and token_type (input, output, cache_read, cache_creation, reasoning: already inside output).' },
  duration: { name: 'gen_ai_client_operation_duration_seconds', type: 'histogram', help: 'Request duration, from the request received to the response ended.' },
  timeToFirstToken: { name: 'gen_ai_server_time_to_first_token_seconds', type: 'histogram', help: 'Time from the request received to the first content from the upstream (streams).' },
  timePerOutputToken: { name: 'gen_ai_server_time_per_output_token_seconds', type: 'histogram', help: 'Inter-token latency of successful streams: (duration - TTFT) / (output tokens - 1).' },
  tokenUsage: { name: 'gen_ai_client_token_usage', type: 'histogram', help: 'Tokens per finished request by provider and token_type (reasoning: already inside output): the distribution; sums by model and client are vdm_tokens_total.' },
  toolUses: { name: 'vdm_tool_uses_total', type: 'counter', help: 'tool_use blocks in the message history of finished requests.' },
  toolResults: { name: 'vdm_tool_results_total', type: 'counter', help: 'tool_result blocks in the message history of finished requests.' },
  toolCalls: { name: 'vdm_tool_calls_total', type: 'counter', help: 'Tool calls the model made in finished responses.' },
  overhead: { name: 'vdm_gateway_overhead_seconds', type: 'histogram', help: "The gateway's own time per request (duration minus time waiting on the upstream), by provider and streaming: it does not depend on the model." },
  outputTokensPerSecond: { name: 'vdm_output_tokens_per_second', type: 'histogram', help: 'Output tokens per second of successful streams, after the first token.' },
  activeRequests: { name: 'vdm_active_requests', type: 'gauge', help: 'Requests in flight.' },
  cost: { name: 'vdm_cost_usd_total', type: 'counter', help: 'US dollars of finished requests whose price is known (GET /metrics/prices).' },
  unpricedRequests: { name: 'vdm_unpriced_requests_total', type: 'counter', help: 'Finished requests with no known price: not in vdm_cost_usd_total.' },
  estimatedRequests: {
    name: 'vdm_estimated_requests_total',
    type: 'counter',
    help: 'Finished requests whose token counts were estimated by the gateway, in whole or in part: the upstream answered but did not report its usage (the client left before it, a timeout, a truncated stream, an answer without usage).',
  },
  foldedRequests: { name: 'vdm_model_folded_requests_total', type: 'counter', help: 'Finished requests counted under model="other" because their provider already had VDM_MAX_MODELS_PER_PROVIDER models.' },
} as const satisfies Record<string, FamilySpec>;

export type FamilyKey = keyof typeof FAMILIES;
export type FamilySamples = Record<FamilyKey, Sample[]>;

export interface PrometheusInput {
  /** The tracker's buckets, already capped per provider (VDM_MAX_MODELS_PER_PROVIDER), so labels are bounded too. */
  buckets: Iterable<Bucket>;
  active: Iterable<RequestRecord>;
  models: ModelCapView;
}

interface Group {
  provider: string;
  model: string;
  split: Split;
  distributions: BucketDistributions;
  clients: Map<string, ClientCell>;
}

/** Each token type's field of Totals and its label, built once. */
const TOKEN_SERIES: readonly { field: TokenField['name']; labels: Labels }[] = TOKEN_FIELDS.map((f) => ({
  field: f.name,
  labels: Object.freeze({ token_type: f.tokenType }),
}));

function addOutcomes(target: Map<string, Map<string, number>>, source: Map<string, Map<string, number>>): void {
  for (const [api, outcomes] of source) {
    let into = target.get(api);
    if (into === undefined) {
      into = new Map();
      target.set(api, into);
    }
    for (const [outcome, n] of outcomes) into.set(outcome, (into.get(outcome) ?? 0) + n);
  }
}

function addClientCells(target: Map<string, ClientCell>, source: Map<string, ClientCell>): void {
  for (const [client, cell] of source) {
    let into = target.get(client);
    if (into === undefined) {
      into = newClientCell();
      target.set(client, into);
    }
    addSplit(into.split, cell.split);
    addOutcomes(into.streamingOutcomes, cell.streamingOutcomes);
    addOutcomes(into.nonStreamingOutcomes, cell.nonStreamingOutcomes);
  }
}

function groupBuckets(buckets: Iterable<Bucket>): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const bucket of buckets) {
    const provider = bucket.provider ?? UNKNOWN;
    const model = bucket.model ?? UNKNOWN;
    const key = `${provider}\u0000${model}`;
    let group = groups.get(key);
    if (!group) {
      group = { provider, model, split: newSplit(), distributions: newBucketDistributions(), clients: new Map() };
      groups.set(key, group);
    }
    addClientCells(group.clients, bucket.clients);
    for (const mode of ['streaming', 'nonStreaming'] as const) {
      addTotals(group.split[mode], bucket.split[mode]);
      addDistributions(group.distributions[mode], bucket.distributions[mode]);
    }
  }
  return groups;
}

const leLabelsByBounds = new WeakMap<readonly number[], Labels[]>();

/** The `le` labels of a bucket set, built once: `+Inf` last. */
function leLabels(bounds: readonly number[]): Labels[] {
  let les = leLabelsByBounds.get(bounds);
  if (les === undefined) {
    les = [...bounds.map((le) => Object.freeze({ le }) as Labels), Object.freeze({ le: '+Inf' })];
    leLabelsByBounds.set(bounds, les);
  }
  return les;
}

function histogramSamples(out: Sample[], name: string, labels: Labels, bounds: readonly number[], h: Histogram): void {
  const cumulative = cumulativeCounts(h);
  const les = leLabels(bounds);
  const bucket = `${name}_bucket`;
  for (let i = 0; i < bounds.length; i++) out.push({ metricName: bucket, labels: les[i], sharedLabels: labels, value: cumulative[i] });
  out.push({ metricName: bucket, labels: les[bounds.length], sharedLabels: labels, value: h.count });
  out.push({ metricName: `${name}_sum`, labels: NO_LABELS, sharedLabels: labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels: NO_LABELS, sharedLabels: labels, value: h.count });
}

function emptySamples(): FamilySamples {
  const out = {} as FamilySamples;
  for (const key of Object.keys(FAMILIES) as FamilyKey[]) out[key] = [];
  return out;
}

/** Every gateway family's samples, from completed buckets and the in-flight requests. */
export function prometheusSamples(input: PrometheusInput): FamilySamples {
  const out = emptySamples();
  const groups = groupBuckets(input.buckets);
  const active = new Map<string, { labels: Labels; value: number }>();
  const tokensByProvider = new Map<string, Record<TokenType, Histogram>>();
  const overheadByProvider = new Map<string, { labels: Labels; histogram: Histogram }>();

  for (const group of groups.values()) {
    // Token sums carry the client but not the mode, which halves the largest family; the running totals split by mode.
    // A token type shows once it is non-zero (most clients never send cache writes or get reasoning), which sums and rate() read as 0 before.
    for (const [client, cell] of group.clients) {
      const c: Totals = cell.split.total;
      const shared = { provider: group.provider, model: group.model, client };
      for (const { field, labels } of TOKEN_SERIES) {
        const value = c[field];
        if (value > 0) out.tokens.push({ labels, sharedLabels: shared, value });
      }
    }
    let perProvider = tokensByProvider.get(group.provider);
    if (perProvider === undefined) {
      perProvider = newTokenHistograms();
      tokensByProvider.set(group.provider, perProvider);
    }
    for (const mode of ['streaming', 'nonStreaming'] as const) {
      const t: Totals = group.split[mode];
      if (t.requests === 0) continue;
      const series = { provider: group.provider, model: group.model, streaming: String(mode === 'streaming') };
      const d: Distributions = group.distributions[mode];
      for (const [client, cell] of group.clients) {
        const c: Totals = cell.split[mode];
        if (c.requests === 0) continue;
        for (const [api, outcomes] of mode === 'streaming' ? cell.streamingOutcomes : cell.nonStreamingOutcomes) {
          for (const [outcome, n] of outcomes) {
            const labels: Labels = outcome === 'success' ? { api, client, outcome } : { api, client, outcome: 'error', error_type: outcome };
            out.requests.push({ labels, sharedLabels: series, value: n });
          }
        }
        // Cost is known only for priced requests: a client with none here has no cost series rather than a 0.
        if (c.requests > c.unpriced) out.cost.push({ labels: { client }, sharedLabels: series, value: usd(c.costNano) });
      }
      out.toolUses.push({ labels: series, value: t.toolUses });
      out.toolResults.push({ labels: series, value: t.toolResults });
      out.toolCalls.push({ labels: series, value: t.toolCalls });
      histogramSamples(out.duration, FAMILIES.duration.name, series, LATENCY_BOUNDS, d.duration);
      for (const type of TOKEN_TYPES) addHistogram(perProvider[type], d.tokens[type]);
      if (d.overhead.count > 0) {
        const key = `${group.provider}\u0000${series.streaming}`;
        let h = overheadByProvider.get(key);
        if (h === undefined) {
          h = { labels: { provider: group.provider, streaming: series.streaming }, histogram: newHistogram(OVERHEAD_BOUNDS) };
          overheadByProvider.set(key, h);
        }
        addHistogram(h.histogram, d.overhead);
      }
      if (d.timeToFirstToken.count > 0) {
        histogramSamples(out.timeToFirstToken, FAMILIES.timeToFirstToken.name, series, LATENCY_BOUNDS, d.timeToFirstToken);
      }
      if (d.timePerOutputToken.count > 0) {
        histogramSamples(out.timePerOutputToken, FAMILIES.timePerOutputToken.name, series, TOKEN_INTERVAL_BOUNDS, d.timePerOutputToken);
        histogramSamples(out.outputTokensPerSecond, FAMILIES.outputTokensPerSecond.name, series, TOKEN_RATE_BOUNDS, d.outputTokensPerSecond);
      }
      // A known series shows 0 in flight rather than vanishing, so panels and sums stay continuous.
      active.set(`${group.provider}\u0000${group.model}\u0000${series.streaming}`, { labels: series, value: 0 });
    }
    const unpriced = group.split.streaming.unpriced + group.split.nonStreaming.unpriced;
    out.unpricedRequests.push({ labels: { provider: group.provider, model: group.model }, value: unpriced });
    const estimated = group.split.streaming.estimatedRequests + group.split.nonStreaming.estimatedRequests;
    out.estimatedRequests.push({ labels: { provider: group.provider, model: group.model }, value: estimated });
  }

  for (const r of input.active) {
    const provider = r.provider ?? UNKNOWN;
    const model = r.resolvedModel === undefined ? UNKNOWN : input.models.peek(provider, r.resolvedModel);
    const series = { provider, model, streaming: String(r.isStreaming) };
    const key = `${series.provider}\u0000${series.model}\u0000${series.streaming}`;
    const entry = active.get(key);
    if (entry) entry.value++;
    else active.set(key, { labels: series, value: 1 });
  }
  for (const entry of active.values()) out.activeRequests.push(entry);
  for (const { labels, histogram } of overheadByProvider.values()) histogramSamples(out.overhead, FAMILIES.overhead.name, labels, OVERHEAD_BOUNDS, histogram);
  for (const [provider, tokens] of tokensByProvider) {
    for (const type of TOKEN_TYPES) histogramSamples(out.tokenUsage, FAMILIES.tokenUsage.name, { provider, token_type: type }, TOKEN_COUNT_BOUNDS, tokens[type]);
  }

  for (const [provider, n] of input.models.foldedRequests) out.foldedRequests.push({ labels: { provider }, value: n });
  return out;
}
