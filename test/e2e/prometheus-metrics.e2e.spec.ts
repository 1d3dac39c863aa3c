import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { ids } from '../support/factories';
import type { RunningApp } from '../support/app';
import { parseExposition, sumOf, type PromSample } from '../support/prom-text';
import { driveKnownTraffic } from '../support/traffic';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

const gw = useGateway();

async function scrape(app: RunningApp, accept?: string): Promise<{ type: string; text: string; samples: PromSample[] }> {
  const res = await fetch(`${app.url}/metrics`, { headers: accept ? { accept } : {} });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { type: res.headers.get('content-type') ?? '', text, samples: parseExposition(text) };
}

describe.each([
  { format: 'Prometheus text', accept: undefined, contentType: 'text/plain; version=0.0.4' },
  { format: 'OpenMetrics', accept: OPENMETRICS, contentType: 'application/openmetrics-text; version=1.0.0' },
])('GET /metrics as $format', ({ accept, contentType }) => {
  it('agrees exactly with /metrics/running-totals, series by series, for the same SDK traffic', async () => {
    const app = await gw.boot();
    const sent = await driveKnownTraffic(app.url, gw.fake);
    const { type, text, samples } = await scrape(app, accept);
    expect(type).toContain(contentType);
    if (accept) expect(text.endsWith('# EOF\n')).toBe(true);
    const doc = (await (await fetch(`${app.url}/metrics/running-totals?format=json&include_active=false`)).json()) as any;

    expect(sumOf(samples, 'vdm_requests_total')).toBe(sent.requests);
    expect(sumOf(samples, 'vdm_requests_total', { outcome: 'error' })).toBe(sent.errors);
    expect(sumOf(samples, 'gen_ai_client_token_usage_sum', { token_type: 'input' })).toBe(sent.input);
    expect(sumOf(samples, 'gen_ai_client_token_usage_sum', { token_type: 'output' })).toBe(sent.output);
    expect(sumOf(samples, 'gen_ai_client_token_usage_sum', { token_type: 'cache_read' })).toBe(sent.cacheRead);
    expect(sumOf(samples, 'gen_ai_client_token_usage_sum', { token_type: 'cache_creation' })).toBe(sent.cacheCreation);
    for (const [type, n] of [['input', sent.input], ['output', sent.output], ['cache_read', sent.cacheRead], ['cache_creation', sent.cacheCreation]] as const) {
      expect(sumOf(samples, 'vdm_tokens_total', { token_type: type }), type).toBe(n);
    }
    expect(sumOf(samples, 'vdm_tool_calls_total')).toBe(sent.toolCalls);

    const rows = doc.series.filter((r: any) => r.mode !== 'total');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const series = { provider: row.provider, model: row.model, streaming: String(row.mode === 'streaming') };
      expect({
        requests: sumOf(samples, 'vdm_requests_total', series),
        errors: sumOf(samples, 'vdm_requests_total', { ...series, outcome: 'error' }),
        tool_uses: sumOf(samples, 'vdm_tool_uses_total', series),
        tool_results: sumOf(samples, 'vdm_tool_results_total', series),
        tool_calls: sumOf(samples, 'vdm_tool_calls_total', series),
        completed_requests: sumOf(samples, 'gen_ai_client_operation_duration_seconds_count', series),
        ttft_requests: sumOf(samples, 'gen_ai_server_time_to_first_token_seconds_count', series),
      }, `${row.provider}/${row.model}/${row.mode}`).toEqual({
        requests: row.requests,
        errors: row.errors,
        tool_uses: row.tool_uses,
        tool_results: row.tool_results,
        tool_calls: row.tool_calls,
        completed_requests: row.completed_requests,
        ttft_requests: row.ttft_requests,
      });
      expect(sumOf(samples, 'gen_ai_server_time_to_first_token_seconds_sum', series) * 1000).toBeCloseTo(row.total_ttft_ms, 2);
    }
    // Token sums are by provider, model and client (vdm_tokens_total), without the mode.
    for (const row of doc.series.filter((r: any) => r.mode === 'total')) {
      const tokens = (type: string): number => sumOf(samples, 'vdm_tokens_total', { provider: row.provider, model: row.model, token_type: type });
      expect([tokens('input'), tokens('output'), tokens('cache_read'), tokens('cache_creation')], `${row.provider}/${row.model}`).toEqual([
        row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_creation_tokens,
      ]);
    }
    // The gateway's own time is by provider and mode, not by model.
    for (const [provider, p] of Object.entries<any>(doc.providers)) {
      for (const mode of ['streaming', 'non_streaming']) {
        const series = { provider, streaming: String(mode === 'streaming') };
        expect(sumOf(samples, 'vdm_gateway_overhead_seconds_count', series), `${provider}/${mode}`).toBe(p.rollup[mode].overhead_requests);
        expect(sumOf(samples, 'vdm_gateway_overhead_seconds_sum', series) * 1000).toBeCloseTo(p.rollup[mode].total_overhead_ms, 2);
      }
    }

    expect(sumOf(samples, 'vdm_requests_total', { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', outcome: 'error', error_type: 'rate_limit' })).toBe(1);
    expect(sumOf(samples, 'gen_ai_server_time_per_output_token_seconds_count', { streaming: 'true' })).toBe(sent.streaming);
    expect(sumOf(samples, 'vdm_output_tokens_per_second_count', { streaming: 'true' })).toBe(sent.streaming);
    expect(sumOf(samples, 'vdm_active_requests')).toBe(0);
    expect(samples.some((s) => s.name.startsWith('process_cpu_user_seconds'))).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });
});

describe('GET /metrics labels and access', () => {
  it('uses the resolved model, never the alias or the provider prefix, and one +Inf bucket per series', async () => {
    const app = await gw.boot();
    await driveKnownTraffic(app.url, gw.fake);
    const { samples } = await scrape(app);
    const models = new Set(samples.filter((s) => s.name === 'vdm_requests_total').map((s) => `${s.labels.provider}/${s.labels.model}`));
    expect([...models].sort()).toEqual(['anthropic/claude-opus-4', 'anthropic/claude-sonnet-4-5-20250929', 'openai/gpt-4o', 'openai/gpt-4o-mini']);
    const duration = samples.filter((s) => s.name === 'gen_ai_client_operation_duration_seconds_bucket');
    const inf = duration.filter((s) => s.labels.le === '+Inf');
    expect(inf).toHaveLength(samples.filter((s) => s.name === 'gen_ai_client_operation_duration_seconds_count').length);
    expect(duration.map((s) => s.labels.le)).toContain('0.01');
    expect(samples.filter((s) => s.name === 'vdm_gateway_overhead_seconds_bucket').map((s) => s.labels.le)).toContain('0.0001');
  });

  it('counts in-flight requests in the gauge, by resolved model', async () => {
    const app = await gw.boot();
    ids(app.tracker).start({ requestId: 'live', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true });
    const { samples } = await scrape(app);
    expect(sumOf(samples, 'vdm_active_requests', { provider: 'openai', model: 'gpt-4o', streaming: 'true' })).toBe(1);
  });

  it('folds models beyond VDM_MAX_MODELS_PER_PROVIDER into "other" and counts the folded requests', async () => {
    const app = await gw.boot({ VDM_MAX_MODELS_PER_PROVIDER: '2' });
    for (const [i, model] of ['m1', 'm2', 'm3', 'm4', 'm1', 'm3'].entries()) {
      ids(app.tracker).start({ requestId: `r${i}`, provider: 'openrouter', resolvedModel: model });
      ids(app.tracker).update(`r${i}`, { inputTokens: 10 });
      ids(app.tracker).end(`r${i}`);
    }
    const { samples } = await scrape(app);
    const byModel = (model: string): number => sumOf(samples, 'vdm_requests_total', { provider: 'openrouter', model });
    expect([byModel('m1'), byModel('m2'), byModel('other'), byModel('m3')]).toEqual([2, 1, 3, 0]);
    expect(sumOf(samples, 'vdm_tokens_total', { model: 'other', token_type: 'input' })).toBe(30);
    expect(sumOf(samples, 'vdm_model_folded_requests_total', { provider: 'openrouter' })).toBe(3);
  });

  it('needs PROXY_API_KEY unless VDM_METRICS_PUBLIC=true', async () => {
    const app = await gw.boot({ PROXY_API_KEY: 'proxy-secret' });
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { headers: { 'x-api-key': 'proxy-secret' } })).status).toBe(200);
    const open = await gw.boot({ PROXY_API_KEY: 'proxy-secret', VDM_METRICS_PUBLIC: 'true' });
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${open.url}/metrics/running-totals`)).status).toBe(401);
  });
});
