/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, against the whole
 * gateway on a loopback port with a slow scripted upstream. Screenshots go to test-artifacts/dashboard/.
 *
 * CI installs chromium (.ci/run); without it this file is skipped, under CI=true it fails.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.factory';
import { FakeUpstream } from '../fakes/fake-upstream';
import { FakeAdminApi } from '../fakes/fake-admin-api';
import { Reconciler } from '../../src/reconciliation/reconciler.service';
import { UsageStore } from '../../src/store/usage-store.service';
import { makeConfig } from '../support/factories';
import { requireBinary } from '../support/require-binary';

const CHROMIUM = requireBinary(process.env.CHROMIUM_PATH ?? 'chromium', 'chromium');
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'dashboard');
const WAIT = 15_000;
const TEXT = 'The quick brown fox jumps over the lazy dog again and again.';
const USAGE = { input: 1234, output: 56, cacheRead: 300, cacheCreation: 40 };

interface Gateway {
  app: NestFastifyApplication;
  port: number;
  url: string;
  /** Stops the gateway, dropping open connections (the dashboard's stream among them) server side. */
  close(): Promise<void>;
}

async function startGateway(env: Record<string, string>, port = 0): Promise<Gateway> {
  const app = await createApp(makeConfig(env));
  await app.listen({ host: '127.0.0.1', port });
  const address = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    port: address.port,
    url,
    close: once(() => closeCuttingConnections(app)),
  };
}

/** An open SSE response keeps a graceful close waiting forever: cut every connection until the server has stopped listening. */
async function closeCuttingConnections(app: NestFastifyApplication): Promise<void> {
  let closed = false;
  const closing = app.close().finally(() => {
    closed = true;
  });
  while (!closed) {
    app.getHttpServer().closeAllConnections();
    await new Promise((r) => setTimeout(r, 20));
  }
  await closing;
}

function once(f: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= f());
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

let browser: Browser;
let fake: FakeUpstream;
const cleanups: (() => Promise<void>)[] = [];

function upstreamEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: 'sk-ant-upstream-test',
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-openai-upstream-test',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_DEFAULT_PROVIDER: 'anthropic',
    VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.1',
    ...extra,
  };
}

async function gateway(env: Record<string, string>, port = 0): Promise<Gateway> {
  const gw = await startGateway(env, port);
  cleanups.push(() => gw.close());
  return gw;
}

/** A SQLite usage store in a fresh temp folder, removed after the test (after its gateway closed). */
function storeEnv(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-dash-store-'));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return { VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20' };
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  expect(res.status, url).toBe(200);
  return res.json();
}

/** Waits until the store holds every finished request the running totals count. */
async function storeCaughtUp(gw: Gateway): Promise<any> {
  const live = (await getJson(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).summary;
  await expect.poll(async () => (await getJson(`${gw.url}/metrics/usage?from=-2d`)).totals.requests, { timeout: WAIT }).toBe(live.total_requests);
  return live;
}

/** Nanodollars from a cost tooltip ("$0.004782", "$0.01; 1 unpriced request not included"). */
const nanoOf = (title: string | null): number => Math.round(Number((title ?? '').split(';')[0].replace(/^\$/, '')) * 1e9);
const nano = (usd: number | null | undefined): number => Math.round((usd ?? 0) * 1e9);

interface Watched {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions and CSP violations: none allowed. */
  problems: string[];
  requests: { url: string; headers: Record<string, string> }[];
}

async function openPage(colorScheme: 'light' | 'dark' = 'light'): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1100 }, colorScheme, locale: 'en-US' });
  const page = await context.newPage();
  const watched: Watched = { page, context, problems: [], requests: [] };
  page.on('pageerror', (error) => watched.problems.push(`pageerror: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Uncaught|TypeError|ReferenceError/i.test(msg.text())) {
      watched.problems.push(`console: ${msg.text()}`);
    }
  });
  page.on('request', (request) => watched.requests.push({ url: request.url(), headers: request.headers() }));
  cleanups.push(() => context.close());
  return watched;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const status = (page: Page): Promise<string | null> => page.getAttribute('#conn-status', 'data-state');
const cell = (page: Page, selector: string): Promise<string | null> =>
  page.locator(selector).first().textContent({ timeout: WAIT });

/** What the page sees when its tab is hidden or shown again (headless chromium has no real tabs). */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    // This callback runs in the browser; the test's tsconfig has no DOM types.
    const doc = (globalThis as any).document;
    Object.defineProperty(doc, 'hidden', { configurable: true, get: () => value });
    Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => (value ? 'hidden' : 'visible') });
    doc.dispatchEvent(new (globalThis as any).Event('visibilitychange'));
  }, hidden);
}

async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector('#conn-status[data-state="live"]', { timeout: WAIT });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  fake = await FakeUpstream.start();
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

afterAll(async () => {
  await browser?.close();
  await fake?.close();
});

describe.skipIf(CHROMIUM === undefined)('dashboard in chromium', () => {
  it('shows a streaming request live, then counts it in the providers grid; light and dark', async () => {
    const gw = await gateway(upstreamEnv());
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard`); // redirects to /dashboard/
    expect(page.url()).toBe(`${gw.url}/dashboard/`);
    await waitLive(page);
    await page.waitForSelector('#active-empty:not([hidden])');
    expect(await cell(page, '[data-metric="requests"] .value')).toBe('0');
    const providersTop = async (): Promise<number | undefined> => (await page.locator('#providers-grid').boundingBox())?.y;
    const topBefore = await providersTop();

    const release = deferred();
    fake.enqueue({ text: TEXT, usage: USAGE, chunkDelayMs: 300, holdUntil: release.promise });
    const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
    const done = anthropic.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();

    // The row arrives with the SSE push of the request's start.
    const row = page.locator('#active-grid tbody tr[data-provider="anthropic"]');
    await row.waitFor({ timeout: WAIT });
    expect(await row.locator('td[data-col="model"]').textContent()).toBe('claude-sonnet-4-5');
    expect(await row.locator('td[data-col="mode"]').textContent()).toBe('stream');
    expect(await cell(page, '#active-count')).toBe('1');
    expect(await cell(page, '[data-metric="in_flight"] .value')).toBe('1');
    // The duration ticks on the client while the upstream holds the request.
    await expect.poll(() => row.locator('td[data-col="duration"]').textContent(), { timeout: WAIT }).not.toBe('0 s');
    // Rows coming and going do not move the rest of the page.
    expect(await providersTop()).toBe(topBefore);
    await shot(page, '01-light-in-flight');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, '02-dark-in-flight');
    await page.emulateMedia({ colorScheme: 'light' });

    // Token counts update as the stream reports them (message_start carries the input usage).
    release.resolve();
    await expect.poll(() => row.locator('td[data-col="input_tokens"]').textContent(), { timeout: WAIT }).toBe('1,234');
    expect(await row.locator('td[data-col="cache_read_tokens"]').textContent()).toBe('300');
    // Cost so far at claude-sonnet-4-5 list prices ($3 in, $0.30 read, $3.75 write, $15 out per million),
    // from message_start's usage (its output_tokens is a placeholder: output counts from message_delta):
    // 1234*3 + 300*0.3 + 40*3.75 = 3942 per million.
    expect(await row.locator('td[data-col="cost_usd"]').textContent()).toBe('0.39¢');
    expect(await row.locator('td[data-col="cost_usd"]').getAttribute('title')).toBe('$0.003942');

    await done;
    await page.locator('#active-grid tbody tr').first().waitFor({ state: 'detached', timeout: WAIT });
    await expect.poll(() => cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="requests"]'), { timeout: WAIT }).toBe('1');
    expect(await providersTop()).toBe(topBefore);
    expect(await cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="streaming"]')).toBe('1');
    expect(await cell(page, '#models-grid tr[data-model="claude-sonnet-4-5"] td[data-col="input_tokens"]')).toBe('1,234');
    expect(await cell(page, '[data-metric="requests"] .value')).toBe('1');
    expect(await cell(page, '[data-metric="input"] .value')).toBe('1,234');
    expect(await cell(page, '[data-metric="in_flight"] .value')).toBe('0');
    // Finished: 1234*3 + 56*15 + 300*0.3 + 40*3.75 = 4782 per million, on the card and in the cost columns.
    expect(await cell(page, '[data-metric="cost"] .value')).toBe('0.48¢');
    expect(await page.locator('[data-metric="cost"] .value').getAttribute('title')).toBe('$0.004782');
    expect(await cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="cost_usd"]')).toBe('0.48¢');
    expect(await cell(page, '#models-grid tr[data-model="claude-sonnet-4-5"] td[data-col="cost_usd"]')).toBe('0.48¢');
    await page.locator('#traces-grid tbody tr').first().waitFor({ timeout: WAIT });

    // A non-streaming request on another provider, and a failed one: split, second badge, errors.
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    fake.enqueue({ status: 429, errorMessage: 'Slow down' });
    await expect(openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'y' }] })).rejects.toThrow();
    await expect.poll(() => cell(page, '#providers-grid tr[data-provider="openai"] td[data-col="requests"]'), { timeout: WAIT }).toBe('2');
    expect(await cell(page, '#providers-grid tr[data-provider="openai"] td[data-col="non_streaming"]')).toBe('2');
    expect(await cell(page, '#providers-grid tr[data-provider="openai"] td[data-col="errors"]')).toBe('1');
    await page.locator('#errors-grid tbody tr').first().waitFor({ timeout: WAIT });
    expect(await cell(page, '[data-metric="errors"] .sub')).toMatch(/33(\.3)?% error rate/);

    // Sortable: providers by name, ascending then descending.
    await page.click('#providers-grid th[data-key="provider"] button');
    expect(await page.locator('#providers-grid tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-provider')))).toEqual(['anthropic', 'openai']);
    await page.click('#providers-grid th[data-key="provider"] button');
    expect(await page.getAttribute('#providers-grid th[data-key="provider"]', 'aria-sort')).toBe('descending');
    expect(await page.locator('#providers-grid tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-provider')))).toEqual(['openai', 'anthropic']);
    // The streaming / non-streaming switch.
    await page.click('.segmented input[value="streaming"] + span');
    await expect.poll(() => page.locator('#providers-grid tbody tr').count()).toBe(1);
    await page.click('.segmented input[value="total"] + span');

    // Provider badges keep their colour: same hue in every grid, different across providers.
    const hues: string[] = await page
      .locator('.badge')
      .evaluateAll((badges) => badges.map((b) => `${b.textContent}=${b.style.getPropertyValue('--hue')}`));
    const byProvider = new Map(hues.map((h) => h.split('=') as [string, string]));
    expect(new Set(hues).size).toBe(byProvider.size);
    expect(byProvider.get('anthropic')).not.toBe(byProvider.get('openai'));

    await shot(page, '03-light-after');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, '04-dark-after');
    expect(problems).toEqual([]);
  }, 90_000);

  it('reconnects with backoff when the gateway restarts, and shows the new one’s data', async () => {
    const first = await gateway(upstreamEnv());
    let second: Gateway | undefined = undefined;
    cleanups.push(async () => {
      await second?.close();
    });
    const { page, problems } = await openPage();
    await page.goto(`${first.url}/dashboard/`);
    await waitLive(page);
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${first.url}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    await expect.poll(() => cell(page, '[data-metric="requests"] .value'), { timeout: WAIT }).toBe('1');

    // Kill the stream server side: the whole gateway goes away.
    await first.close();
    await page.waitForSelector('#conn-status[data-state="reconnecting"]', { timeout: WAIT });
    await expect.poll(() => cell(page, '#conn-status'), { timeout: WAIT }).toMatch(/Reconnecting in \d+ s \(try [2-9]\)/);
    await shot(page, '05-reconnecting');

    second = await startGateway(upstreamEnv(), first.port);
    await waitLive(page);
    // Resynced from the new process: its totals start from zero.
    await expect.poll(() => cell(page, '[data-metric="requests"] .value'), { timeout: WAIT }).toBe('0');
    const release = deferred();
    fake.enqueue({ holdUntil: release.promise });
    const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: second.url, maxRetries: 0 });
    const done = anthropic.messages.stream({ model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    await page.locator('#active-grid tbody tr[data-provider="anthropic"]').waitFor({ timeout: WAIT });
    await shot(page, '06-reconnected');
    release.resolve();
    await done;
    await expect.poll(() => cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="requests"]'), { timeout: WAIT }).toBe('1');
    expect(problems).toEqual([]);
  }, 90_000);

  it('shows a Clients grid: each client by name or key fingerprint, never the key', async () => {
    fake.script({ text: TEXT, usage: USAGE });
    const gw = await gateway(upstreamEnv());
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    const keyOne = 'sk-dash-client-key-one-4f1c';
    const keyTwo = 'sk-dash-client-key-two-9a7e';
    const ask = { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user' as const, content: 'x' }] };
    await new Anthropic({ apiKey: keyOne, baseURL: gw.url, maxRetries: 0 }).messages.create(ask);
    await new Anthropic({ apiKey: keyOne, baseURL: gw.url, maxRetries: 0 }).messages.create(ask);
    await new OpenAI({ apiKey: keyTwo, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const one = `key:${createHash('sha256').update(keyOne).digest('hex').slice(0, 16)}`;
    const two = `key:${createHash('sha256').update(keyTwo).digest('hex').slice(0, 16)}`;
    await expect.poll(() => cell(page, `#clients-grid tr[data-client="${one}"] td[data-col="requests"]`), { timeout: WAIT }).toBe('2');
    expect(await cell(page, `#clients-grid tr[data-client="${two}"] td[data-col="requests"]`)).toBe('1');
    expect(await cell(page, `#clients-grid tr[data-client="${one}"] td[data-col="input_tokens"]`)).toBe('2,468');
    const text = await page.locator('body').innerText();
    expect(text).toContain(one);
    expect(text).not.toContain(keyOne);
    expect(text).not.toContain(keyTwo);
    await shot(page, '11-clients-grid');
    expect(problems).toEqual([]);
  });

  it('asks for PROXY_API_KEY once and sends it in a header, never in a URL', async () => {
    const key = 'dash-secret-key-123';
    const gw = await gateway(upstreamEnv({ PROXY_API_KEY: key }));
    const { page, problems, requests } = await openPage('dark');
    await page.goto(`${gw.url}/dashboard/`);
    await page.waitForSelector('#key-dialog[open]', { timeout: WAIT });
    expect(await status(page)).toBe('locked');
    await shot(page, '07-key-dialog-dark');

    await page.fill('#api-key', 'wrong-key');
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#key-dialog[open]', { timeout: WAIT });
    await expect.poll(() => cell(page, '#key-error'), { timeout: WAIT }).toMatch(/refused/);

    await page.fill('#api-key', key);
    await page.click('#key-form button[type="submit"]');
    await waitLive(page);
    expect(await page.locator('#key-dialog').getAttribute('open')).toBeNull();

    const anthropic = new Anthropic({ apiKey: key, baseURL: gw.url, maxRetries: 0 });
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    await expect.poll(() => cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="requests"]'), { timeout: WAIT }).toBe('1');

    // Once per tab: a reload does not ask again.
    await page.reload();
    await waitLive(page);
    expect(await page.locator('#key-dialog').getAttribute('open')).toBeNull();
    await expect.poll(() => cell(page, '[data-metric="requests"] .value'), { timeout: WAIT }).toBe('1');
    await shot(page, '08-with-key-dark');

    const metricsCalls = requests.filter((r) => r.url.includes('/metrics/'));
    expect(metricsCalls.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.url.includes(key))).toEqual([]);
    expect(metricsCalls.filter((r) => r.headers['x-api-key'] === key).length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  }, 90_000);

  it('opened with a client key, shows that client\'s own view only: its spend, users, sessions and requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdm-dash-roles-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const keyA = 'sk-dash-team-alpha-key-1';
    const keyB = 'sk-dash-team-bravo-key-2';
    writeFileSync(join(dir, 'clients.yaml'), `clients:\n  - name: team-alpha\n    key: ${keyA}\n  - name: team-bravo\n    key: ${keyB}\n`);
    const gw = await gateway(upstreamEnv({ ...storeEnv(), VDM_CLIENT_KEYS_FILE: join(dir, 'clients.yaml'), PROXY_API_KEY: 'sk-dash-admin-key-3' }));
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    const send = (key: string, user: string, session: string) =>
      new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-vdm-user': user, 'x-vdm-session': session } })
        .chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    for (let i = 0; i < 3; i++) await send(keyA, 'alpha-user', 'alpha-session');
    for (let i = 0; i < 2; i++) await send(keyB, 'bravo-user', 'bravo-session');
    const admin = { headers: { 'x-api-key': 'sk-dash-admin-key-3' } };
    await expect.poll(async () => ((await (await fetch(`${gw.url}/metrics/usage?from=-2d`, admin)).json()) as any).totals.requests, { timeout: WAIT }).toBe(5);

    const { page, problems } = await openPage();
    const refused: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 403) refused.push(r.url());
    });
    await page.goto(`${gw.url}/dashboard/`);
    await page.waitForSelector('#key-dialog[open]', { timeout: WAIT });
    await page.fill('#api-key', keyA);
    await page.click('#key-form button[type="submit"]');
    await waitLive(page);
    await expect.poll(() => cell(page, '[data-metric="requests"] .value'), { timeout: WAIT }).toBe('3');
    await expect.poll(() => page.locator('#usage-clients-grid tbody tr').count(), { timeout: WAIT }).toBe(1);
    await expect.poll(() => page.locator('#usage-users-grid tbody tr').count(), { timeout: WAIT }).toBe(1);
    await expect.poll(() => page.locator('#traces-grid tbody tr').count(), { timeout: WAIT }).toBe(3);
    expect(await page.locator('#clients-grid tbody tr').count()).toBe(1);
    expect(await page.locator('#clients-grid tr[data-client="team-alpha"]').count()).toBe(1);
    await shot(page, '16-client-key-own-view');
    const text = await page.locator('body').innerText();
    expect(text).toContain('team-alpha');
    expect(text).toContain('alpha-user');
    for (const other of ['team-bravo', 'bravo-user', 'bravo-session']) expect(text, other).not.toContain(other);
    expect(refused).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);

  it('falls back to polling when the stream is off (503), and pauses while hidden', async () => {
    const gw = await gateway(upstreamEnv({ VDM_ACTIVE_REQUESTS_SSE_ENABLED: 'false' }));
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await page.waitForSelector('#conn-status[data-state="polling"]', { timeout: WAIT });
    expect(await page.isVisible('#notice')).toBe(true);

    const release = deferred();
    fake.enqueue({ holdUntil: release.promise });
    const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
    const done = anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    const row = page.locator('#active-grid tbody tr[data-provider="anthropic"]');
    await row.waitFor({ timeout: WAIT });
    expect(await row.locator('td[data-col="mode"]').textContent()).toBe('sync');
    await shot(page, '09-polling');

    // Hidden tab: everything stops; visible again: resync.
    await setHidden(page, true);
    await page.waitForSelector('#conn-status[data-state="paused"]', { timeout: WAIT });
    release.resolve();
    await done;
    await setHidden(page, false);
    await row.waitFor({ state: 'detached', timeout: WAIT });
    await expect.poll(() => cell(page, '#providers-grid tr[data-provider="anthropic"] td[data-col="requests"]'), { timeout: WAIT }).toBe('1');
    expect(problems).toEqual([]);
  }, 90_000);

  it('says so when metrics are disabled', async () => {
    const gw = await gateway(upstreamEnv({ LOG_REQUEST_METRICS: 'false' }));
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await page.waitForSelector('#conn-status[data-state="disabled"]', { timeout: WAIT });
    await expect.poll(() => cell(page, '#notice'), { timeout: WAIT }).toMatch(/LOG_REQUEST_METRICS=true/);
    await shot(page, '10-metrics-disabled');
    expect(problems).toEqual([]);
  }, 60_000);

  it('keeps every grid readable at 1024, 1280 and 1600 px, long model names included', async () => {
    const gw = await gateway(upstreamEnv({ OPENROUTER_API_KEY: 'sk-or-upstream-test', OPENROUTER_BASE_URL: `${fake.url}/v1`, ...storeEnv() }));
    const session = 'ci-nightly/run-20260131-0412/shard-07/retry-2/6f1c2a9e-3b7d-4e8a-9c51-0d2e4f6a8b13';
    const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
    const user = 'user_8f14e45fceea167a5a36dedd4bea2543_account_2b1c9d0e-5f7a-4c3b-9e21-7a6d4c8b0f15';
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-vdm-session': session, 'x-vdm-user': user } });
    const models = [
      'openrouter:anthropic/claude-3-5-sonnet:context-flash',
      'openrouter:meta-llama/llama-3.1-405b-instruct:nitro',
      'openai:gpt-4o-mini-2024-07-18',
    ];
    fake.script({ text: TEXT, usage: { input: 123_456_789, output: 9_876_543, cacheRead: 12_345_678, cacheCreation: 1_234_567 } });
    await anthropic.messages.create({ model: 'claude-sonnet-4-5-20250929', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    for (const model of models) await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });
    fake.enqueue({ status: 429, errorMessage: 'Rate limit reached for requests per minute on this organization; please retry after 20 seconds' });
    await expect(openai.chat.completions.create({ model: models[0], messages: [{ role: 'user', content: 'y' }] })).rejects.toThrow();
    // In flight: held upstream, one row per long name.
    const release = deferred();
    fake.enqueue(...models.map(() => ({ text: TEXT, holdUntil: release.promise })));
    const held = models.map((model) =>
      openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'z' }] }).then(async (stream) => {
        for await (const chunk of stream) void chunk;
      }),
    );
    cleanups.push(async () => {
      release.resolve();
      await Promise.allSettled(held);
    });

    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    await expect.poll(() => page.locator('#active-grid tbody tr').count(), { timeout: WAIT }).toBe(models.length);
    await page.locator('#errors-grid tbody tr').first().waitFor({ timeout: WAIT });
    await expect.poll(() => page.locator('#models-grid tbody tr').count(), { timeout: WAIT }).toBe(models.length + 1);
    // The usage grids, a session's included, filled from the store.
    await storeCaughtUp(gw);
    await page.click('#usage-refresh');
    await page.click('#usage-sessions-grid tbody tr button.link', { timeout: WAIT });
    await expect.poll(() => page.locator('#session-grid tbody tr').count(), { timeout: WAIT }).toBe(models.length + 1);
    await expect.poll(() => page.locator('#usage-models-grid tbody tr').count(), { timeout: WAIT }).toBe(models.length + 1);
    await expect.poll(() => page.locator('#usage-users-grid tbody tr').count(), { timeout: WAIT }).toBe(1);

    for (const width of [1024, 1280, 1600]) {
      await page.setViewportSize({ width, height: 1100 });
      await page.evaluate(() => new Promise((resolve) => (globalThis as any).requestAnimationFrame(resolve)));
      await shot(page, `11-width-${width}`);
      const cards = await page.evaluate(() => {
        const doc = (globalThis as any).document;
        return [...doc.querySelectorAll('#summary .card')].map((card: any) => ({
          metric: card.dataset.metric as string,
          top: Math.round(card.getBoundingClientRect().top),
          cut: [...card.querySelectorAll('h2, .value')].filter((n: any) => n.scrollWidth > n.clientWidth).map((n: any) => n.textContent as string),
        }));
      });
      // Every card's title and figure shown whole; the last row of cards is not one card alone.
      expect(cards.flatMap((c) => c.cut), `cards at ${width} px`).toEqual([]);
      const lastRow = Math.max(...cards.map((c) => c.top));
      expect(cards.filter((c) => c.top === lastRow).length, `cards on the last row at ${width} px`).toBeGreaterThanOrEqual(2);
      // When the gateway last received a request sits in the top bar.
      expect(await cell(page, '#last-access')).toMatch(/^Last request (just now|\d)/);
      const grids = await page.evaluate(() => {
        // This callback runs in the browser; the test's tsconfig has no DOM types.
        const doc = (globalThis as any).document;
        // Text is cut when its laid-out extent leaves the cell's box (ellipsis only paints over the overflow).
        const clipped = (cell: any): boolean => {
          const box = cell.getBoundingClientRect();
          const range = doc.createRange();
          range.selectNodeContents(cell);
          return [...range.getClientRects()].some((r: any) => r.width > 0 && (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5));
        };
        const tooltip = (cell: any): string => [cell, ...cell.querySelectorAll('[title]')].map((n: any) => n.title as string).join(' ');
        return [...doc.querySelectorAll('table.grid')].map((table: any) => {
          const wrap = table.parentElement;
          const shown = [...table.tHead.rows[0].cells].map((th: any, i: number) => [th, i]).filter(([th]: any) => th.getClientRects().length > 0);
          return {
            id: table.id as string,
            hidden: table.tHead.rows[0].cells.length - shown.length,
            overflow: table.getBoundingClientRect().width - wrap.clientWidth,
            columns: shown.map(([th, i]: any) => ({
              label: th.textContent.trim() as string,
              width: th.getBoundingClientRect().width as number,
              headerClipped: clipped(th),
              cells: [...table.tBodies[0].rows].map((tr: any) => {
                const td = tr.cells[i];
                return { text: td.textContent.trim() as string, title: tooltip(td), clipped: clipped(td), numeric: td.classList.contains('num') };
              }),
            })),
          };
        });
      });
      expect(grids.map((g) => g.id).sort()).toEqual([
        'active-grid', 'budgets-grid', 'clients-grid', 'errors-grid', 'models-grid', 'providers-grid', 'reconciliation-grid', 'session-grid', 'traces-grid', 'usage-clients-grid', 'usage-models-grid',
        'usage-sessions-grid', 'usage-users-grid',
      ]);
      // Both request grids say which API, who (client, user, session) and what it cost, at every width.
      for (const id of ['active-grid', 'traces-grid']) {
        const labels = grids.find((g) => g.id === id)!.columns.map((c) => c.label.replace(/[↕↑↓]/g, '').trim());
        expect(labels, `${id} at ${width} px`).toEqual(expect.arrayContaining(['API', 'Model', 'Client', 'User', 'Session', 'Duration', 'Output', 'Cost']));
      }
      const traceCells = (label: string) => grids.find((g) => g.id === 'traces-grid')!.columns.find((c) => c.label.includes(label))!.cells;
      expect(traceCells('User').some((c) => c.title === user)).toBe(true);
      expect(traceCells('Session').some((c) => c.title === session)).toBe(true);
      expect(traceCells('Client').every((c) => c.text !== '' && c.text !== '—')).toBe(true);
      expect(traceCells('API').map((c) => c.text)).toEqual(expect.arrayContaining(['messages', 'chat']));
      const activeCells = (label: string) => grids.find((g) => g.id === 'active-grid')!.columns.find((c) => c.label.includes(label))!.cells;
      expect(activeCells('User').map((c) => c.title)).toEqual(models.map(() => user));
      expect(activeCells('Session').map((c) => c.title)).toEqual(models.map(() => session));
      for (const grid of grids) {
        const where = `${grid.id} at ${width} px`;
        // Fits its panel: nothing hides behind a horizontal scroll.
        expect(grid.overflow, where).toBeLessThanOrEqual(1);
        for (const column of grid.columns) {
          const at = `${where}, column ${column.label}`;
          expect(column.width, at).toBeGreaterThanOrEqual(column.label === 'Model' || column.label === 'Message' ? 160 : 56);
          expect(column.headerClipped, at).toBe(false);
          for (const cell of column.cells) {
            // Numbers are never cut; text is shown whole, or cut with the whole of it in the tooltip.
            if (cell.numeric) expect(cell.clipped, `${at}: ${cell.text}`).toBe(false);
            else if (cell.clipped) expect(cell.title, `${at}: ${cell.text}`).toContain(cell.text);
          }
        }
      }
      // At 1024 px the models grid leaves out its stream / sync split (the switch above shows it); nothing else is left out.
      // The request grids' detail columns give way below 1440 and 1280 px.
      expect(Object.fromEntries(grids.map((g) => [g.id, g.hidden]))).toEqual({
        'active-grid': { 1024: 6, 1280: 4, 1600: 0 }[width], 'providers-grid': 0, 'models-grid': width === 1024 ? 2 : 0, 'clients-grid': 0, 'errors-grid': 0,
        'traces-grid': { 1024: 5, 1280: 2, 1600: 0 }[width], 'usage-models-grid': 0, 'usage-clients-grid': 0, 'usage-sessions-grid': 0, 'usage-users-grid': 0, 'session-grid': 0,
        // No admin key configured: the Reconciliation panel, its nine columns with it, is hidden; no limits file: the Budgets panel too.
        'reconciliation-grid': 9,
        'budgets-grid': 9,
      });
      const modelCells = grids.find((g) => g.id === 'active-grid')!.columns.find((c) => c.label === 'Model')!.cells;
      // Each in-flight row names its model, whole in the tooltip however narrow the column.
      for (const model of models) expect(modelCells.filter((c) => c.title.includes(model.slice(model.indexOf(':') + 1)))).toHaveLength(1);
    }
    release.resolve();
    await Promise.all(held);
    expect(problems).toEqual([]);
  }, 90_000);

  it('shows a stream’s output growing while it runs, labelled as characters until tokens are reported', async () => {
    const gw = await gateway(upstreamEnv());
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    fake.enqueue({ text: words, usage: USAGE, chunkDelayMs: 100 });
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const done = openai.chat.completions.create({ model: 'openai:gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'count' }] }).then(async (stream) => {
      for await (const chunk of stream) void chunk;
    });
    cleanups.push(async () => {
      await done.catch(() => undefined);
    });
    const output = page.locator('#active-grid tbody tr[data-provider="openai"] td[data-col="output_tokens"]');
    await expect.poll(() => output.textContent(), { timeout: WAIT }).toMatch(/^~\d+ chars$/);
    const first = await output.textContent();
    expect(await output.getAttribute('title')).toMatch(/^\d+ characters in \d+ chunks? received so far/);
    await expect.poll(async () => {
      const now = await output.textContent();
      return now !== first && /^~\d+ chars$/.test(now ?? '');
    }, { timeout: WAIT }).toBe(true);
    const later = Number((await output.textContent())!.replace(/\D/g, ''));
    expect(later).toBeGreaterThan(Number(first!.replace(/\D/g, '')));
    await shot(page, '12-output-progress');
    await done;
    // Tokens replace the estimate once reported; Anthropic's message_start `output_tokens: 1` is a placeholder, not a report.
    const rows = [
      { output_tokens: 1, output_chars: 1234, output_chunks: 40 },
      { output_tokens: 0, output_chars: 12_345, output_chunks: 300 },
      { output_tokens: 56, output_chars: 200, output_chunks: 12 },
      { output_tokens: 0, output_chars: 0, output_chunks: 0 },
    ];
    // A string, so the test's bundler leaves this import() for the page to run.
    const cases = await page.evaluate<{ text: string; estimate: boolean; title: string }[]>(
      `import('./format.js').then((fmt) => ${JSON.stringify(rows)}.map(fmt.outputProgress))`,
    );
    expect(cases.map((c) => [c.text, c.estimate])).toEqual([['~1,234 chars', true], ['~12.3K chars', true], ['56', false], ['0', false]]);
    expect(cases[0].title).toMatch(/^1,234 characters in 40 chunks received so far/);
    expect(cases[2].title).toBe('56 output tokens; 200 characters in 12 chunks received');
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows the cost of a model with no known price as a dash, never $0, in the Models and Usage by model grids', async () => {
    const gw = await gateway(upstreamEnv(storeEnv()));
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    for (const model of ['openai:gpt-4o', 'openai:house-model-7']) await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });
    const totals = await storeCaughtUp(gw);
    expect(totals.total_unpriced_requests).toBe(1);

    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    for (const grid of ['#models-grid', '#usage-models-grid']) {
      const cost = (model: string) => page.locator(`${grid} tbody tr[data-model="${model}"] td[data-col="cost_usd"]`);
      await expect.poll(() => cost('house-model-7').count(), { timeout: WAIT }).toBe(1);
      expect(await cost('house-model-7').textContent(), grid).toBe('—');
      expect(await cost('house-model-7').getAttribute('title'), grid).toMatch(/no price known/);
      expect(await cost('gpt-4o').textContent(), grid).toMatch(/^(\d[\d.]*¢|\$\d)/);
    }
    // The unpriced row sorts below the priced one by cost, whichever way.
    await page.click('#models-grid th[data-key="cost_usd"] button');
    const order = () => page.locator('#models-grid tbody tr').evaluateAll((rows) => rows.map((r: any) => r.dataset.model as string));
    expect((await order()).at(-1)).toBe('house-model-7');
    await page.click('#models-grid th[data-key="cost_usd"] button');
    expect((await order()).at(-1)).toBe('house-model-7');
    expect(problems).toEqual([]);
  }, 60_000);

  it('marks estimated figures: "≈" on an estimated request\'s tokens and cost in the recent grid, the estimated count on the cost card', async () => {
    const gw = await gateway(upstreamEnv());
    const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'reported' }] }, { headers: { 'x-request-id': 'dash-reported' } });
    fake.script({ text: TEXT, omitUsage: true });
    await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'estimated' }] }, { headers: { 'x-request-id': 'dash-estimated' } });

    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    const row = (id: string, col: string) => page.locator(`#traces-grid tbody tr[data-request-id="${id}"] td[data-col="${col}"]`);
    await expect.poll(() => row('dash-estimated', 'cost_usd').count(), { timeout: WAIT }).toBe(1);
    for (const col of ['cost_usd', 'input_tokens', 'output_tokens']) {
      expect(await row('dash-estimated', col).textContent(), col).toMatch(/^≈/);
      expect(await row('dash-estimated', col).getAttribute('title'), col).toMatch(/estimated: the upstream answered without reporting its usage/);
      expect(await row('dash-reported', col).textContent(), col).not.toMatch(/≈/);
      expect(await row('dash-reported', col).getAttribute('title'), col).not.toMatch(/estimated/);
    }
    await expect.poll(() => cell(page, '[data-metric="cost"] .sub'), { timeout: WAIT }).toBe('1 estimated');
    expect(await page.locator('[data-metric="cost"] .value').getAttribute('title')).toMatch(/1 request estimated \(the upstream answered without reporting its usage\)/);
    expect(problems).toEqual([]);
  }, 60_000);

  it('answers on the first screen what was spent today, this month and by whom; the recent grid shows 20 rows, more on demand', async () => {
    const gw = await gateway(upstreamEnv(storeEnv()));
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    const keys = ['sk-first-screen-alpha-1', 'sk-first-screen-beta-22'];
    for (let i = 0; i < 25; i++) {
      const openai = new OpenAI({ apiKey: keys[i % 2], baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-vdm-user': `user-${i % 3}` } });
      await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    }
    const totals = await storeCaughtUp(gw);
    expect(totals.total_cost_usd).toBeGreaterThan(0);

    const { page, problems } = await openPage();
    for (const viewport of [{ width: 1024, height: 768 }, { width: 1280, height: 800 }]) {
      await page.setViewportSize(viewport);
      await page.goto(`${gw.url}/dashboard/`);
      await waitLive(page);
      await expect.poll(() => page.locator('#usage-clients-grid tbody tr').count(), { timeout: WAIT }).toBe(2);
      // A user belongs to its client: three user names from each of two clients are six users.
      await expect.poll(() => page.locator('#usage-users-grid tbody tr').count(), { timeout: WAIT }).toBe(6);
      await shot(page, `13-first-screen-${viewport.width}`);
      // Above the fold: the usage panel with today's and this month's spend, and the head of Usage by client.
      const top = async (selector: string) => (await page.locator(selector).boundingBox())!;
      for (const selector of ['#usage', '#usage-spend', '#usage-hourly', '#usage-clients-grid thead']) {
        const box = await top(selector);
        expect(box.y + (selector === '#usage' ? 0 : box.height), `${selector} at ${viewport.width} px`).toBeLessThanOrEqual(viewport.height);
      }
      // Everything so far happened today, and this month: both say the whole cost, exact in the tooltip.
      for (const which of ['today', 'month']) {
        const strong = page.locator(`#usage-spend [data-spend="${which}"] strong`);
        await expect.poll(() => strong.getAttribute('title'), { timeout: WAIT }).toMatch(/^\$/);
        expect(nanoOf(await strong.getAttribute('title')), which).toBe(nano(totals.total_cost_usd));
        expect(await strong.textContent()).toBe(await cell(page, '[data-metric="cost"] .value'));
      }
      // The recent grid: the newest 20, and a way to see the rest.
      await expect.poll(() => page.locator('#traces-grid tbody tr').count(), { timeout: WAIT }).toBe(20);
      expect(await page.locator('#traces-more-row').isVisible()).toBe(true);
      await page.click('#traces-more');
      await expect.poll(() => page.locator('#traces-grid tbody tr').count(), { timeout: WAIT }).toBe(25);
      expect(await page.locator('#traces-more-row').isVisible()).toBe(false);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows the usage store: hourly and daily charts, by model, by client, and one session’s requests summing to its total', async () => {
    const gw = await gateway(upstreamEnv(storeEnv()));
    const { page, problems } = await openPage();
    // What the Users and Sessions tables ask the store for: the top 100 by cost (one more for the row with none), not every row.
    const asked: URL[] = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname === '/metrics/usage' && /(^|,)(user|session)$/.test(url.searchParams.get('group_by') ?? '') && !url.searchParams.has('session')) asked.push(url);
    });
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    await page.waitForSelector('#usage-hourly .chart-empty:not([hidden])', { timeout: WAIT });

    // Two clients (key fingerprints), two sessions, and one request with no session; an upstream error among them.
    const keyOne = 'sk-dash-usage-key-one-71c2';
    const keyTwo = 'sk-dash-usage-key-two-a93d';
    const ask = { max_tokens: 50, messages: [{ role: 'user' as const, content: 'x' }] };
    const alpha = { 'x-vdm-session': 'sess-alpha' };
    const beta = { 'x-vdm-session': 'sess-beta' };
    fake.enqueue({ text: TEXT, usage: USAGE });
    await new Anthropic({ apiKey: keyOne, baseURL: gw.url, maxRetries: 0, defaultHeaders: alpha }).messages.create({ model: 'claude-sonnet-4-5', ...ask });
    fake.enqueue({ text: TEXT, usage: { input: 200, output: 20 } });
    await new Anthropic({ apiKey: keyOne, baseURL: gw.url, maxRetries: 0, defaultHeaders: alpha }).messages.stream({ model: 'claude-sonnet-4-5', ...ask }).finalMessage();
    fake.enqueue({ text: TEXT, usage: { input: 500, output: 70, cacheRead: 100 } });
    await new OpenAI({ apiKey: keyOne, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: alpha }).chat.completions.create({ model: 'openai:gpt-4o', messages: ask.messages });
    const two = new OpenAI({ apiKey: keyTwo, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: beta });
    fake.enqueue({ text: TEXT, usage: { input: 800, output: 90 } });
    await two.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: ask.messages });
    fake.enqueue({ status: 429, errorMessage: 'Slow down' });
    await expect(two.chat.completions.create({ model: 'openai:gpt-4o-mini', messages: ask.messages })).rejects.toThrow();
    fake.enqueue({ text: TEXT, usage: { input: 10, output: 5 } });
    await new Anthropic({ apiKey: keyTwo, baseURL: gw.url, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-5', ...ask });

    const live = await storeCaughtUp(gw);
    expect(live.total_requests).toBe(6);
    const totals = await getJson(`${gw.url}/metrics/running-totals?format=json&include_active=false`);
    const traces: any[] = (await getJson(`${gw.url}/metrics/logs?limit_traces=100`)).traces;
    expect(traces).toHaveLength(6);

    // The panel reads the store once a minute: Refresh reads it now.
    await page.click('#usage-refresh');
    await expect.poll(() => page.getAttribute('#usage-hourly [data-sum="requests"]', 'title'), { timeout: WAIT }).toBe('6');
    const liveTokens = live.total_input_tokens + live.total_output_tokens + live.total_cache_read_tokens + live.total_cache_creation_tokens;
    for (const chart of ['#usage-hourly', '#usage-daily']) {
      expect(await page.getAttribute(`${chart} [data-sum="errors"]`, 'title')).toBe('1');
      expect(await page.getAttribute(`${chart} [data-sum="tokens"]`, 'title')).toBe(liveTokens.toLocaleString('en-US'));
      expect(nanoOf(await page.getAttribute(`${chart} [data-sum="cost_usd"]`, 'title'))).toBe(nano(live.total_cost_usd));
    }

    // What the charts draw: one bar per hour (24) and per day (30), stacked per figure, summing to the totals.
    const drawn = async (): Promise<Record<string, { labels: number; sets: Record<string, number[]> }>> =>
      page.evaluate(() => {
        const g = globalThis as any;
        const of = (selector: string) => {
          const chart = g.Chart.getChart(g.document.querySelector(`${selector} canvas`));
          return { labels: chart.data.labels.length, sets: Object.fromEntries(chart.data.datasets.map((d: any) => [d.label, d.data])) };
        };
        return { hourly: of('#usage-hourly'), daily: of('#usage-daily') };
      });
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
    const apiHours = (await getJson(`${gw.url}/metrics/usage?from=-2d&group_by=hour`)).rows;
    const apiDays = (await getJson(`${gw.url}/metrics/usage?from=-40d&group_by=day`)).rows;
    const requests = await drawn();
    expect(requests.hourly.labels).toBe(24);
    expect(requests.daily.labels).toBe(30);
    for (const [name, apiRows] of [['hourly', apiHours], ['daily', apiDays]] as const) {
      const { sets } = requests[name];
      expect(Object.keys(sets)).toEqual(['Succeeded', 'Errors']);
      const perBucket = sets.Succeeded.map((ok, i) => ok + sets.Errors[i]);
      expect(perBucket.filter((n) => n > 0), name).toEqual(apiRows.map((r: any) => r.requests));
      expect(sum(perBucket)).toBe(live.total_requests);
      expect(sum(sets.Errors)).toBe(live.total_errors);
    }
    await page.click('input[name="usage-figure"][value="tokens"] + span');
    const tokens = await drawn();
    for (const name of ['hourly', 'daily'] as const) {
      const { sets } = tokens[name];
      expect(Object.fromEntries(Object.entries(sets).map(([label, values]) => [label, sum(values)]))).toEqual({
        Input: live.total_input_tokens, Output: live.total_output_tokens, 'Cache read': live.total_cache_read_tokens, 'Cache write': live.total_cache_creation_tokens,
      });
    }
    await page.click('input[name="usage-figure"][value="cost"] + span');
    const cost = await drawn();
    for (const name of ['hourly', 'daily'] as const) expect(nano(sum(cost[name].sets.Cost))).toBe(nano(live.total_cost_usd));
    await shot(page, '13-usage-cost');

    // By model and by client: the stored sums equal the running totals, row for row.
    const models = Object.entries(totals.providers as Record<string, any>).flatMap(([provider, p]) =>
      Object.entries(p.models as Record<string, any>).map(([model, m]) => ({ provider, model, ...m.total })),
    );
    expect(await page.locator('#usage-models-grid tbody tr').count()).toBe(models.length);
    for (const m of models) {
      const row = `#usage-models-grid tr[data-provider="${m.provider}"][data-model="${m.model}"]`;
      expect(await cell(page, `${row} td[data-col="requests"]`), row).toBe(String(m.requests));
      expect(await cell(page, `${row} td[data-col="input_tokens"]`), row).toBe(m.input_tokens.toLocaleString('en-US'));
      expect(nanoOf(await page.getAttribute(`${row} td[data-col="cost_usd"]`, 'title')), row).toBe(nano(m.cost_usd));
    }
    const clients = Object.entries(totals.clients as Record<string, any>);
    expect(clients).toHaveLength(2);
    expect(await page.locator('#usage-clients-grid tbody tr').count()).toBe(clients.length);
    for (const [name, c] of clients) {
      const row = `#usage-clients-grid tr[data-client="${name}"]`;
      expect(await cell(page, `${row} td[data-col="requests"]`), row).toBe(String(c.rollup.total.requests));
      expect(await cell(page, `${row} td[data-col="errors"]`), row).toBe(String(c.rollup.total.errors));
      expect(nanoOf(await page.getAttribute(`${row} td[data-col="cost_usd"]`, 'title')), row).toBe(nano(c.rollup.total.cost_usd));
    }

    // One client charted: clicked in the table, its own hours and days, its own cost.
    const clientOne = `key:${createHash('sha256').update(keyOne).digest('hex').slice(0, 16)}`;
    const one = totals.clients[clientOne].rollup.total;
    await page.click(`#usage-clients-grid tr[data-client="${clientOne}"] button.link`);
    await expect.poll(() => page.getAttribute('#usage-daily [data-sum="requests"]', 'title'), { timeout: WAIT }).toBe(String(one.requests));
    expect(await page.inputValue('#usage-client')).toBe(clientOne);
    const costOne = await drawn();
    for (const name of ['hourly', 'daily'] as const) expect(nano(sum(costOne[name].sets.Cost)), name).toBe(nano(one.cost_usd));
    expect(nanoOf(await page.getAttribute('#usage-daily [data-sum="cost_usd"]', 'title'))).toBe(nano(one.cost_usd));
    await page.selectOption('#usage-client', '');
    await expect.poll(() => page.getAttribute('#usage-daily [data-sum="requests"]', 'title'), { timeout: WAIT }).toBe('6');

    // Sessions: the two named ones (the request without a session is in no row), most expensive first.
    const sessionsShown = (): Promise<(string | null)[]> => page.locator('#usage-sessions-grid tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-session')));
    const costOfSession = (name: string): number => traces.filter((t) => t.session === name).reduce((n, t) => n + nano(t.cost_usd), 0);
    expect(await sessionsShown()).toEqual(costOfSession('sess-alpha') > costOfSession('sess-beta') ? ['sess-alpha', 'sess-beta'] : ['sess-beta', 'sess-alpha']);
    expect(new Set(asked.map((u) => u.searchParams.get('group_by')))).toEqual(new Set(['session', 'user']));
    for (const u of asked) expect([u.searchParams.get('order'), u.searchParams.get('limit')]).toEqual(['cost', '101']);
    expect(await cell(page, '#usage-sessions-grid tr[data-session="sess-alpha"] td[data-col="requests"]')).toBe('3');

    // One session's view: exactly its requests, their costs summing to its total.
    const sessionView = async (): Promise<{ ids: string[]; costs: number; total: number; requests: string | null }> => ({
      ids: (await page.locator('#session-grid tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-request-id') ?? ''))).sort(),
      costs: sum((await page.locator('#session-grid tbody td[data-col="cost_usd"]').evaluateAll((tds) => tds.map((td) => td.getAttribute('title')))).map(nanoOf)),
      total: nanoOf(await page.getAttribute('#session-sums [data-sum="cost_usd"]', 'title')),
      requests: await page.getAttribute('#session-sums [data-sum="requests"]', 'title'),
    });
    const idsOf = (name: string): string[] => traces.filter((t) => t.session === name).map((t) => t.request_id).sort();
    await page.click('#usage-sessions-grid tr[data-session="sess-alpha"] button.link');
    await page.waitForSelector('#session-panel:not([hidden])');
    await expect.poll(() => page.locator('#session-grid tbody tr').count(), { timeout: WAIT }).toBe(3);
    await page.waitForSelector('#session-sums [data-sum="cost_usd"]', { timeout: WAIT });
    const viewAlpha = await sessionView();
    expect(viewAlpha).toEqual({ ids: idsOf('sess-alpha'), costs: costOfSession('sess-alpha'), total: costOfSession('sess-alpha'), requests: '3' });
    expect(viewAlpha.total).toBeGreaterThan(0);
    expect(await cell(page, '#session-id')).toBe('sess-alpha');
    expect(await cell(page, '#session-sums [data-sum="client"]')).toBe(clientOne);
    await shot(page, '14-usage-session');

    // Entered by hand: the other session, its error included.
    await page.fill('#session-input', 'sess-beta');
    await page.press('#session-input', 'Enter');
    await expect.poll(() => cell(page, '#session-id'), { timeout: WAIT }).toBe('sess-beta');
    await expect.poll(() => page.locator('#session-grid tbody tr').count(), { timeout: WAIT }).toBe(2);
    await page.waitForSelector('#session-sums [data-sum="cost_usd"]', { timeout: WAIT });
    expect(await sessionView()).toEqual({ ids: idsOf('sess-beta'), costs: costOfSession('sess-beta'), total: costOfSession('sess-beta'), requests: '2' });
    expect(await page.locator('#session-grid tbody td[data-col="status"] .pill.error').count()).toBe(1);
    // A session the store has never seen says so.
    await page.fill('#session-input', 'sess-none');
    await page.press('#session-input', 'Enter');
    await expect.poll(() => cell(page, '#session-sums'), { timeout: WAIT }).toBe('no stored requests');
    expect(await page.locator('#session-grid tbody tr').count()).toBe(0);
    await page.click('#session-close');
    expect(await page.isVisible('#session-panel')).toBe(false);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.click('input[name="usage-figure"][value="tokens"] + span');
    await shot(page, '15-usage-dark');
    expect(problems).toEqual([]);
  }, 90_000);

  it('says so in the Usage panel when the usage store is off', async () => {
    const gw = await gateway(upstreamEnv({ VDM_STORE: 'none' }));
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    await page.waitForSelector('#usage-note:not([hidden])', { timeout: WAIT });
    expect(await cell(page, '#usage-note')).toMatch(/usage store is off.*Set VDM_STORE=sqlite:data\/usage\.db/);
    expect(await page.getAttribute('body', 'data-usage')).toBe('off');
    // No charts and no tables, just the note.
    expect(await page.isVisible('.usage-charts')).toBe(false);
    expect(await page.locator('.usage-more').evaluateAll((panels) => panels.filter((p) => p.getClientRects().length > 0).length)).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).Chart.getChart((globalThis as any).document.querySelector('#usage-hourly canvas')) ?? null)).toBeNull();
    await shot(page, '16-usage-store-off');
    expect(problems).toEqual([]);
  });

  it('says so when the usage store cannot be reached, and keeps serving the live panels', async () => {
    // A folder that cannot be made: the store never opens, /metrics/usage answers 503.
    const dir = mkdtempSync(join(tmpdir(), 'vdm-dash-store-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    writeFileSync(join(dir, 'not-a-folder'), '');
    const gw = await gateway(upstreamEnv({ VDM_STORE: `sqlite:${join(dir, 'not-a-folder', 'usage.db')}` }));
    expect((await fetch(`${gw.url}/metrics/usage`)).status).toBe(503);
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await waitLive(page);
    await page.waitForSelector('#usage-note[data-kind="error"]:not([hidden])', { timeout: WAIT });
    expect(await cell(page, '#usage-note')).toMatch(/Usage history unavailable\. The usage store is not reachable right now; the panels show the last data read\./);
    await new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    await expect.poll(() => cell(page, '[data-metric="requests"] .value'), { timeout: WAIT }).toBe('1');
    await shot(page, '17-usage-store-unreachable');
    expect(problems).toEqual([]);
  });

  it('shows the Reconciliation panel to an admin: per-day bars of gateway and billed cost, the days outside tolerance marked; hidden for a client key', async () => {
    const admin = await FakeAdminApi.start({ openai: 'sk-admin-openai-dash-0123', anthropic: 'sk-ant-admin01-dash-4567' });
    cleanups.push(() => admin.close());
    const clients = join(mkdtempSync(join(tmpdir(), 'vdm-dash-keys-')), 'clients.yaml');
    writeFileSync(clients, 'clients:\n  - name: team\n    key: sk-vdm-dash-client-1\n  - name: ops\n    key: sk-vdm-dash-admin-1\n    role: admin\n');
    const gw = await gateway(
      upstreamEnv({ ...storeEnv(), VDM_CLIENT_KEYS_FILE: clients, OPENAI_ADMIN_KEY: 'sk-admin-openai-dash-0123', OPENAI_BILLING_URL: `${admin.url}/v1` }),
    );
    const openai = new OpenAI({ apiKey: 'sk-vdm-dash-admin-1', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    await gw.app.get(UsageStore).flush();
    const day = Math.floor(Date.now() / 86_400_000) * 86_400;
    // The provider billed 20% more input than passed the gateway: traffic that went around it.
    admin.billed.openai = [{ day, model: 'gpt-4o', requests: 1, input: 1200, output: 100, costNano: 4_000_000 }];
    await gw.app.get(Reconciler).pullNow();

    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await page.fill('#api-key', 'sk-vdm-dash-admin-1');
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('#reconciliation:not([hidden])', { timeout: WAIT });
    await expect.poll(() => page.locator('#reconciliation-grid tbody tr.drift').count(), { timeout: WAIT }).toBe(1);
    expect(await page.locator('#reconciliation-grid tbody tr.drift .recon-status').textContent()).toBe('unrouted traffic');
    expect(await page.locator('#reconciliation-grid tbody tr.drift td').nth(4).textContent()).toBe('+20.0%');
    expect(await page.isVisible('#reconciliation canvas')).toBe(true);
    await page.locator('#reconciliation').scrollIntoViewIfNeeded();
    await shot(page, '20-reconciliation');
    expect(problems).toEqual([]);

    const client = await openPage();
    await client.page.goto(`${gw.url}/dashboard/`);
    await client.page.fill('#api-key', 'sk-vdm-dash-client-1');
    await client.page.press('#api-key', 'Enter');
    await waitLive(client.page);
    await expect.poll(() => client.requests.some((r) => r.url.includes('/metrics/reconciliation')), { timeout: WAIT }).toBe(true);
    expect(await client.page.isHidden('#reconciliation')).toBe(true);
  }, 60_000);

  it('shows a client key its own budgets on its first screen: spent and reserved against the limit, what is left, the forecast', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vdm-dash-budgets-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    writeFileSync(join(dir, 'clients.yaml'), 'clients:\n  - name: team-alpha\n    key: sk-dash-budget-alpha-1\n  - name: team-bravo\n    key: sk-dash-budget-bravo-2\n');
    writeFileSync(join(dir, 'limits.yaml'), 'budgets:\n  - {name: monthly, client: "*", usd: 5, period: month}\n');
    const gw = await gateway(upstreamEnv({ VDM_CLIENT_KEYS_FILE: join(dir, 'clients.yaml'), VDM_LIMITS_FILE: join(dir, 'limits.yaml') }));
    fake.script({ text: TEXT, usage: { input: 1000, output: 100 } });
    for (const key of ['sk-dash-budget-alpha-1', 'sk-dash-budget-bravo-2']) {
      await new OpenAI({ apiKey: key, baseURL: `${gw.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'openai:gpt-4o', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    }
    const { page, problems } = await openPage();
    await page.goto(`${gw.url}/dashboard/`);
    await page.fill('#api-key', 'sk-dash-budget-alpha-1');
    await page.press('#api-key', 'Enter');
    await page.waitForSelector('#budgets:not([hidden])', { timeout: WAIT });
    await expect.poll(() => page.locator('#budgets-grid tbody tr').count(), { timeout: WAIT }).toBe(1);
    const cells = await page.locator('#budgets-grid tbody tr td').allTextContents();
    expect(cells[0]).toBe('monthly');
    expect(cells[1]).toBe('team-alpha');
    expect(cells[3]).toMatch(/ \/ \$5\.00$/);
    // On the first screen: the panel starts within the first viewport.
    const top = await page.locator('#budgets').evaluate((node) => node.getBoundingClientRect().top);
    expect(top).toBeLessThan(await page.evaluate(() => (globalThis as any).innerHeight as number));
    expect(await page.locator('#budgets .budget-bar .spent').evaluate((node: any) => parseFloat(node.style.width as string))).toBeGreaterThan(0);
    expect(await page.locator('body').innerText()).not.toContain('team-bravo');
    await shot(page, '21-budgets');
    expect(problems).toEqual([]);
  }, 60_000);

  it('serves chart.js from node_modules and nothing else from there', async () => {
    const gw = await gateway(upstreamEnv());
    const js = await fetch(`${gw.url}/dashboard/vendor/chart.umd.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${gw.url}/dashboard/vendor/chart.cjs`)).status).toBe(404);
    expect((await fetch(`${gw.url}/dashboard/vendor/../../package.json`)).status).toBe(404);
    const page = await fetch(`${gw.url}/dashboard/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});
