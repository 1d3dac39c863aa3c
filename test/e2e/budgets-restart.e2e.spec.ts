import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogging } from '../../src/logging/logger';
import { estimateRequestInput } from '../../src/gateway/protocol/usage-estimate';
import type { BudgetReport } from '../../src/limits/budget-report';
import { LimitsService } from '../../src/limits/limits.service';
import { DEFAULT_USAGE, FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';

/** The spend of the current window survives a restart (restored from the SQLite store), and the limits file reloads. */

class Capture extends Writable {
  lines: { level: number; msg: string }[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as { level: number; msg: string });
    done();
  }
}

const KEY = 'dev-key-00001';
const PER_REQUEST = DEFAULT_USAGE.input * 1000 + DEFAULT_USAGE.output * 2000;
const BODY = { model: 'anthropic:claude-test', max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }] };
const UPPER_BOUND = estimateRequestInput('anthropic_messages', BODY) * 1000 + BODY.max_tokens * 2000;
let fake: FakeUpstream;
let dir: string;
let env: Record<string, string>;
let limitsPath: string;

const budgetFile = (usd: number): string => `budgets:\n  - {name: dev, client: dev, usd: ${usd}, period: month}\n`;

async function start(logs?: Capture): Promise<RunningApp> {
  return startApp(env, logs ? { pino: createLogging({ logLevel: 'info', logPretty: false }, logs).pino } : {});
}

async function report(gw: RunningApp): Promise<BudgetReport> {
  await eventually(() => gw.tracker.activeCount === 0 && gw.app.get(LimitsService).holding === 0);
  return (await (await fetch(`${gw.url}/metrics/budgets`, { headers: { 'x-api-key': KEY } })).json()) as BudgetReport;
}

/** One request, after the ones before it have settled (a client can read its answer before the gateway's close event). */
const ask = async (gw: RunningApp) => {
  await eventually(() => gw.tracker.activeCount === 0 && gw.app.get(LimitsService).holding === 0);
  return new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 }).messages.create(BODY);
};

beforeAll(async () => {
  fake = await FakeUpstream.start();
  dir = mkdtempSync(join(tmpdir(), 'vdm-budget-restart-'));
  writeFileSync(join(dir, 'prices.yaml'), 'prices:\n  - {provider: anthropic, model: "*", input: 1, output: 2}\n');
  writeFileSync(join(dir, 'clients.yaml'), `clients:\n  - {name: dev, key: ${KEY}}\n`);
  limitsPath = join(dir, 'limits.yaml');
  // Room for the reservation of one request beyond three spent, not of one beyond four.
  writeFileSync(limitsPath, budgetFile((4 * PER_REQUEST + UPPER_BOUND - 1) / 1e9));
  env = {
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: fake.url,
    VDM_PRICES_FILE: join(dir, 'prices.yaml'),
    VDM_CLIENT_KEYS_FILE: join(dir, 'clients.yaml'),
    VDM_LIMITS_FILE: limitsPath,
    VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
  };
});

afterAll(async () => {
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a restart', () => {
  it('neither forgets the spend nor counts it twice, and the limit still holds', async () => {
    const first = await start();
    for (let i = 0; i < 3; i++) await ask(first);
    const before = (await report(first)).budgets[0];
    expect(before.spent_usd * 1e9).toBeCloseTo(3 * PER_REQUEST, 3);
    await first.close();

    const second = await start();
    try {
      const after = (await report(second)).budgets[0];
      expect(after).toMatchObject({ spent_usd: before.spent_usd, requests: 3, reserved_usd: 0 });
      // The fourth fits; the fifth could pass the limit, whatever the restart.
      await ask(second);
      await expect(ask(second)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
      expect((await report(second)).budgets[0]).toMatchObject({ requests: 4, refused: 1 });
    } finally {
      await second.close();
    }
    const third = await start();
    try {
      expect((await report(third)).budgets[0].spent_usd * 1e9).toBeCloseTo(4 * PER_REQUEST, 3);
    } finally {
      await third.close();
    }
  });
});

describe('reloading VDM_LIMITS_FILE', () => {
  it('a bad file keeps the rules in force with one error line; a good one replaces them, on SIGHUP and on change', async () => {
    writeFileSync(limitsPath, budgetFile(PER_REQUEST / 2 / 1e9));
    const logs = new Capture();
    const gw = await start(logs);
    try {
      await expect(ask(gw)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
      const errors = (): string[] => logs.lines.filter((l) => l.level >= 50 && l.msg.includes('VDM_LIMITS_FILE')).map((l) => l.msg);

      writeFileSync(limitsPath, 'budgets:\n  - {name: dev, client: dev, usd: -1, period: month}\n');
      await eventually(() => errors().length === 1);
      expect(errors()[0]).toContain('budgets[0] (dev).usd must be a number of US dollars greater than 0; the rules loaded before stay in force');
      await expect(ask(gw)).rejects.toBeInstanceOf(Anthropic.RateLimitError);

      process.emit('SIGHUP', 'SIGHUP');
      expect(errors()).toHaveLength(2);
      await expect(ask(gw)).rejects.toBeInstanceOf(Anthropic.RateLimitError);

      writeFileSync(limitsPath, budgetFile(1));
      await eventually(() => logs.lines.some((l) => l.msg.startsWith('VDM_LIMITS_FILE reloaded (the file changed)')));
      await ask(gw);
      expect(errors()).toHaveLength(2);
    } finally {
      await gw.close();
    }
  });
});

describe('settlement when the gateway ends the request', () => {
  it('a timeout and a cancellation at shutdown each settle once, giving the reservation back', async () => {
    writeFileSync(limitsPath, budgetFile(1));
    const gw = await startApp({ ...env, VDM_STORE: 'none', REQUEST_TIMEOUT_SECONDS: '0.5' });
    try {
      const limits = gw.app.get(LimitsService);
      // Timeout: the upstream never answers; the gateway's own deadline ends the request.
      fake.script({ fault: 'stall-before-headers' });
      const timedOut = await ask(gw).catch((e: unknown) => e);
      expect((timedOut as { status?: number }).status).toBe(504);
      await eventually(() => gw.tracker.activeCount === 0 && limits.holding === 0);
      // Shutdown: what is still in flight after the grace period is cancelled through its handle.
      const n = fake.requests.length;
      const pending = ask(gw).catch((e: unknown) => e);
      await fake.waitForRequests(n + 1);
      await eventually(() => limits.holding === 1);
      expect(gw.tracker.cancelActive('shutdown')).toBe(1);
      expect(limits.holding).toBe(0);
      fake.script({});
      await pending;
      const dev = (await report(gw)).budgets[0];
      expect(dev).toMatchObject({ requests: 2, reserved_usd: 0, overshoot_usd: 0 });
      const traces = gw.tracker.recentTraces(10).filter((t) => t.client === 'dev');
      expect(traces.map((t) => t.error_type).sort()).toEqual(['cancelled', 'upstream_timeout']);
      expect(Math.round(dev.spent_usd * 1e9)).toBe(traces.reduce((sum, t) => sum + Math.round((t.cost_usd ?? 0) * 1e9), 0));
    } finally {
      fake.script({});
      await gw.close();
    }
  });
});
