import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream, type Script } from '../fakes/fake-upstream';
import { compileGateway, spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { postgresBinary, startPostgres, type PostgresServer } from '../support/postgres-server';
// mulberry32, so a failing run can be repeated with its seed.
import { rng as random } from './soak-engine';

/**
 * Budgets across a fleet: three gateway processes on one PostgreSQL share one budget, under hundreds of concurrent
 * requests with client aborts, upstream faults and streams without usage, and one replica is killed (SIGKILL) while
 * it holds reservations. After the drain and the lease: spent <= limit + overshoot (0 here: prices and caps hold),
 * every refusal explained by what was in flight, no reservation left, spent equal to the stored rows' cost, and each
 * alert threshold crossed fired once across the fleet.
 */
const initdb = postgresBinary();
const SEED = Number(process.env.SOAK_SEED ?? 20261208);
const LIMIT_USD = 0.04;
const LIMIT_NANO = LIMIT_USD * 1e9;
/** Longer than any request here (a stall is cut by the 4 s timeout; a loaded 2-core machine stretches the rest): a live request never outlives its lease. */
const LEASE_S = 20;
const CONCURRENCY = 60;
const PHASE_A = 300;
const PHASE_B = 400;
const HELD = 5;
const MODEL = 'anthropic:claude-sonnet-4-5';
/** 0.1 and 0.25 are always crossed (refusals only come once spent plus what is in flight nears the limit); 0.9 may be. */
const ALERT_AT = [0.1, 0.25, 0.9];
/** The same prompt for every request, so every reservation is the same upper bound. */
const PROMPT = 'Summarize the quarterly budget review for the platform team in two short sentences, please.';

interface Outcome {
  sentAt: number;
  doneAt: number;
  kind: 'ok' | 'refused' | 'error' | 'aborted';
  message?: string;
}

describe.skipIf(initdb === undefined)('budgets across a fleet on PostgreSQL', () => {
  let pg: PostgresServer;
  let fake: FakeUpstream;
  let compiled: ReturnType<typeof compileGateway>;
  let dir: string;
  let db: Client;
  const gateways: GatewayProcess[] = [];
  let release: () => void = () => undefined;
  let watching = false;
  let hook: Server;
  const alerts: { budget: string; threshold: number }[] = [];
  const held = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    pg = await startPostgres(initdb!);
    fake = await FakeUpstream.start();
    const rnd = random(SEED ^ 0x5eed);
    fake.script((req): Script => {
      if (req.body?.metadata?.user_id === 'held') return { holdUntil: held };
      const r = rnd();
      const pace = { chunkDelayMs: 2 + Math.floor(rnd() * 20) };
      if (r < 0.1) return { ...pace, omitUsage: true };
      if (r < 0.16) return { ...pace, fault: 'reset-mid-stream' };
      if (r < 0.2) return { status: 529, errorMessage: 'overloaded' };
      if (r < 0.25) return { ...pace, fault: 'stall-before-usage' };
      if (r < 0.28) return { ...pace, fault: 'malformed-sse' };
      return pace;
    });
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as { budget: string; threshold: number });
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    compiled = compileGateway();
    dir = mkdtempSync(join(tmpdir(), 'vdm-fleet-'));
    const limits = join(dir, 'limits.yaml');
    writeFileSync(
      limits,
      `budgets:\n  - name: fleet\n    usd: ${LIMIT_USD}\n    period: month\n    shared: true\n    alert_at: [${ALERT_AT.join(', ')}]\n` +
        `alerts:\n  webhook: http://127.0.0.1:${(hook.address() as AddressInfo).port}/budget\n`,
    );
    const env = (i: number): Record<string, string> => ({
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
      ANTHROPIC_BASE_URL: fake.url,
      VDM_STORE: pg.url,
      VDM_INSTANCE_ID: `fleet-${i}`,
      VDM_STORE_FLUSH_MS: '50',
      VDM_LIMITS_FILE: limits,
      VDM_RESERVATION_LEASE_SECONDS: String(LEASE_S),
      REQUEST_TIMEOUT_SECONDS: '4',
    });
    for (let i = 0; i < 3; i++) gateways.push(await spawnGatewayProcess(compiled.main, env(i)));
    db = new Client({ connectionString: pg.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    watching = false;
    release();
    for (const g of gateways) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGKILL');
    await db?.end().catch(() => undefined);
    await fake?.close();
    await new Promise((resolve) => hook?.close(resolve));
    compiled?.remove();
    pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const count = async (text: string): Promise<number> => Number((await db.query<{ n: string }>(text)).rows[0].n);

  it('holds one budget across three replicas, one of them killed while it holds reservations', async () => {
    const rnd = random(SEED);
    const outcomes: Outcome[] = [];
    let maxAmount = 0;
    watching = true;
    // The largest reservation seen (all requests are alike, so all reserve the same upper bound).
    const watcher = (async () => {
      while (watching) {
        const { rows } = await db.query<{ m: string | null }>('select max(amount) as m from budget_reservations');
        maxAmount = Math.max(maxAmount, Number(rows[0].m ?? 0));
        await new Promise((r) => setTimeout(r, 20));
      }
    })().catch(() => undefined);

    const send = async (gateway: GatewayProcess, user = 'soak'): Promise<Outcome> => {
      const client = new Anthropic({ apiKey: 'client', baseURL: gateway.url, maxRetries: 0, timeout: 30_000 });
      const stream = rnd() < 0.6;
      const abort = user === 'soak' && rnd() < 0.15 ? new AbortController() : undefined;
      const abortAfter = 5 + Math.floor(rnd() * 200);
      const sentAt = Date.now();
      const body = { model: MODEL, max_tokens: 16, metadata: { user_id: user }, messages: [{ role: 'user' as const, content: PROMPT }] };
      let timer: NodeJS.Timeout | undefined;
      if (abort) timer = setTimeout(() => abort.abort(), abortAfter);
      const outcome = (kind: Outcome['kind'], message?: string): Outcome => ({ sentAt, doneAt: Date.now(), kind, message });
      try {
        if (stream) {
          const s = await client.messages.create({ ...body, stream: true }, { signal: abort?.signal });
          for await (const event of s) void event;
        } else {
          await client.messages.create(body, { signal: abort?.signal });
        }
        return outcome('ok');
      } catch (error) {
        if (error instanceof Anthropic.RateLimitError) return outcome('refused', error.message);
        if (error instanceof Anthropic.APIUserAbortError || abort?.signal.aborted) return outcome('aborted');
        return outcome('error', error instanceof Error ? error.message : String(error));
      } finally {
        clearTimeout(timer);
      }
    };

    /** `n` requests, CONCURRENCY at a time, spread over `targets`. */
    const load = async (targets: GatewayProcess[], n: number): Promise<void> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < n; i = next++) outcomes.push(await send(targets[i % targets.length]));
        }),
      );
    };
    const quiet = async (): Promise<void> => {
      await expect
        .poll(async () => count('select count(*) as n from budget_reservations where not expired'), { timeout: (LEASE_S + 15) * 1000, interval: 50 })
        .toBe(0);
      for (const g of gateways.filter((x) => x.child.exitCode === null && x.child.signalCode === null)) {
        await expect.poll(async () => ((await (await fetch(`${g.url}/health`)).json()) as { store: { queued_rows: number } }).store.queued_rows, { timeout: 20_000 }).toBe(0);
      }
    };

    // Phase A: every replica serves; then everything settles and is stored.
    await load(gateways, PHASE_A);
    await quiet();

    // Phase B: two replicas serve the load while the third takes requests the upstream holds, and is killed holding them.
    const [a, b, victim] = gateways;
    const before = fake.requests.length;
    const loadB = load([a, b], PHASE_B);
    const heldOutcomes = Array.from({ length: HELD }, () => send(victim, 'held'));
    await expect.poll(() => fake.requests.slice(before).filter((r) => r.body?.metadata?.user_id === 'held').length, { timeout: 20_000 }).toBe(HELD);
    const holding = await count("select count(*) as n from budget_reservations where not expired and request_id is not null");
    expect(holding).toBeGreaterThanOrEqual(HELD);
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => victim.child.once('exit', r));
    release();
    for (const o of await Promise.all(heldOutcomes)) outcomes.push({ ...o, kind: 'error', doneAt: Number.POSITIVE_INFINITY });
    await loadB;

    // The drain: the live replicas store every row; the dead one's reservations lapse, are given back and purged.
    await quiet();
    await expect.poll(async () => count('select count(*) as n from budget_reservations'), { timeout: (LEASE_S * 3 + 10) * 1000, interval: 200 }).toBe(0);
    watching = false;
    await watcher;

    const counters = (await db.query('select counter, kind, limit_amount, spent, reserved, refused, overshoot from budget_counters')).rows;
    expect(counters).toHaveLength(1);
    const [budget] = counters as Record<string, string>[];
    const spent = Number(budget.spent);
    const overshoot = Number(budget.overshoot);
    const refusals = outcomes.filter((o) => o.kind === 'refused');

    // The documented bound: spent <= limit + overshoot; with true prices and output caps there is no overshoot.
    expect(Number(budget.limit_amount)).toBe(LIMIT_NANO);
    expect(spent).toBeLessThanOrEqual(LIMIT_NANO + overshoot);
    expect(overshoot).toBe(0);
    // No reservation left.
    expect(Number(budget.reserved)).toBe(0);
    // Spent is exactly the stored rows' cost, over every replica (the dead one's held requests have neither).
    const stored = (await db.query<{ cost: string | null; n: string }>('select sum(cost_nano) as cost, count(*) as n from usage_requests')).rows[0];
    expect(spent).toBe(Number(stored.cost));
    // A row for every request the gateway took and did not refuse, save those the client left before they arrived.
    const answered = outcomes.filter((o) => o.kind === 'ok' || o.kind === 'error').length - HELD;
    expect(Number(stored.n)).toBeGreaterThanOrEqual(answered);
    expect(Number(stored.n)).toBeLessThanOrEqual(outcomes.length - refusals.length - HELD);
    // The budget was used up, so refusals happened, each in Anthropic's format naming the rule, and counted.
    expect(refusals.length).toBeGreaterThan(0);
    // The counter also counts refusals whose client had already left.
    const aborted = outcomes.filter((o) => o.kind === 'aborted').length;
    expect(Number(budget.refused)).toBeGreaterThanOrEqual(refusals.length);
    expect(Number(budget.refused)).toBeLessThanOrEqual(refusals.length + aborted);
    for (const r of refusals) expect(r.message).toMatch(/fleet/);
    expect(outcomes.filter((o) => o.kind === 'ok').length).toBeGreaterThan(0);
    expect(aborted).toBeGreaterThan(0);

    // No false refusal: when a request was refused, spent + reserved + its amount passed the limit. Spent then was at
    // most the final spent less the cost of the requests that started after the refusal; reserved, at most one amount
    // per request not refused in flight at that time (a request settles as it ends: a second of slack), the dead
    // replica's until their lease ran out.
    expect(maxAmount).toBeGreaterThan(0);
    const rows = (await db.query<{ start_time: number; cost_nano: number | null }>('select start_time, cost_nano from usage_requests')).rows;
    const lapsedBy = killedAt + (LEASE_S + 10) * 1000;
    const unexplained = refusals.filter((r) => {
      const inFlight = outcomes.filter(
        (o) => o.kind !== 'refused' && o.sentAt <= r.doneAt && (o.doneAt === Number.POSITIVE_INFINITY ? r.sentAt <= lapsedBy : o.doneAt >= r.sentAt - 1000),
      ).length;
      const later = rows.filter((row) => row.start_time * 1000 > r.doneAt).reduce((t, row) => t + Number(row.cost_nano ?? 0), 0);
      return spent - later + (inFlight + 1) * maxAmount <= LIMIT_NANO;
    });
    expect(unexplained).toEqual([]);

    // Each threshold the spend crossed fired once, on whichever replica's settlement crossed it.
    const crossed = ALERT_AT.filter((t) => spent >= t * LIMIT_NANO);
    expect(crossed.length).toBeGreaterThanOrEqual(2);
    expect(alerts.map((a) => [a.budget, a.threshold]).sort()).toEqual(crossed.map((t) => ['fleet', t]));
  }, 240_000);
});
