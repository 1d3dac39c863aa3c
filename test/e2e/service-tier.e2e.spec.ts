import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogging } from '../../src/logging/logger';
import type { WirePrices } from '../../src/metrics/format/prices';
import type { WireRunningTotals, WireTrace } from '../../src/metrics/format/wire';
import { FakeUpstream, type Script, type Usage } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

// Golden costs by service tier, worked by hand (USD per million tokens).
// gpt-5, catalog (standard): input 1.25, cached 0.125, output 10. Flex, from the prices file (OpenAI's
// published flex rates, half the standard): input 0.625, cached 0.0625, output 5.
// claude-sonnet-4-5, catalog (standard): input 3, 5-minute write 3.75, read 0.30, output 15. Priority,
// from the prices file: input 6, write 7.5, read 0.60, output 30.

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const PRICES = `prices:
  - provider: openai
    model: "gpt-5*"
    service_tier: flex
    input: 0.625
    output: 5
    cache_read: 0.0625
  - provider: anthropic
    model: "claude-sonnet-4-5*"
    service_tier: priority
    input: 6
    output: 30
    cache_read: 0.6
    cache_write: 7.5
`;

/** OpenAI: prompt_tokens 3000 of which 2000 cached, 400 completion tokens. */
const OPENAI_USAGE: Usage = { input: 1000, cacheRead: 2000, output: 400 };
/** Anthropic: 1000 input, 2000 cache reads, 100 cache writes, 400 output. */
const ANTHROPIC_USAGE: Usage = { input: 1000, cacheRead: 2000, cacheCreation: 100, output: 400 };

// 1000*0.625 + 2000*0.0625 + 400*5 = 2750 per million
const GPT5_FLEX = 0.00275;
// 1000*1.25 + 2000*0.125 + 400*10 = 5500 per million
const GPT5_STANDARD = 0.0055;
// 1000*6 + 2000*0.6 + 100*7.5 + 400*30 = 19950 per million
const SONNET_PRIORITY = 0.01995;
// 1000*3 + 2000*0.3 + 100*3.75 + 400*15 = 9975 per million
const SONNET_STANDARD = 0.009975;

const messages = [{ role: 'user' as const, content: 'hi' }];

let fake: FakeUpstream;
let gw: RunningApp;
let openai: OpenAI;
let anthropic: Anthropic;
let pricesPath: string;
let seq = 0;
const logs = new Capture();

beforeAll(async () => {
  fake = await FakeUpstream.start();
  pricesPath = join(mkdtempSync(join(tmpdir(), 'vdm-tier-')), 'prices.yaml');
  writeFileSync(pricesPath, PRICES);
  gw = await startApp(
    {
      OPENAI_API_KEY: 'sk-openai-upstream',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      ANTHROPIC_API_KEY: 'sk-ant-upstream',
      ANTHROPIC_BASE_URL: fake.url,
      VDM_DEFAULT_PROVIDER: 'openai',
      VDM_PRICES_FILE: pricesPath,
    },
    { pino: createLogging({ logLevel: 'info', logPretty: false }, logs).pino },
  );
  openai = new OpenAI({ apiKey: 'client', baseURL: `${gw.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

async function trace(id: string): Promise<WireTrace> {
  let found: WireTrace | undefined;
  await eventually(() => (found = gw.tracker.recentTraces(200).find((t) => t.request_id === id)) !== undefined);
  expect(found!.status).toBe('ok');
  return found!;
}

async function chat(script: Script, stream: boolean, tier?: 'flex' | 'priority'): Promise<WireTrace> {
  fake.enqueue(script);
  const id = `tier-${++seq}`;
  const body = { model: 'openai:gpt-5', messages, ...(tier === undefined ? {} : { service_tier: tier }) };
  if (stream) {
    const s = await openai.chat.completions.create({ ...body, stream: true }, { headers: { 'x-request-id': id } });
    for await (const _ of s) void _;
  } else {
    const answer = await openai.chat.completions.create(body, { headers: { 'x-request-id': id } });
    // The client is sent the tier as the upstream reported it.
    expect(answer.service_tier ?? null).toBe(script.serviceTier === undefined ? 'default' : script.serviceTier);
  }
  return trace(id);
}

async function responses(script: Script, stream: boolean): Promise<WireTrace> {
  fake.enqueue(script);
  const id = `tier-${++seq}`;
  const body = { model: 'openai:gpt-5', input: 'hi', service_tier: 'flex' as const };
  if (stream) {
    const s = await openai.responses.create({ ...body, stream: true }, { headers: { 'x-request-id': id } });
    for await (const _ of s) void _;
  } else await openai.responses.create(body, { headers: { 'x-request-id': id } });
  return trace(id);
}

async function messagesApi(model: string, script: Script, stream: boolean): Promise<WireTrace> {
  fake.enqueue(script);
  const id = `tier-${++seq}`;
  const headers = { 'x-request-id': id };
  if (stream) await anthropic.messages.stream({ model, max_tokens: 10, messages }, { headers }).finalMessage();
  else await anthropic.messages.create({ model, max_tokens: 10, messages }, { headers });
  return trace(id);
}

describe('cost by the service tier the upstream reports, through the official SDKs, streaming and not', () => {
  it.each([false, true])('OpenAI Chat Completions at flex: the prices file flex rate, stream=%s', async (stream) => {
    const t = await chat({ usage: OPENAI_USAGE, serviceTier: 'flex' }, stream, 'flex');
    expect(fake.requests.at(-1)!.body.service_tier).toBe('flex');
    expect(t).toMatchObject({ service_tier: 'flex', input_tokens: 1000, cache_read_tokens: 2000, output_tokens: 400, cost_usd: GPT5_FLEX });
  });

  it.each([false, true])('OpenAI Responses at flex: the same rate, from response.completed, stream=%s', async (stream) => {
    const t = await responses({ usage: OPENAI_USAGE, serviceTier: 'flex' }, stream);
    expect(t).toMatchObject({ api: 'openai_responses', service_tier: 'flex', cost_usd: GPT5_FLEX });
  });

  it.each([false, true])('an Anthropic client converted to an OpenAI upstream at flex: the same rate, stream=%s', async (stream) => {
    const t = await messagesApi('openai:gpt-5', { usage: OPENAI_USAGE, serviceTier: 'flex' }, stream);
    expect(t).toMatchObject({ api: 'anthropic_messages', service_tier: 'flex', cost_usd: GPT5_FLEX });
  });

  it.each([false, true])('OpenAI priority with no priority price: cost_usd null, never the standard rate, stream=%s', async (stream) => {
    const t = await chat({ usage: OPENAI_USAGE, serviceTier: 'priority' }, stream, 'priority');
    expect(t).toMatchObject({ service_tier: 'priority', output_tokens: 400, cost_usd: null });
  });

  it.each([false, true])('Anthropic priority: the prices file priority rate, stream=%s', async (stream) => {
    const t = await messagesApi('anthropic:claude-sonnet-4-5', { usage: ANTHROPIC_USAGE, serviceTier: 'priority' }, stream);
    expect(t).toMatchObject({ service_tier: 'priority', cache_creation_tokens: 100, cost_usd: SONNET_PRIORITY });
  });

  it.each([false, true])('standard tiers (default, standard, or none reported) keep the standard rate, stream=%s', async (stream) => {
    expect(await chat({ usage: OPENAI_USAGE }, stream)).toMatchObject({ service_tier: 'default', cost_usd: GPT5_STANDARD });
    expect(await chat({ usage: OPENAI_USAGE, serviceTier: null }, stream)).toMatchObject({ service_tier: null, cost_usd: GPT5_STANDARD });
    expect(await responses({ usage: OPENAI_USAGE, serviceTier: 'default' }, stream)).toMatchObject({ service_tier: 'default', cost_usd: GPT5_STANDARD });
    const sonnet = 'anthropic:claude-sonnet-4-5';
    expect(await messagesApi(sonnet, { usage: ANTHROPIC_USAGE }, stream)).toMatchObject({ service_tier: 'standard', cost_usd: SONNET_STANDARD });
    expect(await messagesApi(sonnet, { usage: ANTHROPIC_USAGE, serviceTier: null }, stream)).toMatchObject({ service_tier: null, cost_usd: SONNET_STANDARD });
  });

  it('logs one warning per unpriced provider/model/tier, not one per request', () => {
    const warnings = logs.text.split('\n').filter((l) => l.includes('No price known for provider=openai model=gpt-5 service_tier=priority'));
    expect(warnings).toHaveLength(1);
    expect(logs.text).not.toContain('service_tier=flex');
  });

  it('the request completed line carries the tier', () => {
    const completed = logs.text
      .split('\n')
      .filter((l) => l.includes('"request completed"'))
      .map((l) => JSON.parse(l) as { service_tier?: string; cost_usd?: number | null });
    expect(completed.filter((l) => l.service_tier === 'priority' && l.cost_usd === null)).toHaveLength(2);
    expect(completed.filter((l) => l.service_tier === 'flex' && l.cost_usd === GPT5_FLEX)).toHaveLength(6);
  });

  it('GET /metrics/prices shows the tier prices of the prices file', async () => {
    const doc = (await (await fetch(`${gw.url}/metrics/prices`)).json()) as WirePrices;
    const gpt5 = doc.prices.find((p) => p.provider === 'openai' && p.model === 'gpt-5');
    expect(gpt5).toMatchObject({ input: 1.25, output: 10, source: { kind: 'catalog' } });
    expect(gpt5!.service_tiers).toEqual([
      { service_tier: 'flex', input: 0.625, output: 5, cache_read: 0.0625, cache_write: 0.625, cache_write_1h: 0.625, source: { kind: 'override', file: pricesPath, entry: 0 } },
    ]);
    const one = (await (await fetch(`${gw.url}/metrics/prices?provider=anthropic&model=claude-sonnet-4-5`)).json()) as WirePrices;
    expect(one.prices[0].service_tiers).toEqual([expect.objectContaining({ service_tier: 'priority', input: 6, output: 30, cache_read: 0.6, cache_write: 7.5 })]);
  });

  it('the running totals and /metrics count the unpriced tier requests and sum the priced ones exactly', async () => {
    const nano = (usd: number): number => Math.round(usd * 1e9);
    const traces = gw.tracker.recentTraces(200);
    const expected = traces.reduce((sum, t) => sum + (t.cost_usd === null ? 0 : nano(t.cost_usd)), 0);
    // 6 flex at 2750, 2 priority unpriced, 6 standard at 5500 (gpt-5); 2 priority at 19950, 4 standard at 9975 (sonnet)
    expect(expected).toBe(nano(6 * GPT5_FLEX + 6 * GPT5_STANDARD + 2 * SONNET_PRIORITY + 4 * SONNET_STANDARD));
    const doc = (await (await fetch(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).json()) as WireRunningTotals;
    expect(nano(doc.summary.total_cost_usd)).toBe(expected);
    expect(doc.summary.total_unpriced_requests).toBe(2);
    expect(doc.providers.openai.models['gpt-5'].total.unpriced_requests).toBe(2);
    const prom = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
    expect(nano(sumOf(prom, 'vdm_cost_usd_total'))).toBe(expected);
    expect(sumOf(prom, 'vdm_unpriced_requests_total', { provider: 'openai', model: 'gpt-5' })).toBe(2);
  });
});

describe('the service tier in the usage store', () => {
  it('is stored with each row and restored in the traces after a restart; a session is found through its index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdm-tier-store-'));
    const env = {
      OPENAI_API_KEY: 'sk-openai-upstream',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      VDM_DEFAULT_PROVIDER: 'openai',
      VDM_PRICES_FILE: pricesPath,
      VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
      VDM_STORE_FLUSH_MS: '20',
    };
    let app = await startApp(env);
    const client = new OpenAI({ apiKey: 'client', baseURL: `${app.url}/v1`, maxRetries: 0 });
    fake.enqueue({ usage: OPENAI_USAGE, serviceTier: 'flex' });
    await client.chat.completions.create({ model: 'openai:gpt-5', messages, service_tier: 'flex' }, { headers: { 'x-request-id': 'stored-flex', 'x-vdm-session': 'Sess-Tier' } });
    fake.enqueue({ usage: OPENAI_USAGE });
    await client.chat.completions.create({ model: 'openai:gpt-5', messages }, { headers: { 'x-request-id': 'stored-default', 'x-vdm-session': 'other-session' } });
    await app.close();

    app = await startApp(env);
    try {
      const logs = (await (await fetch(`${app.url}/metrics/logs`)).json()) as { traces: WireTrace[] };
      expect(logs.traces.find((t) => t.request_id === 'stored-flex')).toMatchObject({ service_tier: 'flex', cost_usd: GPT5_FLEX });
      expect(logs.traces.find((t) => t.request_id === 'stored-default')).toMatchObject({ service_tier: 'default', cost_usd: GPT5_STANDARD });
      const page = (await (await fetch(`${app.url}/metrics/requests?session=sess-tier`)).json()) as { requests: { request_id: string; service_tier: string | null }[] };
      expect(page.requests).toEqual([expect.objectContaining({ request_id: 'stored-flex', service_tier: 'flex' })]);
    } finally {
      await app.close();
    }
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'usage.db'), { readonly: true });
    try {
      const plan = db.prepare("explain query plan select * from usage_requests where lower(session) = 'sess-tier' order by id desc").all() as { detail: string }[];
      expect(plan.map((p) => p.detail).join('\n')).toContain('usage_requests_session');
    } finally {
      db.close();
    }
  });
});
