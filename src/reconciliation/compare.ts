import { DAY_S } from './reports';

/** How long after a UTC day ends a provider's report of it may still grow (both document reports that settle within hours). */
export const REPORTING_LAG_S = 3 * 3600;

export const TOKEN_FIELDS = ['input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_tokens'] as const;
export type TokenField = (typeof TOKEN_FIELDS)[number];
/** The token kinds as Prometheus labels them (`token_type`). */
export const TOKEN_TYPES: Record<TokenField, string> = { input_tokens: 'input', cache_read_tokens: 'cache_read', cache_write_tokens: 'cache_write', output_tokens: 'output' };

export const STATUSES = ['match', 'provider_lag', 'unrouted_traffic', 'gateway_over', 'price_drift'] as const;
export type ReconciliationStatus = (typeof STATUSES)[number];

/** One side's counts for a provider, day and model (cost in nanodollars, null when unknown). */
export interface Counts {
  requests: number | null;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_nano: number | null;
}

export interface ProviderDay extends Counts {
  provider: string;
  day: number;
  model: string;
  fetched_at: number;
}

export interface GatewayDay extends Counts {
  provider: string;
  day: number;
  model: string;
  estimated_requests: number;
  unpriced_requests: number;
}

export interface Pull {
  provider: string;
  from_day: number;
  to_day: number;
  fetched_at: number;
}

export interface Delta {
  absolute: number | null;
  /** (provider - gateway) / gateway; null when the gateway counted 0 or a side is unknown. */
  ratio: number | null;
}

export interface WireCounts {
  requests: number | null;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

export interface ReconciliationRow {
  provider: string;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  /** The model as the gateway resolved it; the provider's name for a model only the provider reported. */
  model: string;
  /** The provider's name for the model, where it differs (a dated snapshot of the gateway's). */
  provider_model?: string;
  status: ReconciliationStatus;
  /** The provider's cost over the gateway's list-price cost; null when either is unknown or the gateway's is 0. */
  effective_rate: number | null;
  provider_report: WireCounts;
  gateway: WireCounts & { estimated_requests: number; unpriced_requests: number };
  delta: Record<keyof WireCounts, Delta>;
}

export interface UnattributedCost {
  provider: string;
  day: string;
  cost_usd: number;
}

const ZERO: Counts = { requests: 0, input_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 0, cost_nano: 0 };

const usd = (nano: number | null): number | null => (nano === null ? null : nano / 1e9);
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Within the tolerance: the difference at most `tolerance` of the larger side (both 0 matches). */
export function within(a: number, b: number, tolerance: number): boolean {
  return Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b));
}

function delta(p: number | null, g: number | null, scale = 1): Delta {
  if (p === null || g === null) return { absolute: null, ratio: null };
  return { absolute: (p - g) / scale, ratio: g === 0 ? null : round6((p - g) / g) };
}

const dayText = (day: number): string => new Date(day * 1000).toISOString().slice(0, 10);

/** A dated snapshot name (`gpt-4o-2024-08-06`, `claude-3-5-haiku-20241022`) without its date. */
function undated(model: string): string {
  return model.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, '');
}

/**
 * The status of one row, in this order: the tokens within tolerance are a `match`, or `price_drift` when the
 * cost (known on both sides, every request priced) is not; the provider counting more is `unrouted_traffic`;
 * the provider counting less is `provider_lag` while its report of the day may still grow, then `gateway_over`.
 */
export function statusOf(p: Counts, g: Counts & { unpriced_requests: number }, tolerance: number, settled: boolean): ReconciliationStatus {
  const tokensMatch = TOKEN_FIELDS.every((f) => within(p[f], g[f], tolerance));
  if (tokensMatch) {
    const costKnown = p.cost_nano !== null && g.cost_nano !== null && g.unpriced_requests === 0;
    return costKnown && !within(p.cost_nano!, g.cost_nano!, tolerance) ? 'price_drift' : 'match';
  }
  const total = (c: Counts): number => TOKEN_FIELDS.reduce((n, f) => n + c[f], 0);
  if (total(p) > total(g)) return 'unrouted_traffic';
  return settled ? 'gateway_over' : 'provider_lag';
}

/**
 * One row per provider, day and model of either side. A provider model is paired with the gateway's of the same
 * name, else with the one it is a dated snapshot of. A day no pull of the provider covered yet is `provider_lag`
 * for the gateway's traffic (the provider has not been asked); a covered day the provider did not report is zero.
 * A day is settled when the pull that reported it ended REPORTING_LAG_S after the day did.
 */
export function reconcile(
  providerDays: readonly ProviderDay[],
  gatewayDays: readonly GatewayDay[],
  pulls: ReadonlyMap<string, Pull>,
  tolerance: number,
): { rows: ReconciliationRow[]; unattributed: UnattributedCost[] } {
  const unattributed: UnattributedCost[] = [];
  const groups = new Map<string, { provider: string; day: number; reported: ProviderDay[]; gateway: GatewayDay[] }>();
  const group = (provider: string, day: number) => {
    const key = `${provider}\u0000${day}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { provider, day, reported: [], gateway: [] }));
    return g;
  };
  for (const p of providerDays) {
    if (p.model === '') {
      if (p.cost_nano !== null && p.cost_nano !== 0) unattributed.push({ provider: p.provider, day: dayText(p.day), cost_usd: p.cost_nano / 1e9 });
      continue;
    }
    group(p.provider, p.day).reported.push(p);
  }
  for (const g of gatewayDays) group(g.provider, g.day).gateway.push(g);

  const rows: ReconciliationRow[] = [];
  for (const { provider, day, reported, gateway } of groups.values()) {
    const pull = pulls.get(provider);
    const covered = pull !== undefined && day >= pull.from_day && day < pull.to_day;
    const byName = new Map(gateway.map((g) => [g.model, g]));
    const pairs: { p?: ProviderDay; g?: GatewayDay }[] = [];
    const unpaired: ProviderDay[] = [];
    for (const p of reported) {
      const g = byName.get(p.model);
      if (g !== undefined) {
        byName.delete(p.model);
        pairs.push({ p, g });
      } else unpaired.push(p);
    }
    for (const p of unpaired) {
      const name = undated(p.model);
      const g = name !== p.model ? byName.get(name) : undefined;
      if (g !== undefined) byName.delete(name);
      pairs.push({ p, g });
    }
    for (const g of byName.values()) pairs.push({ g });

    for (const { p, g } of pairs) {
      const fetchedAt = p?.fetched_at ?? pull?.fetched_at ?? 0;
      const settled = covered && fetchedAt >= day + DAY_S + REPORTING_LAG_S;
      const pc: Counts = p ?? ZERO;
      const gc = g ?? { ...ZERO, estimated_requests: 0, unpriced_requests: 0 };
      // The gateway's traffic on a day no pull has covered: the provider has not been asked yet.
      const status: ReconciliationStatus = p === undefined && !covered ? 'provider_lag' : statusOf(pc, gc, tolerance, settled);
      const providerCost = p === undefined ? (covered ? 0 : null) : p.cost_nano;
      const gatewayCost = g === undefined ? 0 : g.cost_nano;
      const side = (c: Counts, cost: number | null): WireCounts => ({
        requests: c.requests,
        input_tokens: c.input_tokens,
        cache_read_tokens: c.cache_read_tokens,
        cache_write_tokens: c.cache_write_tokens,
        output_tokens: c.output_tokens,
        cost_usd: usd(cost),
      });
      const reportSide = side(p ?? { ...ZERO, requests: covered ? 0 : null }, providerCost);
      const gatewaySide = side(gc, gatewayCost);
      rows.push({
        provider,
        day: dayText(day),
        model: g?.model ?? p!.model,
        ...(p !== undefined && g !== undefined && p.model !== g.model ? { provider_model: p.model } : {}),
        status,
        effective_rate: providerCost !== null && gatewayCost !== null && gatewayCost > 0 && gc.unpriced_requests === 0 ? round6(providerCost / gatewayCost) : null,
        provider_report: reportSide,
        gateway: { ...gatewaySide, estimated_requests: gc.estimated_requests, unpriced_requests: gc.unpriced_requests },
        delta: {
          requests: delta(reportSide.requests, gatewaySide.requests),
          input_tokens: delta(pc.input_tokens, gc.input_tokens),
          cache_read_tokens: delta(pc.cache_read_tokens, gc.cache_read_tokens),
          cache_write_tokens: delta(pc.cache_write_tokens, gc.cache_write_tokens),
          output_tokens: delta(pc.output_tokens, gc.output_tokens),
          cost_usd: delta(providerCost, gatewayCost, 1e9),
        },
      });
    }
  }
  rows.sort((a, b) => a.provider.localeCompare(b.provider) || a.day.localeCompare(b.day) || a.model.localeCompare(b.model));
  unattributed.sort((a, b) => a.provider.localeCompare(b.provider) || a.day.localeCompare(b.day));
  return { rows, unattributed };
}
