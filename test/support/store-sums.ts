/** Sums the usage store keeps in both its rows and each of its rollups. */
const SUMMED = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'cost_nano'];

/** SQL (both engines) for the request count and the sums over one table, optionally for one instance. */
export function storedSumsSql(table: 'usage_requests' | 'usage_hourly' | 'usage_daily' | 'usage_session_hourly', instance?: string): string {
  const requests = table === 'usage_requests' ? 'count(*)' : 'sum(requests)';
  const where = instance === undefined ? '' : ` where instance = '${instance.replace(/'/g, "''")}'`;
  return `select ${requests} as requests, ${SUMMED.map((k) => `sum(${k}) as ${k}`).join(', ')} from ${table}${where}`;
}

/** A row of such sums as numbers (PostgreSQL answers counts and sums of integers as strings). */
export function asNumbers(row: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

/** The same sums from the gateway's in-memory running totals. */
export async function runningSums(url: string): Promise<Record<string, number>> {
  const summary = ((await (await fetch(`${url}/metrics/running-totals?format=json&include_active=false`)).json()) as { summary: Record<string, number> }).summary;
  return {
    requests: summary.total_requests,
    input_tokens: summary.total_input_tokens,
    output_tokens: summary.total_output_tokens,
    cache_read_tokens: summary.total_cache_read_tokens,
    cache_creation_tokens: summary.total_cache_creation_tokens,
    cost_nano: Math.round(summary.total_cost_usd * 1e9),
  };
}
