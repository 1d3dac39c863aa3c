import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { loadJsonExporterConfig, startJsonExporter, writeKeyFile } from '../support/json-exporter';
import { PrometheusServer } from '../support/prometheus-server';
import { requireBinary } from '../support/require-binary';
import { driveKnownTraffic, fakeProviderEnv, type KnownTotals } from '../support/traffic';

const PROMETHEUS = requireBinary('prometheus', 'prometheus');
const ROOT = resolve(__dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
  relabel_configs?: { replacement?: string }[];
  authorization?: { credentials_file?: string };
  [key: string]: unknown;
}

/** The gateway's admin key, which sends the traffic. */
const KEY = 'proxy-key-for-the-traffic';
/** The scrape key, as the compose stack sets it (VDM_SCRAPE_KEY): every scrape presents it, and it reads the metrics only. */
const SCRAPE_KEY = 'scrape-key-for-the-scrapers';

/** The shipped config with compose host names and key file swapped for this test's, scraping every second. */
function adaptConfig(gatewayUrl: string, jsonExporterPort: number, keyFile: string): unknown {
  const config = load(read('deploy/prometheus/prometheus.yml')) as { global: Record<string, string>; scrape_configs: ScrapeConfig[] };
  config.global.scrape_interval = '1s';
  const gatewayHost = new URL(gatewayUrl).host;
  for (const job of config.scrape_configs) {
    if (job.authorization?.credentials_file !== undefined) job.authorization.credentials_file = keyFile;
    for (const sc of job.static_configs) {
      sc.targets = sc.targets.map((t) => t.replace('gateway:8082', gatewayHost));
    }
    for (const relabel of job.relabel_configs ?? []) {
      if (relabel.replacement === 'json-exporter:7979') relabel.replacement = `127.0.0.1:${jsonExporterPort}`;
    }
  }
  return config;
}

let fake: FakeUpstream;
let gw: RunningApp;
let exporter: { port: number; close(): Promise<void> };
let prometheus: PrometheusServer;
let sent: KnownTotals;
let dir: string;
const JOBS = ['vandamme-gateway', 'vandamme-health', 'vandamme-json'];

beforeAll(async () => {
  fake = await FakeUpstream.start();
  dir = mkdtempSync(join(tmpdir(), 'vdm-prometheus-store-'));
  gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: KEY, VDM_SCRAPE_KEY: SCRAPE_KEY, VDM_STORE: `sqlite:${join(dir, 'usage.db')}` });
  const keyFile = writeKeyFile(SCRAPE_KEY);
  const exporterConfig = loadJsonExporterConfig(read('deploy/json-exporter/config.yml'));
  for (const module of Object.values(exporterConfig.modules)) {
    const auth = module.http_client_config?.authorization;
    if (auth?.credentials_file !== undefined) auth.credentials_file = keyFile;
  }
  exporter = await startJsonExporter(exporterConfig);
  prometheus = await PrometheusServer.start(adaptConfig(gw.url, exporter.port, keyFile), PROMETHEUS);
  sent = await driveKnownTraffic(gw.url, fake, KEY);
  // Every finished request written to the usage store: its queue is empty from here on.
  await gw.app.get(UsageStore).flush();
  const trafficDone = Date.now() / 1000;
  // Wait for a successful scrape of every job that started after the last request had finished.
  for (const job of JOBS) {
    await prometheus.poll(async () => {
      const [sample] = await prometheus.query(`timestamp(up{job="${job}"} == 1)`);
      return sample !== undefined && Number(sample.value[1]) > trafficDone;
    }, `no scrape of ${job} after the traffic: ${JSON.stringify(await prometheus.targets())}`);
  }
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
  await gw?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(PROMETHEUS === undefined)('a real Prometheus scraping the gateway with the shipped config', () => {
  it('scrapes every job healthy', async () => {
    const targets = await prometheus.targets();
    expect(targets.map((t) => `${t.job}:${t.health}`).sort()).toEqual(JOBS.map((job) => `${job}:up`));
  });

  it('returns exactly the requests and tokens sent, by PromQL over the HTTP API', async () => {
    expect(await prometheus.value('sum(vdm_requests_total)')).toBe(sent.requests);
    expect(await prometheus.value('sum(vdm_requests_total{outcome="error"})')).toBe(sent.errors);
    expect(await prometheus.value('sum(vdm_requests_total{streaming="true"})')).toBe(sent.streaming);
    const tokens = await prometheus.query('sum by (token_type) (gen_ai_client_token_usage_sum)');
    expect(Object.fromEntries(tokens.map((s) => [s.metric.token_type, Number(s.value[1])]))).toEqual({
      input: sent.input, output: sent.output, cache_read: sent.cacheRead, cache_creation: sent.cacheCreation, reasoning: 0,
    });
    expect(await prometheus.value('sum(vdm_tool_calls_total)')).toBe(sent.toolCalls);
    expect(await prometheus.value('sum(vdm_tool_uses_total)')).toBe(sent.toolUses);
    expect(await prometheus.value('sum(gen_ai_client_operation_duration_seconds_count)')).toBe(sent.requests);
    expect(await prometheus.value('sum(vdm_active_requests)')).toBe(0);
    const byModel = await prometheus.query('sum by (provider, model) (vdm_requests_total)');
    expect(byModel.map((s) => `${s.metric.provider}/${s.metric.model}=${s.value[1]}`).sort()).toEqual([
      'anthropic/claude-opus-4=1', 'anthropic/claude-sonnet-4-5-20250929=2', 'openai/gpt-4o-mini=1', 'openai/gpt-4o=2',
    ]);
  });

  it('gets the same counts through json_exporter from the JSON running totals', async () => {
    expect(await prometheus.value('sum(vdm_json_requests{mode="total"})')).toBe(sent.requests);
    expect(await prometheus.value('sum(vdm_json_errors{mode="total"})')).toBe(sent.errors);
    expect(await prometheus.value('sum(vdm_json_input_tokens{mode="total"})')).toBe(sent.input);
    expect(await prometheus.value('sum(vdm_json_output_tokens{mode="total"})')).toBe(sent.output);
    expect(await prometheus.value('sum(vdm_json_total_requests)')).toBe(sent.requests);
  });

  it('returns the cost of the traffic, natively and through json_exporter, equal to the sum of the traces', async () => {
    const nano = (usd: number): number => Math.round(usd * 1e9);
    const traced = gw.tracker.recentTraces(200).reduce((total, t) => total + nano(t.cost_usd ?? 0), 0);
    expect(traced).toBeGreaterThan(0);
    expect(nano(await prometheus.value('sum(vdm_cost_usd_total)'))).toBe(traced);
    expect(nano(await prometheus.value('sum(vdm_json_cost_usd{mode="total"})'))).toBe(traced);
    expect(await prometheus.value('sum(vdm_unpriced_requests_total)')).toBe(gw.tracker.recentTraces(200).filter((t) => t.cost_usd === null).length);
  });

  const dashboard = JSON.parse(read('deploy/grafana/dashboards/vandamme-gateway.json'));
  const promqlOf = (q: string): string =>
    q.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$provider', '.*').replaceAll('$model', '.*').replaceAll('$client', '.*');

  it('evaluates every query of the Grafana dashboard without a PromQL error', async () => {
    const queries: string[] = [
      ...dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string)),
      ...dashboard.templating.list.map((v: any) => (v.query.query as string).replace(/^label_values\((.*), \w+\)$/, '$1')),
    ];
    for (const q of queries) {
      const promql = promqlOf(q);
      await expect(prometheus.query(promql), promql).resolves.toBeDefined();
    }
  });

  it('answers every query of the Usage store row: the store wrote the traffic, its queue is empty, nothing dropped, state ok', async () => {
    const rowAt = dashboard.panels.findIndex((p: any) => p.type === 'row' && p.title === 'Usage store');
    expect(rowAt).toBeGreaterThan(-1);
    const next = dashboard.panels.findIndex((p: any, i: number) => i > rowAt && p.type === 'row');
    const row: any[] = dashboard.panels.slice(rowAt + 1, next === -1 ? undefined : next);
    const exprs: string[] = row.flatMap((p) => p.targets.map((t: any) => t.expr as string));
    expect(exprs.length).toBeGreaterThanOrEqual(5);
    // A rate needs two samples in its window: wait for a second scrape of each job.
    for (const job of ['vandamme-gateway', 'vandamme-health']) {
      await prometheus.poll(async () => {
        const [sample] = await prometheus.query(`count_over_time(up{job="${job}"}[1m])`);
        return sample !== undefined && Number(sample.value[1]) >= 2;
      }, `no second scrape of ${job}`);
    }
    for (const q of exprs) expect((await prometheus.query(promqlOf(q))).length, q).toBeGreaterThan(0);
    expect(await prometheus.value('sum(vdm_store_queue_rows)')).toBe(0);
    expect(await prometheus.value('sum(vdm_store_dropped_rows_total)')).toBe(0);
    expect(await prometheus.value('sum(vdm_store_write_seconds_count)')).toBeGreaterThanOrEqual(1);
    // Every batch wrote within the histogram's range, so the quantiles have a bucket to land in.
    expect(await prometheus.value('sum(vdm_store_write_seconds_bucket{le="+Inf"})')).toBe(await prometheus.value('sum(vdm_store_write_seconds_count)'));
    const states = await prometheus.query('sum by (status) (vdm_json_store_status)');
    expect(states.map((s) => `${s.metric.status}=${s.value[1]}`)).toEqual(['ok=1']);
  });
});
