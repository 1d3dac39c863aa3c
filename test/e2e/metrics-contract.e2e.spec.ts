import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { driveKnownTraffic } from '../support/traffic';

const CONTRACT = readFileSync(resolve(__dirname, '../../docs/metrics-contract.md'), 'utf8');

/** The keys of the first `| key | meaning |` table under the heading that starts with `heading`; planned rows apart. */
function documentedKeys(heading: string): { served: string[]; planned: string[] } {
  const lines = CONTRACT.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').startsWith(heading));
  if (start < 0) throw new Error(`no heading "${heading}" in docs/metrics-contract.md`);
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l));
  const rows = lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => /^\| `[a-z_]+` \|/.test(l));
  if (rows.length === 0) throw new Error(`no key table under "${heading}"`);
  const key = (row: string): string => /^\| `([a-z_]+)` \|/.exec(row)![1];
  return {
    served: rows.filter((r) => !/\*\*planned\*\*/.test(r)).map(key),
    planned: rows.filter((r) => /\*\*planned\*\*/.test(r)).map(key),
  };
}

const sorted = (keys: Iterable<string>): string[] => [...new Set(keys)].sort();

const gw = useGateway(undefined, { per: 'file' });
let totals: any;
let active: any;
let logs: any;

beforeAll(async () => {
  await driveKnownTraffic(gw.url, gw.fake);
  // One stream held in flight, so the active-requests list has a row to compare.
  let release!: () => void;
  gw.fake.enqueue({ text: 'held', holdUntil: new Promise<void>((r) => (release = r)) });
  const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
  const held = anthropic.messages.stream({ model: 'sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  await gw.fake.waitForRequests(7);
  totals = await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json();
  active = await (await fetch(`${gw.url}/metrics/active-requests`)).json();
  logs = await (await fetch(`${gw.url}/metrics/logs`)).json();
  release();
  await held;
});

describe('docs/metrics-contract.md against what the gateway serves', () => {
  it('documents the running totals summary keys', () => {
    expect(sorted(Object.keys(totals.summary))).toEqual(sorted(documentedKeys('Summary').served));
  });

  it('documents the keys of every running totals section and series row', () => {
    const { served } = documentedKeys('Section');
    const sections = Object.values(totals.providers).flatMap((p: any) => [
      ...Object.values(p.rollup),
      ...Object.values(p.models).flatMap((m: any) => [m.total, m.streaming, m.non_streaming]),
    ]);
    expect(sections.length).toBeGreaterThan(0);
    for (const section of sections) expect(sorted(Object.keys(section as object))).toEqual(sorted(served));
    expect(totals.series.length).toBeGreaterThan(0);
    for (const row of totals.series) expect(sorted(Object.keys(row))).toEqual(sorted(['provider', 'model', 'mode', ...served]));
  });

  it('documents the active request row keys', () => {
    expect(active.active_requests).toHaveLength(1);
    expect(sorted(Object.keys(active.active_requests[0]))).toEqual(sorted(documentedKeys('4. GET /metrics/active-requests').served));
  });

  it('documents the trace keys, which error entries share', () => {
    const { served } = documentedKeys('6. GET /metrics/logs');
    expect(logs.traces.length).toBeGreaterThan(0);
    expect(logs.errors.length).toBeGreaterThan(0);
    for (const entry of [...logs.traces, ...logs.errors]) expect(sorted(Object.keys(entry))).toEqual(sorted(served));
  });

  it('marks no summary or section key planned: cost and clients are both built, and the usage store adds none', () => {
    const planned = ['Summary', 'Section'].flatMap((h) => documentedKeys(h).planned);
    expect(planned).toEqual([]);
  });

  it('serves the clients map and client_series rows with the documented section keys', () => {
    const { served } = documentedKeys('Section');
    expect(sorted(Object.keys(totals))).toEqual(sorted(['summary', 'providers', 'clients', 'series', 'client_series']));
    const clients = Object.values(totals.clients);
    expect(clients.length).toBeGreaterThan(0);
    for (const c of clients as any[]) {
      expect(sorted(Object.keys(c))).toEqual(['last_accessed', 'rollup']);
      for (const section of Object.values(c.rollup)) expect(sorted(Object.keys(section as object))).toEqual(sorted(served));
    }
    for (const row of totals.client_series) expect(sorted(Object.keys(row))).toEqual(sorted(['client', 'mode', ...served]));
  });
});
