import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { FakeAdminApi } from '../fakes/fake-admin-api';
import { Reconciler } from '../../src/reconciliation/reconciler.service';
import { ids } from '../support/factories';
import { startApp, type RunningApp } from '../support/app';
import { exportSamples, loadJsonExporterConfig } from '../support/json-exporter';
import { parseExposition } from '../support/prom-text';
import { driveKnownTraffic, fakeProviderEnv } from '../support/traffic';

const ROOT = resolve(__dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
const dashboard = JSON.parse(read('deploy/grafana/dashboards/vandamme-gateway.json'));
const datasources = load(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as any;
const jsonExporter = loadJsonExporterConfig(read('deploy/json-exporter/config.yml'));
const METRIC_NAME = /\b(?:vdm|gen_ai)_[a-z0-9_]+/g;

/** Series names Prometheus gets: the native /metrics, and what the shipped json_exporter config makes of the JSON documents. */
let exported: Set<string>;
let fake: FakeUpstream;
let admin: FakeAdminApi;
let gw: RunningApp;
let dir: string;

beforeAll(async () => {
  fake = await FakeUpstream.start();
  dir = mkdtempSync(join(tmpdir(), 'vdm-grafana-store-'));
  // Reconciliation on for OpenAI, against a fake admin API, so its gauges are exported.
  admin = await FakeAdminApi.start({ openai: 'sk-admin-grafana-0123456789', anthropic: 'unused-anthropic-admin' });
  gw = await startApp({
    ...fakeProviderEnv(fake),
    VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
    OPENAI_ADMIN_KEY: 'sk-admin-grafana-0123456789',
    OPENAI_BILLING_URL: `${admin.url}/v1`,
    // A shared budget no request falls under: its gauges are exported at zero, the traffic is not touched.
    VDM_LIMITS_FILE: limitsFile(dir),
  });
  await driveKnownTraffic(gw.url, fake);
  await gw.app.get(Reconciler).pullNow();
  ids(gw.tracker).start({ requestId: 'in-flight', provider: 'openai', resolvedModel: 'gpt-4o' });
  exported = new Set(parseExposition(await (await fetch(`${gw.url}/metrics`)).text()).map((s) => s.name));
  const totals = await (await fetch(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).json();
  const health = await (await fetch(`${gw.url}/health`)).json();
  for (const [module, doc] of [['running_totals', totals], ['health', health]] as const) {
    for (const sample of exportSamples(jsonExporter.modules[module].metrics, doc)) exported.add(sample.name);
  }
});
afterAll(async () => {
  await gw.close();
  await admin.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function limitsFile(where: string): string {
  const path = join(where, 'limits.yaml');
  writeFileSync(path, 'budgets:\n  - {name: grafana, model: "no-such-model-*", usd: 10, period: month, shared: true}\n');
  return path;
}

describe('deploy/grafana', () => {
  const uid: string = datasources.datasources[0].uid;
  /** Rows group the panels after them; they have no queries of their own. */
  const rows: any[] = dashboard.panels.filter((p: any) => p.type === 'row');
  const panels: any[] = dashboard.panels.filter((p: any) => p.type !== 'row');

  it('provisions one Prometheus datasource with a fixed uid, pointing at the compose service', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', access: 'proxy' });
    expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });

  it('is a dashboard Grafana loads as it is: uid, title, schema version, unique panel ids inside the 24-column grid', () => {
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36).toBe(true);
    expect(dashboard.__inputs).toBeUndefined();
    expect(new Set(dashboard.panels.map((p: any) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect([x, y, w, h].every(Number.isInteger) && x >= 0 && w > 0 && h > 0 && x + w <= 24, p.title).toBe(true);
      expect(['timeseries', 'stat', 'table', 'bargauge', 'row']).toContain(p.type);
    }
    // An expanded row spans the grid, one unit high, its panels below it on the dashboard's own list.
    for (const row of rows) expect(row, row.title).toMatchObject({ collapsed: false, panels: [], gridPos: { x: 0, w: 24, h: 1 } });
  });

  it('names its datasource by uid everywhere, never by name or ${DS_...} input', () => {
    const refs = [...panels.flatMap((p) => [p.datasource, ...p.targets.map((t: any) => t.datasource)]), ...dashboard.templating.list.map((v: any) => v.datasource)];
    for (const ref of refs) expect(ref).toEqual({ type: 'prometheus', uid });
    expect(JSON.stringify(dashboard)).not.toContain('${DS_');
  });

  it('queries only metrics the gateway exports, in every panel and variable', () => {
    const queries: string[] = [
      ...panels.flatMap((p) => p.targets.map((t: any) => t.expr as string)),
      ...dashboard.templating.list.map((v: any) => v.query.query as string),
    ];
    for (const q of queries) {
      const names = q.match(METRIC_NAME) ?? [];
      expect(names.length, q).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${name} in ${q}`).toContain(name);
    }
    for (const p of panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.refId, p.title).toMatch(/^[A-Z]$/);
    }
  });

  it('filters by client only where the metric has the label, and the overhead by provider only', () => {
    const exprs: string[] = panels.flatMap((p) => p.targets.map((t: any) => t.expr as string));
    for (const q of exprs) if (q.includes('client=~')) expect(q, q).toMatch(/^[^{]*\b(?:vdm_requests_total|vdm_tokens_total|vdm_cost_usd_total)\{/);
    for (const q of exprs.filter((e) => e.includes('vdm_gateway_overhead_seconds'))) expect(q).not.toContain('model=~');
    expect(dashboard.templating.list.map((v: any) => v.name)).toContain('client');
  });

  it('has the headline panels: request rate, errors by type, tokens by type, duration and TTFT quantiles per provider/model, in-flight, top models', () => {
    const exprsOf = (title: RegExp): string => panels.filter((p) => title.test(p.title)).flatMap((p) => p.targets.map((t: any) => t.expr)).join('\n');
    expect(exprsOf(/^Request rate/)).toContain('sum by (provider, model) (rate(vdm_requests_total');
    expect(exprsOf(/^Error rate by type/)).toContain('sum by (error_type)');
    expect(exprsOf(/^Tokens by type/)).toContain('sum by (token_type) (rate(vdm_tokens_total');
    expect(exprsOf(/^Request rate by client/)).toContain('sum by (client) (rate(vdm_requests_total');
    expect(exprsOf(/^Tokens by client/)).toContain('sum by (client, token_type) (increase(vdm_tokens_total');
    for (const [title, metric] of [[/^Request duration/, 'gen_ai_client_operation_duration_seconds_bucket'], [/^Time to first token/, 'gen_ai_server_time_to_first_token_seconds_bucket']] as const) {
      const exprs = exprsOf(title);
      for (const q of ['0.5', '0.95', '0.99']) expect(exprs).toContain(`histogram_quantile(${q}, sum by (provider, model, le) (rate(${metric}`);
    }
    expect(exprsOf(/^In-flight/)).toContain('vdm_active_requests');
    expect(exprsOf(/^Top models/)).toContain('topk(10, sum by (provider, model)');
  });

  it('has a Usage store row: queue, batch write p50 / p99, dropped rows, writes, and the store state from /health', () => {
    const at = dashboard.panels.findIndex((p: any) => p.type === 'row' && p.title === 'Usage store');
    expect(at).toBeGreaterThan(-1);
    const rowY = dashboard.panels[at].gridPos.y;
    const below = dashboard.panels.slice(at + 1);
    // Nothing overlaps the row: every panel after it sits below it, every panel before it above.
    for (const p of below) expect(p.gridPos.y, p.title).toBeGreaterThan(rowY);
    for (const p of dashboard.panels.slice(0, at)) expect(p.gridPos.y + p.gridPos.h, p.title).toBeLessThanOrEqual(rowY);
    const exprs = below.filter((p: any) => p.type !== 'row').flatMap((p: any) => p.targets.map((t: any) => t.expr as string)).join('\n');
    expect(exprs).toContain('vdm_store_queue_rows');
    for (const q of ['0.5', '0.99']) expect(exprs).toContain(`histogram_quantile(${q}, sum by (le) (rate(vdm_store_write_seconds_bucket[$__rate_interval])))`);
    expect(exprs).toContain('rate(vdm_store_dropped_rows_total[$__rate_interval])');
    expect(exprs).toContain('rate(vdm_store_write_seconds_count[$__rate_interval])');
    expect(exprs).toContain('sum by (status) (vdm_json_store_status)');
  });

  it('has a Budgets row: spent + reserved against the limit, the burn per hour, what is left', () => {
    const at = dashboard.panels.findIndex((p: any) => p.type === 'row' && p.title === 'Budgets');
    expect(at).toBeGreaterThan(-1);
    const rowY = dashboard.panels[at].gridPos.y;
    for (const p of dashboard.panels.slice(0, at)) expect(p.gridPos.y + p.gridPos.h, p.title).toBeLessThanOrEqual(rowY);
    const next = dashboard.panels.findIndex((p: any, i: number) => i > at && p.type === 'row');
    const own = dashboard.panels.slice(at + 1, next);
    for (const p of own) expect(p.gridPos.y, p.title).toBe(rowY + 1);
    const exprs = own.flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
    expect(exprs).toEqual([
      'sum by (budget, client) (vdm_budget_spent_usd) + sum by (budget, client) (vdm_budget_reserved_usd)',
      'sum by (budget, client) (vdm_budget_limit_usd)',
      'sum by (budget, client) (deriv(vdm_budget_spent_usd[1h])) * 3600',
      'sum by (budget, client) (vdm_budget_remaining_usd)',
    ]);
  });

  it('has a Reconciliation row: billed minus gateway cost, and the token difference by type', () => {
    const at = dashboard.panels.findIndex((p: any) => p.type === 'row' && p.title === 'Reconciliation');
    expect(at).toBeGreaterThan(-1);
    const rowY = dashboard.panels[at].gridPos.y;
    for (const p of dashboard.panels.slice(at + 1)) expect(p.gridPos.y, p.title).toBeGreaterThan(rowY);
    for (const p of dashboard.panels.slice(0, at)) expect(p.gridPos.y + p.gridPos.h, p.title).toBeLessThanOrEqual(rowY);
    const exprs = dashboard.panels.slice(at + 1).flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
    expect(exprs).toEqual(['max by (provider) (vdm_reconciliation_delta_usd)', 'max by (provider, token_type) (vdm_reconciliation_delta_tokens_ratio)']);
  });
});
