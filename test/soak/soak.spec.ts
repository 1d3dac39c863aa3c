import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogging } from '../../src/logging/logger';
import { UsageStore } from '../../src/store/usage-store.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';
import {
  asObserved,
  buildSchedule,
  countKinds,
  countsOf,
  drive,
  expectedTotals,
  expectedByApi,
  ledgerOfRows,
  ledgerOfTotals,
  provenanceProblems,
  readStoredRows,
  receivedOf,
  rowsCostNano,
  requestIdProblems,
  requestIdsFromApi,
  soakCostNano,
  usageLedgers,
  withoutErrorTypes,
  writeSoakPrices,
  requestsByApiFromPrometheus,
  getText,
  parsePrometheus,
  NEVER_UPSTREAM,
  observedFromJson,
  observedFromPrometheus,
  runningTotals,
  scriptFake,
  SOAK_CANARIES,
  SOAK_GATEWAY_ENV,
  type DriveResult,
  type Planned,
} from './soak-engine';

/** The suite's small soak; `npm run soak` runs the full one (20,000 at 200) against a child process. */
const SEED = Number(process.env.SOAK_SEED ?? 20261124);
const REQUESTS = 2_000;
const CONCURRENCY = 50;


let fake: FakeUpstream;
let gw: RunningApp;
let schedule: Planned[];
let driven: DriveResult;
let timersBefore = 0;
let logs = '';
let dir: string;

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

beforeAll(async () => {
  timersBefore = timers();
  fake = await FakeUpstream.start();
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  const pino = createLogging({ logLevel: 'debug', logPretty: false }, out).pino;
  dir = mkdtempSync(join(tmpdir(), 'vdm-soak-'));
  gw = await startApp(
    { ...SOAK_GATEWAY_ENV, ANTHROPIC_BASE_URL: fake.url, OPENAI_BASE_URL: `${fake.url}/v1`, VDM_PRICES_FILE: writeSoakPrices(dir), VDM_STORE: `sqlite:${join(dir, 'usage.db')}` },
    { pino },
  );
  schedule = buildSchedule(SEED, REQUESTS);
  scriptFake(fake, schedule);
  driven = await drive(gw.url, schedule, CONCURRENCY);
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`fault soak (seed ${SEED}, ${REQUESTS} requests at concurrency ${CONCURRENCY})`, () => {
  it('drains to no active request, and stays there', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(gw.tracker.activeCount).toBe(0);
    expect(gw.tracker.activeSnapshot()).toEqual([]);
  });

  it('counts every request and every error by type exactly', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    const expected = expectedTotals(schedule);
    const { json } = await runningTotals(gw.url);
    const observed = countsOf(observedFromJson(json, gw.tracker.errorDistribution()));
    expect(driven.sent).toBe(REQUESTS);
    expect({ observed, kinds: countKinds(schedule) }).toEqual({ observed: asObserved(expected), kinds: countKinds(schedule) });
    // Refused requests never reach the upstream; every other one does, once.
    const refused = schedule.filter((p) => NEVER_UPSTREAM.has(p.kind)).length;
    expect(fake.requests.length).toBe(REQUESTS - refused);
  });

  it('refuses every keyless probe under every spelling, and counts the refusals apart from usage', async () => {
    const probes = schedule.filter((p) => p.kind === 'unauth-probe').length;
    expect(probes).toBeGreaterThan(20);
    expect(driven.probeLeaks).toEqual([]);
    const metrics = (await getText(`${gw.url}/metrics`)).text;
    const rejected = [...metrics.matchAll(/^vdm_rejected_requests_total\{reason="\w+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(rejected).toBe(probes);
  });

  it('lets no configured secret out: client bodies, traces, totals, /metrics, in-flight rows, logs', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    expect(schedule.filter((p) => p.kind === 'key-echo').length).toBeGreaterThan(10);
    expect(driven.leaks).toBe(0);
    const outputs = [
      (await getText(`${gw.url}/metrics/logs?limit_errors=1000&limit_traces=2000`)).text,
      (await getText(`${gw.url}/metrics/running-totals?format=json`)).text,
      (await getText(`${gw.url}/metrics/running-totals`)).text,
      (await getText(`${gw.url}/metrics`)).text,
      (await getText(`${gw.url}/metrics/active-requests`)).text,
      logs,
    ];
    for (const text of outputs) for (const secret of SOAK_CANARIES) expect(text.includes(secret)).toBe(false);
  });

  it('answers the same numbers in JSON, YAML and Prometheus', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    const { json, yaml } = await runningTotals(gw.url);
    expect(yaml.summary).toEqual(json.summary);
    expect(yaml.providers).toEqual(json.providers);
    const prom = await observedFromPrometheus(gw.url);
    if (prom !== undefined) expect(prom).toEqual(observedFromJson(json, gw.tracker.errorDistribution()));
  });

  it('charges every answer: reported counts exactly, the rest estimated within the tolerance of what the upstream would have reported', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await gw.app.get(UsageStore).flush();
    const rows = readStoredRows(join(dir, 'usage.db'));
    expect(provenanceProblems(rows, [schedule], receivedOf([{ schedule, result: driven }]))).toEqual([]);
    const estimated = rows.filter((r) => r.usage_source === 'estimated' || r.usage_source === 'partial').length;
    // Client aborts, timeouts, cut streams and answers without usage: all charged.
    expect(estimated).toBeGreaterThan(schedule.filter((p) => p.kind === 'client-abort' || p.kind === 'no-usage').length);
    const { json, yaml } = await runningTotals(gw.url);
    expect(json.summary.total_estimated_requests).toBe(estimated);
    expect(yaml.summary.total_estimated_requests).toBe(estimated);
    const families = parsePrometheus((await getText(`${gw.url}/metrics`)).text);
    expect((families.get('vdm_estimated_requests_total') ?? []).reduce((a, s) => a + s.value, 0)).toBe(estimated);
  });

  it('costs every request exactly: YAML = JSON = /metrics = the traces = the stored counts worked by hand', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await gw.app.get(UsageStore).flush();
    const nano = (usd: number): number => Math.round(usd * 1e9);
    const expected = rowsCostNano(readStoredRows(join(dir, 'usage.db')));
    expect(expected).toBeGreaterThan(0);
    const { json, yaml } = await runningTotals(gw.url);
    for (const doc of [json, yaml]) {
      expect(nano(doc.summary.total_cost_usd)).toBe(expected);
      expect(doc.summary.total_unpriced_requests).toBe(0);
    }
    const families = parsePrometheus((await getText(`${gw.url}/metrics`)).text);
    const promNano = (families.get('vdm_cost_usd_total') ?? []).reduce((a, s) => a + nano(s.value), 0);
    expect(promNano).toBe(expected);
    // The last traces each cost what their own token counts come to at the file's prices.
    const traces = gw.tracker.recentTraces(200);
    let checked = 0;
    for (const t of traces) {
      if (t.provider !== 'anthropic' && t.provider !== 'openai') continue;
      const own = soakCostNano(t.provider, { input: t.input_tokens, output: t.output_tokens, cacheRead: t.cache_read_tokens, cacheCreation: t.cache_creation_tokens });
      expect(nano(t.cost_usd ?? Number.NaN)).toBe(own);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('counts every request under its client API, Responses traffic included', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    const expected = expectedByApi(schedule);
    expect(expected.openai_responses).toBeGreaterThan(0);
    expect(await requestsByApiFromPrometheus(gw.url)).toEqual(expected);
  });

  it('stores every accounted request exactly once: rows = running totals = /metrics/usage', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await gw.app.get(UsageStore).flush();
    const rows = readStoredRows(join(dir, 'usage.db'));
    const ids = rows.map((r) => r.request_id);
    expect(requestIdProblems(ids, [schedule])).toEqual([]);
    expect([...(await requestIdsFromApi(gw.url))].sort()).toEqual([...ids].sort());
    const totals = ledgerOfTotals((await runningTotals(gw.url)).json, gw.tracker.errorDistribution());
    expect(totals.requests).toBe(expectedTotals(schedule).requests);
    expect(totals.costNano).toBe(rowsCostNano(rows));
    expect(ledgerOfRows(rows)).toEqual(totals);
    const usage = await usageLedgers(gw.url);
    expect(usage).toEqual({ rollups: withoutErrorTypes(totals), rows: withoutErrorTypes(totals) });
  });

  it('served /health throughout', () => {
    expect(driven.healthChecks).toBeGreaterThan(0);
    expect(driven.healthFailures).toBe(0);
  });

  it('leaves no upstream socket or timer open once the gateway closes', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await gw.close();
    await eventually(() => fake.openConnections() === 0);
    await eventually(() => timers() <= timersBefore);
  });
});
