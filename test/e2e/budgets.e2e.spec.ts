import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRequestInput } from '../../src/gateway/protocol/usage-estimate';
import type { BudgetReport } from '../../src/limits/budget-report';
import { LimitsService } from '../../src/limits/limits.service';
import { FakeUpstream, DEFAULT_USAGE } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

/**
 * Budgets and rate limits (contract section 15) through real sockets and the official SDKs: the
 * reservation before the call, the 429 in each API's format with its headers, settlement on every
 * path, spend equal to the stored costs, and reserved back at 0 after the drain.
 */

// USD per million tokens: input 1, output 2 (nanodollars per token: 1,000 and 2,000).
const PRICE = { input: 1, output: 2 };
const NANO_IN = PRICE.input * 1000;
const NANO_OUT = PRICE.output * 1000;
const LIMIT_NANO = 100_000; // $0.0001
const MAX_TOKENS = 20;

const ADMIN = 'admin-key-0001';
const KEYS = { alice: 'alice-key-0001', bob: 'bob-key-00001', ci: 'ci-key-000001', dana: 'dana-key-0001', carol: 'carol-key-001', erin: 'erin-key-0001' };

let fake: FakeUpstream;
let hook: Server;
const alerts: unknown[] = [];
let gw: RunningApp;
let dir: string;

const anthropicFor = (key: string): Anthropic => new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
const openaiFor = (key: string): OpenAI => new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 });

async function budgets(key = ADMIN): Promise<BudgetReport> {
  const res = await fetch(`${gw.url}/metrics/budgets`, { headers: { 'x-api-key': key } });
  expect(res.status).toBe(200);
  return (await res.json()) as BudgetReport;
}

interface LogRow {
  client: string;
  cost_usd: number | null;
}

async function logs(): Promise<LogRow[]> {
  const res = await fetch(`${gw.url}/metrics/logs?limit_traces=2000`, { headers: { 'x-api-key': ADMIN } });
  return ((await res.json()) as { traces: LogRow[] }).traces;
}

/** Every request so far has been finalized and settled (a client can read its answer before the gateway's close event). */
const settled = (): Promise<void> => eventually(() => gw.tracker.activeCount === 0 && gw.app.get(LimitsService).holding === 0);

const nano = (usd: number): number => Math.round(usd * 1e9);
const costOf = async (client: string): Promise<number> => (await logs()).filter((r) => r.client === client).reduce((n, r) => n + nano(r.cost_usd ?? 0), 0);

/** The message of an error body in the Anthropic format, as the SDK parsed it. */
const anthropicMessage = (e: unknown): string => ((e as { error: { error: { message: string } } }).error.error.message);

const MESSAGE = { role: 'user' as const, content: 'hi there' };

beforeAll(async () => {
  fake = await FakeUpstream.start();
  hook = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  dir = mkdtempSync(join(tmpdir(), 'vdm-budgets-'));
  const prices = join(dir, 'prices.yaml');
  writeFileSync(
    prices,
    `prices:\n  - {provider: anthropic, model: "claude-*", input: ${PRICE.input}, output: ${PRICE.output}}\n  - {provider: openai, model: "gpt-*", input: ${PRICE.input}, output: ${PRICE.output}}\n`,
  );
  const clients = join(dir, 'clients.yaml');
  writeFileSync(clients, `clients:\n  - {name: admin, key: ${ADMIN}, role: admin}\n${Object.entries(KEYS).map(([name, key]) => `  - {name: ${name}, key: ${key}}\n`).join('')}`);
  const limits = join(dir, 'limits.yaml');
  writeFileSync(
    limits,
    [
      'budgets:',
      `  - {name: alice-monthly, client: alice, usd: ${LIMIT_NANO / 1e9}, period: month, alert_at: [0.5, 1.0]}`,
      `  - {name: bob-daily, client: bob, usd: ${LIMIT_NANO / 1e9}, period: day}`,
      `  - {name: erin-paths, client: erin, usd: 1, period: hour}`,
      `  - {name: per-user, client: carol, user: "*", usd: ${LIMIT_NANO / 1e9}, period: day}`,
      'limits:',
      '  - {name: ci-rpm, client: ci, requests_per_minute: 2, tokens_per_minute: 100000}',
      '  - {name: dana-one, client: dana, concurrent: 1}',
      'alerts:',
      `  webhook: http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      '',
    ].join('\n'),
  );
  gw = await startApp({
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_PRICES_FILE: prices,
    VDM_CLIENT_KEYS_FILE: clients,
    VDM_LIMITS_FILE: limits,
    REQUEST_TIMEOUT_SECONDS: '30',
  });
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
  await new Promise((resolve) => hook?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('a monthly budget per developer key', () => {
  it('reserves the upper bound, spends exactly the stored cost, refuses the request that could pass the limit, in each format', async () => {
    const anthropic = anthropicFor(KEYS.alice);
    const body = { model: 'anthropic:claude-test', max_tokens: MAX_TOKENS, messages: [MESSAGE] };
    const upperBound = estimateRequestInput('anthropic_messages', body) * NANO_IN + MAX_TOKENS * NANO_OUT;
    const perRequest = DEFAULT_USAGE.input * NANO_IN + DEFAULT_USAGE.output * NANO_OUT;
    // Requests go through while what is spent plus this request's upper bound fits the limit.
    let expected = 0;
    while (expected * perRequest + upperBound <= LIMIT_NANO) expected++;
    expect(expected).toBeGreaterThan(1);

    for (let i = 0; i < expected; i++) {
      await settled();
      const { response } = await anthropic.messages.create(body).withResponse();
      expect(Number(response.headers.get('x-vdm-budget-remaining-usd'))).toBeCloseTo((LIMIT_NANO - i * perRequest - upperBound) / 1e9, 9);
      const month = new Date();
      expect(response.headers.get('x-vdm-budget-reset')).toBe(new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)).toISOString());
    }
    await settled();
    const refused = await anthropic.messages.create(body).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refused as InstanceType<typeof Anthropic.RateLimitError>;
    expect((error.error as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect(anthropicMessage(error)).toContain('Budget "alice-monthly" (client alice) would be exceeded: monthly limit $0.0001');
    expect(anthropicMessage(error)).toContain('the window resets at');
    expect(Number(error.headers?.get('retry-after'))).toBeGreaterThan(0);
    // Only the requests that went through reached the upstream.
    expect(fake.requests.filter((r) => r.headers['x-api-key'] === 'sk-ant-upstream').length).toBeGreaterThanOrEqual(expected);

    const report = await budgets();
    const alice = report.budgets.find((b) => b.name === 'alice-monthly')!;
    expect(nano(alice.spent_usd)).toBe(await costOf('alice'));
    expect(nano(alice.spent_usd)).toBe(expected * perRequest);
    expect(alice).toMatchObject({ client: 'alice', user: null, reserved_usd: 0, requests: expected, refused: 1, overshoot_usd: 0, period: 'month' });
    expect(nano(alice.remaining_usd)).toBe(LIMIT_NANO - expected * perRequest);
    expect(alice.forecast.usd_per_hour).toBeGreaterThan(0);
  });

  it('answers an OpenAI client insufficient_quota, and refusals are not usage', async () => {
    const openai = openaiFor(KEYS.bob);
    const before = (await logs()).length;
    const rejected = async (): Promise<number> => sumOf(parseExposition(await (await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': ADMIN } })).text()), 'vdm_rejected_requests_total', { reason: 'budget' });
    const rejectedBefore = await rejected();
    let refused: unknown;
    for (let i = 0; i < 10 && refused === undefined; i++) {
      await settled();
      await openai.chat.completions.create({ model: 'openai:gpt-test', max_tokens: MAX_TOKENS, messages: [MESSAGE] }).catch((e: unknown) => (refused = e));
    }
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.code).toBe('insufficient_quota');
    expect(error.type).toBe('insufficient_quota');
    expect(error.message).toContain('Budget "bob-daily" (client bob)');
    const succeeded = (await logs()).length - before;
    expect(succeeded).toBeGreaterThan(0);
    expect((await logs()).every((r) => r.cost_usd !== null)).toBe(true);
    expect(await rejected()).toBe(rejectedBefore + 1);
    const bob = (await budgets()).budgets.find((b) => b.name === 'bob-daily')!;
    expect(bob.requests).toBe(succeeded);
    expect(nano(bob.spent_usd)).toBe(await costOf('bob'));
  });

  it('sets the output cap on a request that has none, so the reservation is an upper bound', async () => {
    const openai = openaiFor(KEYS.erin);
    const n = fake.requests.length;
    await openai.chat.completions.create({ model: 'openai:gpt-test', messages: [MESSAGE] });
    await openai.responses.create({ model: 'openai:gpt-test', input: 'hi there' });
    await anthropicFor(KEYS.erin).messages.create({ model: 'anthropic:claude-test', max_tokens: 7, messages: [MESSAGE] });
    const [chat, responses, messages] = fake.requests.slice(n);
    expect(chat.body.max_completion_tokens).toBe(16384);
    expect(responses.body.max_output_tokens).toBe(16384);
    // The client's own cap is kept.
    expect(messages.body.max_tokens).toBe(7);
  });

  it('refuses a model with no known price under a USD budget, saying to add one', async () => {
    const error = await anthropicFor(KEYS.erin)
      .messages.create({ model: 'anthropic:mystery-model-x', max_tokens: 5, messages: [MESSAGE] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect(anthropicMessage(error)).toContain('no known price');
    expect(anthropicMessage(error)).toContain('VDM_PRICES_FILE');
  });

  it('keeps one budget per user of a client', async () => {
    const anthropic = anthropicFor(KEYS.carol);
    for (const user of ['u1', 'u2', 'u2']) {
      await anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 5, messages: [MESSAGE], metadata: { user_id: user } });
    }
    await settled();
    const perUser = (await budgets()).budgets.filter((b) => b.name === 'per-user');
    expect(perUser.map((b) => [b.user, b.requests]).sort()).toEqual([
      ['u1', 1],
      ['u2', 2],
    ]);
  });
});

describe('who sees which budgets', () => {
  it('a client key sees only its own budgets and limits; an admin sees all', async () => {
    await settled();
    const own = await budgets(KEYS.carol);
    expect(own.budgets.length).toBeGreaterThan(0);
    expect(own.budgets.every((b) => b.client === 'carol')).toBe(true);
    expect(own.limits).toEqual([]);
    const all = await budgets();
    expect(new Set(all.budgets.map((b) => b.client))).toEqual(new Set(['alice', 'bob', 'erin', 'carol']));
    const refused = await fetch(`${gw.url}/metrics/budgets?client=alice`, { headers: { 'x-api-key': KEYS.carol } });
    expect(refused.status).toBe(400);
  });
});

describe('rate limits', () => {
  it('requests per minute: OpenAI headers on each answer, rate_limit_exceeded past the limit', async () => {
    // Two requests and a third in one calendar minute: start early enough in a minute.
    await eventually(() => Date.now() % 60_000 < 50_000, 1200, 10);
    const openai = openaiFor(KEYS.ci);
    const first = await openai.chat.completions.create({ model: 'openai:gpt-test', max_tokens: MAX_TOKENS, messages: [MESSAGE] }).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    // OpenAI's duration format: 59s, 1m0s (a request in the minute's first second), 250ms.
    expect(first.response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?\d+(ms|s)$/);
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(Number(first.response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(100000);
    await openai.chat.completions.create({ model: 'openai:gpt-test', max_tokens: MAX_TOKENS, messages: [MESSAGE] });
    const error = await openai.chat.completions.create({ model: 'openai:gpt-test', max_tokens: MAX_TOKENS, messages: [MESSAGE] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const refusal = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(refusal.code).toBe('rate_limit_exceeded');
    expect(refusal.message).toContain('Rate limit "ci-rpm" (client ci): 2 requests per minute');
    expect(Number(refusal.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(refusal.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    await settled();
    const row = (await budgets()).limits.find((l) => l.client === 'ci')!;
    expect(row).toMatchObject({ requests_per_minute: 2, requests_used: 2, refused: 1, concurrent: null });
    expect(row.tokens_used).toBe(2 * (DEFAULT_USAGE.input + DEFAULT_USAGE.output));
  });

  it('concurrency: a second request while one is in flight gets 429 with retry-after 1, and the slot comes back', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    fake.script({ holdUntil: held });
    const anthropic = anthropicFor(KEYS.dana);
    const n = fake.requests.length;
    const first = anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 5, messages: [MESSAGE] });
    await fake.waitForRequests(n + 1);
    const error = await anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 5, messages: [MESSAGE] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('1');
    expect(anthropicMessage(error)).toContain('Concurrency limit "dana-one"');
    expect((await budgets()).limits.find((l) => l.client === 'dana')).toMatchObject({ in_flight: 1, refused: 1 });
    release();
    fake.script({});
    await first;
    await eventually(async () => (await budgets()).limits.find((l) => l.client === 'dana')?.in_flight === 0);
    await anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 5, messages: [MESSAGE] });
  });
});

describe('settlement on every path', () => {
  const erin = async () => (await budgets()).budgets.find((b) => b.name === 'erin-paths')!;

  it('a client that leaves mid-stream, an upstream error, and a stream without usage all settle once, at their recorded cost', async () => {
    const anthropic = anthropicFor(KEYS.erin);
    // Upstream error.
    fake.script({ status: 500 });
    await anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 5, messages: [MESSAGE] }).catch(() => undefined);
    // A stream without usage: settled at its estimate.
    fake.script({ omitUsage: true });
    const stream = await anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 50, messages: [MESSAGE], stream: true });
    for await (const _ of stream) void _;
    // The client leaves mid-stream.
    fake.script({ fault: 'stall-mid-stream' });
    const n = fake.requests.length;
    const controller = new AbortController();
    const leaving = anthropic.messages.create({ model: 'anthropic:claude-test', max_tokens: 50, messages: [MESSAGE], stream: true }, { signal: controller.signal });
    await fake.waitForRequests(n + 1);
    const s = await leaving;
    for await (const _ of s) {
      controller.abort();
      break;
    }
    fake.script({});
    await eventually(() => gw.tracker.activeCount === 0);
    await eventually(async () => (await erin()).reserved_usd === 0);
    expect(gw.app.get(LimitsService).holding).toBe(0);
    const e = await erin();
    expect(nano(e.spent_usd)).toBe(await costOf('erin'));
    expect(e.requests).toBe((await logs()).filter((r) => r.client === 'erin').length);
  });

  it('prometheus: budget gauges, and each alert threshold fired once by webhook', async () => {
    await settled();
    const text = await (await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': ADMIN } })).text();
    const samples = parseExposition(text);
    const report = (await budgets()).budgets.find((b) => b.name === 'alice-monthly')!;
    expect(sumOf(samples, 'vdm_budget_spent_usd', { budget: 'alice-monthly', client: 'alice' })).toBeCloseTo(report.spent_usd, 12);
    expect(sumOf(samples, 'vdm_budget_limit_usd', { budget: 'alice-monthly', client: 'alice' })).toBeCloseTo(LIMIT_NANO / 1e9, 12);
    expect(sumOf(samples, 'vdm_budget_reserved_usd', { budget: 'alice-monthly', client: 'alice' })).toBe(0);
    expect(sumOf(samples, 'vdm_budget_alerts_total', { budget: 'alice-monthly', threshold: '0.5' })).toBe(1);
    expect(sumOf(samples, 'vdm_rejected_requests_total', { reason: 'concurrency' })).toBe(1);
    expect(sumOf(samples, 'vdm_rejected_requests_total', { reason: 'rate_limit' })).toBe(1);
    await eventually(() => alerts.length >= 1);
    expect(alerts.filter((a) => (a as { budget: string }).budget === 'alice-monthly')).toEqual([
      expect.objectContaining({ budget: 'alice-monthly', client: 'alice', user: null, threshold: 0.5, limit_usd: LIMIT_NANO / 1e9 }),
    ]);
  });
});
