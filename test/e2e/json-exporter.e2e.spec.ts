import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { exportSamples, jsonPath, loadJsonExporterConfig, probeHeaders, writeKeyFile, type ExportedSample, type JsonExporterMetric } from '../support/json-exporter';
import { driveKnownTraffic, fakeProviderEnv, type KnownTotals } from '../support/traffic';

const CONFIG = loadJsonExporterConfig(readFileSync(resolve(__dirname, '../../deploy/json-exporter/config.yml'), 'utf8'));
const PROMETHEUS = readFileSync(resolve(__dirname, '../../deploy/prometheus/prometheus.yml'), 'utf8');

let fake: FakeUpstream;
let gw: RunningApp;
let sent: KnownTotals;
let doc: any;

const KEY = 'proxy-key-for-the-scrapers';

beforeAll(async () => {
  fake = await FakeUpstream.start();
  gw = await startApp({ ...fakeProviderEnv(fake), PROXY_API_KEY: KEY });
  sent = await driveKnownTraffic(gw.url, fake, KEY);
  // The exact URL the shipped Prometheus config hands json_exporter as its target, with the module's credentials.
  const target = /targets: \['(http:\/\/gateway:8082\/metrics\/running-totals[^']*)'\]/.exec(PROMETHEUS)![1];
  const module = structuredClone(CONFIG.modules.running_totals);
  const auth = module.http_client_config?.authorization;
  if (auth?.credentials_file !== undefined) auth.credentials_file = writeKeyFile(KEY);
  const res = await fetch(target.replace('http://gateway:8082', gw.url), { headers: probeHeaders(module) });
  expect(res.status, 'json_exporter authenticates to the JSON running totals').toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await gw.close();
  await fake.close();
});

function sum(samples: ExportedSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

describe('deploy/json-exporter/config.yml against the live JSON', () => {
  const metrics: JsonExporterMetric[] = Object.values(CONFIG.modules).flatMap((m) => m.metrics);

  it.each(metrics.map((m) => [`${m.name} ${m.path}`, m] as const))('%s: every JSONPath finds what it expects', (_, metric) => {
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
          const found = jsonPath(template, node);
          expect(found, `value ${name}`).toHaveLength(1);
          expect(typeof found[0], `value ${name}`).toBe('number');
        }
      }
    } else {
      expect(nodes).toHaveLength(1);
      expect(typeof nodes[0]).toBe('number');
    }
  });

  it('exports the traffic sent: counts per mode="total" add up to it, streaming + non_streaming = total', () => {
    const samples = exportSamples(CONFIG.modules.running_totals.metrics, doc);
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
    // Per client: PROXY_API_KEY is the client `default`.
    expect(sum(samples, 'vdm_json_client_requests', { client: 'default', mode: 'total' })).toBe(sent.requests);
    expect(sum(samples, 'vdm_json_client_input_tokens', { mode: 'total' })).toBe(sent.input);
    expect(nano(sum(samples, 'vdm_json_client_cost_usd', { mode: 'total' }))).toBe(traced);
    const modes = new Set(samples.filter((s) => s.name === 'vdm_json_requests').map((s) => s.labels.mode));
    expect([...modes].sort()).toEqual(['non_streaming', 'streaming', 'total']);
  });
});
