import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';
import {
  asObserved,
  buildSchedule,
  countKinds,
  drive,
  expectedTotals,
  observedFromJson,
  observedFromPrometheus,
  runningTotals,
  scriptFake,
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

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

beforeAll(async () => {
  timersBefore = timers();
  fake = await FakeUpstream.start();
  gw = await startApp({ ...SOAK_GATEWAY_ENV, ANTHROPIC_BASE_URL: fake.url, OPENAI_BASE_URL: `${fake.url}/v1` });
  schedule = buildSchedule(SEED, REQUESTS);
  scriptFake(fake, schedule);
  driven = await drive(gw.url, schedule, CONCURRENCY);
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

describe(`fault soak (seed ${SEED}, ${REQUESTS} requests at concurrency ${CONCURRENCY})`, () => {
  it('drains to no active request, and stays there', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    await new Promise((r) => setTimeout(r, 100));
    expect(gw.tracker.activeCount).toBe(0);
    expect(gw.tracker.activeSnapshot()).toEqual([]);
  });

  it('counts every request, every error by type and every token exactly', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    const expected = expectedTotals(schedule);
    const { json } = await runningTotals(gw.url);
    const observed = observedFromJson(json, gw.tracker.errorDistribution());
    expect(driven.sent).toBe(REQUESTS);
    expect({ observed, kinds: countKinds(schedule) }).toEqual({ observed: asObserved(expected), kinds: countKinds(schedule) });
    // Refused requests never reach the upstream; every other one does, once.
    const refused = schedule.filter((p) => p.kind === 'bad-json' || p.kind === 'bad-body').length;
    expect(fake.requests.length).toBe(REQUESTS - refused);
  });

  it('answers the same numbers in JSON, YAML and Prometheus', async () => {
    await eventually(() => gw.tracker.activeCount === 0);
    const { json, yaml } = await runningTotals(gw.url);
    expect(yaml.summary).toEqual(json.summary);
    expect(yaml.providers).toEqual(json.providers);
    const prom = await observedFromPrometheus(gw.url);
    if (prom !== undefined) expect(prom).toEqual(observedFromJson(json, gw.tracker.errorDistribution()));
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
