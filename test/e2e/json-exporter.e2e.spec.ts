import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { exportSamples, jsonPath, loadJsonExporterConfig, probeHeaders, writeKeyFile, type ExportedSample, type JsonExporterMetric } from '../support/json-exporter';
import { driveKnownTraffic, fakeProviderEnv, type KnownTotals } from '../support/traffic';

const CONFIG = loadJsonExporterConfig(readFileSync(resolve(__dirname, '../../deploy/json-exporter/config.yml'), 'utf8'));
const PROMETHEUS = load(readFileSync(resolve(__dirname, '../../deploy/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; params?: { module?: string[] }; static_configs: { targets: string[] }[] }[];
};

let fake: FakeUpstream;
let gw: RunningApp;
let sent: KnownTotals;
let dir: string;
/** Per json_exporter module, the document its Prometheus job's target answers. */
const docs: Record<string, any> = {};

const KEY = 'proxy-key-for-the-traffic';
/** What compose's json_exporter sends: the scrape key (VDM_SCRAPE_KEY), which reads the metrics only. */
const SCRAPE_KEY = 'scrape-key-for-the-scrapers';

beforeAll(async () => {
  fake = await FakeUpstream.start();
  dir = mkdtempSync(join(tmpdir(), 'vdm-json-exporter-'));
  gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: KEY, VDM_SCRAPE_KEY: SCRAPE_KEY, VDM_STORE: `sqlite:${join(dir, 'usage.db')}` });
  sent = await driveKnownTraffic(gw.url, fake, KEY);
  await gw.app.get(UsageStore).flush();
  // The exact URL the shipped Prometheus config hands json_exporter as each module's target, with the module's credentials.
  for (const [name, config] of Object.entries(CONFIG.modules)) {
    const job = PROMETHEUS.scrape_configs.find((j) => j.params?.module?.[0] === name);
    expect(job, `a Prometheus job probes module ${name}`).toBeDefined();
    const target = job!.static_configs[0].targets[0];
    const module = structuredClone(config);
    const auth = module.http_client_config?.authorization;
    if (auth?.credentials_file !== undefined) auth.credentials_file = writeKeyFile(SCRAPE_KEY);
    const res = await fetch(target.replace('http://gateway:8082', gw.url), { headers: probeHeaders(module) });
    expect(res.status, `json_exporter's module ${name} is answered by its target`).toBe(200);
    docs[name] = await res.json();
  }
});
afterAll(async () => {
  await gw.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function sum(samples: ExportedSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

describe('deploy/json-exporter/config.yml against the live JSON', () => {
  const metrics: [string, JsonExporterMetric][] = Object.entries(CONFIG.modules).flatMap(([name, m]) => m.metrics.map((metric) => [name, metric] as [string, JsonExporterMetric]));

  it.each(metrics.map(([module, m]) => [`${module}: ${m.name} ${m.path}`, module, m] as const))('%s: every JSONPath finds what it expects', (_, module, metric) => {
    const doc = docs[module];
    const nodes = jsonPath(metric.path, doc);
    expect(nodes.length).toBeGreaterThan(0);
    for (const node of metric.type === 'object' ? nodes : [doc]) {
      for (const [name, template] of Object.entries(metric.labels ?? {})) {
        const found = jsonPath(template, node);
        expect(found, `label ${name}`).toHaveLength(1);
        expect(typeof found[0], `label ${name}`).toBe('string');
      }
    }
    if (metric.type === 'object') {
      for (const node of nodes) {
        for (const [name, template] of Object.entries(metric.values ?? {})) {
          // Text outside braces is literal to json_exporter's JSONPath dialect: a constant value.
          const found = template.includes('{') ? jsonPath(template, node) : [Number(template)];
          expect(found, `value ${name}`).toHaveLength(1);
          expect(typeof found[0], `value ${name}`).toBe('number');
          expect(Number.isFinite(found[0]), `value ${name}`).toBe(true);
        }
      }
    } else {
      expect(nodes).toHaveLength(1);
      expect(typeof nodes[0]).toBe('number');
    }
  });

  it('exports the traffic sent: counts per mode="total" add up to it, streaming + non_streaming = total', () => {
    const samples = exportSamples(CONFIG.modules.running_totals.metrics, docs.running_totals);
    expect(sum(samples, 'vdm_json_requests', { mode: 'total' })).toBe(sent.requests);
    expect(sum(samples, 'vdm_json_requests', { mode: 'streaming' })).toBe(sent.streaming);
    expect(sum(samples, 'vdm_json_errors', { mode: 'total' })).toBe(sent.errors);
    expect(sum(samples, 'vdm_json_input_tokens', { mode: 'total' })).toBe(sent.input);
    expect(sum(samples, 'vdm_json_output_tokens', { mode: 'total' })).toBe(sent.output);
    expect(sum(samples, 'vdm_json_cache_read_tokens', { mode: 'total' })).toBe(sent.cacheRead);
    expect(sum(samples, 'vdm_json_cache_creation_tokens', { mode: 'total' })).toBe(sent.cacheCreation);
    expect(sum(samples, 'vdm_json_tool_calls', { mode: 'total' })).toBe(sent.toolCalls);
    expect(sum(samples, 'vdm_json_total_requests')).toBe(sent.requests);
    expect(sum(samples, 'vdm_json_active_requests')).toBe(0);
    expect(sum(samples, 'vdm_json_requests', { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', mode: 'non_streaming' })).toBe(2);
    expect(sum(samples, 'vdm_json_ttft_requests', { mode: 'total' })).toBe(sent.streaming);
    for (const name of ['vdm_json_requests', 'vdm_json_input_tokens', 'vdm_json_tool_uses']) {
      expect(sum(samples, name, { mode: 'streaming' }) + sum(samples, name, { mode: 'non_streaming' })).toBe(sum(samples, name, { mode: 'total' }));
    }
    // Cost: the series add up to the gateway's own total, to the nanodollar, and the traffic was priced.
    const nano = (usd: number): number => Math.round(usd * 1e9);
    const traced = gw.tracker.recentTraces(200).reduce((total, t) => total + nano(t.cost_usd ?? 0), 0);
    expect(traced).toBeGreaterThan(0);
    expect(nano(sum(samples, 'vdm_json_cost_usd', { mode: 'total' }))).toBe(traced);
    expect(nano(sum(samples, 'vdm_json_cost_usd', { mode: 'streaming' })) + nano(sum(samples, 'vdm_json_cost_usd', { mode: 'non_streaming' }))).toBe(traced);
    expect(nano(sum(samples, 'vdm_json_total_cost_usd'))).toBe(traced);
    // Estimated requests (usage_source estimated or partial): per series and per client, as the traces say.
    const estimated = gw.tracker.recentTraces(200).filter((t) => t.usage_source === 'estimated' || t.usage_source === 'partial').length;
    expect(sum(samples, 'vdm_json_estimated_requests', { mode: 'total' })).toBe(estimated);
    expect(sum(samples, 'vdm_json_client_estimated_requests', { mode: 'total' })).toBe(estimated);
    // Per client: PROXY_API_KEY is the client `default`.
    expect(sum(samples, 'vdm_json_client_requests', { client: 'default', mode: 'total' })).toBe(sent.requests);
    expect(sum(samples, 'vdm_json_client_input_tokens', { mode: 'total' })).toBe(sent.input);
    expect(nano(sum(samples, 'vdm_json_client_cost_usd', { mode: 'total' }))).toBe(traced);
    const modes = new Set(samples.filter((s) => s.name === 'vdm_json_requests').map((s) => s.labels.mode));
    expect([...modes].sort()).toEqual(['non_streaming', 'streaming', 'total']);
  });

  it('exports the usage store state from /health: one series, its state as a label, value 1', () => {
    expect(exportSamples(CONFIG.modules.health.metrics, docs.health)).toEqual([
      { name: 'vdm_json_store_status', valuetype: 'gauge', help: expect.any(String), labels: { status: 'ok' }, value: 1 },
    ]);
    expect(exportSamples(CONFIG.modules.health.metrics, { ...docs.health, store: { status: 'degraded', queued_rows: 12 } })[0].labels).toEqual({ status: 'degraded' });
  });
});
