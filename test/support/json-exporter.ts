import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';

/**
 * Just enough of prometheus-community/json_exporter to test our shipped config without its binary:
 * the Kubernetes JSONPath subset the config uses, and a /probe endpoint rendering its metrics.
 */

export interface JsonExporterMetric {
  name: string;
  type?: 'value' | 'object';
  valuetype?: 'gauge' | 'counter' | 'untyped';
  help?: string;
  path: string;
  labels?: Record<string, string>;
  values?: Record<string, string>;
}

/** The part of prometheus/common's HTTP client config the shipped config uses. */
export interface JsonExporterHttpClientConfig {
  authorization?: { type?: string; credentials?: string; credentials_file?: string };
}

export interface JsonExporterModule {
  metrics: JsonExporterMetric[];
  http_client_config?: JsonExporterHttpClientConfig;
}

export interface JsonExporterConfig {
  modules: Record<string, JsonExporterModule>;
}

/** The headers json_exporter sends to a module's target: `Authorization: <type> <credentials>`, the file's content trimmed. */
export function probeHeaders(module: JsonExporterModule): Record<string, string> {
  const auth = module.http_client_config?.authorization;
  if (auth === undefined) return {};
  const credentials = auth.credentials ?? (auth.credentials_file === undefined ? '' : readFileSync(auth.credentials_file, 'utf8').trim());
  return { authorization: `${auth.type ?? 'Bearer'} ${credentials}` };
}

/** A key file in a fresh temporary folder, standing in for one that docker compose mounts. */
export function writeKeyFile(key: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vdm-key-')), 'scrape_key');
  writeFileSync(path, `${key}\n`);
  return path;
}

export function loadJsonExporterConfig(text: string): JsonExporterConfig {
  return load(text) as JsonExporterConfig;
}

const STEP = /^(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\*\]|\[(\d+)\]|\[['"]([^'"]+)['"]\])/;

/** Evaluates `{.a.b[*].c}` (fields, `[*]`, `[n]`, `['key']`) against a document: every match, in order. */
export function jsonPath(expression: string, doc: unknown): unknown[] {
  const m = /^\{\s*(.*?)\s*\}$/.exec(expression.trim());
  if (!m) throw new Error(`not a JSONPath template: ${expression}`);
  let rest = m[1];
  let current: unknown[] = [doc];
  while (rest.length > 0) {
    const step = STEP.exec(rest);
    if (!step) throw new Error(`unsupported JSONPath step at "${rest}" in ${expression}`);
    rest = rest.slice(step[0].length);
    const next: unknown[] = [];
    for (const node of current) {
      if (step[0] === '[*]') {
        if (Array.isArray(node)) next.push(...(node as unknown[]));
        else if (node !== null && typeof node === 'object') next.push(...Object.values(node));
      } else if (step[2] !== undefined) {
        if (Array.isArray(node) && Number(step[2]) < node.length) next.push(node[Number(step[2])]);
      } else {
        const key = step[1] ?? step[3];
        if (node !== null && typeof node === 'object' && key in node) next.push((node as Record<string, unknown>)[key]);
      }
    }
    current = next;
  }
  return current;
}

/** One exported sample, as json_exporter would produce it. */
export interface ExportedSample {
  name: string;
  valuetype: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

function label(template: string, node: unknown): string {
  if (!template.includes('{')) return template;
  const found = jsonPath(template, node);
  if (found.length !== 1) throw new Error(`label ${template} matched ${found.length} values`);
  return String(found[0]);
}

function numeric(template: string, node: unknown): number {
  const found = template.includes('{') ? jsonPath(template, node) : [template];
  if (found.length !== 1) throw new Error(`value ${template} matched ${found.length} values`);
  const value = Number(found[0]);
  if (typeof found[0] === 'object' || Number.isNaN(value)) throw new Error(`value ${template} is not a number: ${JSON.stringify(found[0])}`);
  return value;
}

/** Applies one module's metrics to a JSON document. Throws where json_exporter would log an error. */
export function exportSamples(metrics: JsonExporterMetric[], doc: unknown): ExportedSample[] {
  const out: ExportedSample[] = [];
  for (const metric of metrics) {
    const base = { valuetype: metric.valuetype ?? 'untyped', help: metric.help ?? metric.name };
    if ((metric.type ?? 'value') === 'value') {
      const labels = Object.fromEntries(Object.entries(metric.labels ?? {}).map(([k, t]) => [k, label(t, doc)]));
      out.push({ ...base, name: metric.name, labels, value: numeric(metric.path, doc) });
      continue;
    }
    for (const node of jsonPath(metric.path, doc)) {
      const labels = Object.fromEntries(Object.entries(metric.labels ?? {}).map(([k, t]) => [k, label(t, node)]));
      for (const [key, template] of Object.entries(metric.values ?? {})) {
        out.push({ ...base, name: `${metric.name}_${key}`, labels, value: numeric(template, node) });
      }
    }
  }
  return out;
}

function render(samples: ExportedSample[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const s of samples) {
    if (!seen.has(s.name)) {
      seen.add(s.name);
      lines.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.valuetype}`);
    }
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
    lines.push(`${s.name}${labels.length ? `{${labels.join(',')}}` : ''} ${s.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Serves `/probe?module=...&target=...` like json_exporter on a loopback port. */
export async function startJsonExporter(config: JsonExporterConfig): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const module = config.modules[url.searchParams.get('module') ?? ''];
    const target = url.searchParams.get('target');
    if (url.pathname !== '/probe' || !module || !target) {
      res.writeHead(400).end('bad probe');
      return;
    }
    fetch(target, { headers: probeHeaders(module) })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`target answered ${r.status}`))))
      .then((doc) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(render(exportSamples(module.metrics, doc))))
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
