import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { parseExposition, sumOf } from '../support/prom-text';

const KEY_SEARCH = `sk-vdm-search-${randomBytes(12).toString('hex')}`;
const KEY_CI = `sk-vdm-ci-${randomBytes(12).toString('hex')}`;
const PROXY_KEY = `sk-vdm-proxy-${randomBytes(12).toString('hex')}`;
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

interface Trace {
  client: string | null;
  user: string | null;
  session: string | null;
  provider: string;
}

const dir = mkdtempSync(join(tmpdir(), 'vdm-clients-'));
const KEYS_FILE = join(dir, 'clients.yaml');
writeFileSync(KEYS_FILE, `clients:\n  - name: team-search\n    key_sha256: ${sha256(KEY_SEARCH)}\n  - name: ci-bot\n    key: ${KEY_CI}\n`);

const gw = useGateway((fake) => ({
  ANTHROPIC_API_KEY: 'sk-ant-provider-000111',
  ANTHROPIC_BASE_URL: fake.url,
  OPENAI_API_KEY: 'sk-openai-provider-000222',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  VDM_DEFAULT_PROVIDER: 'anthropic',
}));

const anthropic = (apiKey: string | null, headers: Record<string, string> = {}): Anthropic =>
  new Anthropic({ apiKey, baseURL: gw.url, maxRetries: 0, defaultHeaders: headers });
const openai = (apiKey: string, headers: Record<string, string> = {}): OpenAI =>
  new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: headers });

async function traces(key?: string): Promise<Trace[]> {
  const res = await fetch(`${gw.url}/metrics/logs`, { headers: key ? { 'x-api-key': key } : {} });
  return ((await res.json()) as { traces: Trace[] }).traces.reverse();
}

const ask = { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user' as const, content: 'hi' }] };
const chat = { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('named client keys (VDM_CLIENT_KEYS_FILE)', () => {
  it('attributes each request to its key name, PROXY_API_KEY to default, and refuses other keys', async () => {
    await gw.boot({ VDM_CLIENT_KEYS_FILE: KEYS_FILE, PROXY_API_KEY: PROXY_KEY });
    await anthropic(KEY_SEARCH).messages.create(ask);
    await openai(KEY_CI).chat.completions.create(chat);
    await anthropic(null, { authorization: `Bearer ${PROXY_KEY}` }).messages.create({ ...ask, stream: false });
    await openai(KEY_SEARCH).chat.completions.create({ ...chat, stream: true }).then(async (s) => {
      for await (const _ of s) void _;
    });
    await expect(anthropic(`${KEY_CI}x`).messages.create(ask)).rejects.toMatchObject({ status: 401 });
    await expect(openai(sha256(KEY_SEARCH)).chat.completions.create(chat)).rejects.toMatchObject({ status: 401 });
    expect((await traces(PROXY_KEY)).map((t) => t.client)).toEqual(['team-search', 'ci-bot', 'default', 'team-search']);
  });

  it('refuses to start on a bad file, naming the file, the entry and the field', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'clients:\n  - name: ok\n    key: long-enough-key\n  - name: broken\n    key_sha256: abc\n');
    await expect(gw.boot({ VDM_CLIENT_KEYS_FILE: bad })).rejects.toThrow(
      `Invalid configuration: VDM_CLIENT_KEYS_FILE="${bad}": clients[1] (broken).key_sha256: must be 64 hex digits (the sha256 of the key)`,
    );
    await expect(gw.boot({ VDM_CLIENT_KEYS_FILE: join(dir, 'missing.yaml') })).rejects.toThrow(/VDM_CLIENT_KEYS_FILE=.*missing\.yaml.*cannot be read/);
  });
});

describe('open mode (no gateway key)', () => {
  it('names a client by the fingerprint of its key, anonymous without one, and other past VDM_MAX_CLIENTS', async () => {
    await gw.boot({ VDM_MAX_CLIENTS: '2' });
    await anthropic('client-key-one').messages.create(ask);
    await openai('client-key-two').chat.completions.create(chat);
    const keyless = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask) });
    expect(keyless.status).toBe(200);
    await openai('client-key-three').chat.completions.create(chat);
    await anthropic('client-key-one').messages.create(ask);
    expect((await traces()).map((t) => t.client)).toEqual([
      `key:${sha256('client-key-one').slice(0, 16)}`,
      `key:${sha256('client-key-two').slice(0, 16)}`,
      'anonymous',
      'other',
      `key:${sha256('client-key-one').slice(0, 16)}`,
    ]);
  });
});

describe('open mode (no gateway key) across restarts', () => {
  it('counts the client names restored from the usage store toward VDM_MAX_CLIENTS; older 8-hex names do not count', async () => {
    const store = { VDM_STORE: `sqlite:${join(dir, 'open-cap.db')}`, VDM_INSTANCE_ID: 'gw-a', VDM_STORE_FLUSH_MS: '20', VDM_MAX_CLIENTS: '3' };
    const name = (key: string): string => `key:${sha256(key).slice(0, 16)}`;
    await gw.boot(store);
    for (const key of ['cap-key-1', 'cap-key-2', 'cap-key-3', 'cap-key-4']) await openai(key).chat.completions.create(chat);
    expect((await traces()).map((t) => t.client)).toEqual([name('cap-key-1'), name('cap-key-2'), name('cap-key-3'), 'other']);
    await gw.close();

    // A name an older gateway gave (8 hex): history, not one of today's clients.
    const db = new Database(join(dir, 'open-cap.db'));
    db.prepare('UPDATE usage_hourly SET client = ? WHERE client = ?').run('key:0123abcd', name('cap-key-3'));
    db.close();

    await gw.boot(store);
    for (const key of ['cap-key-5', 'cap-key-6', 'cap-key-1', 'cap-key-3']) await openai(key).chat.completions.create(chat);
    expect((await traces()).slice(-4).map((t) => t.client)).toEqual([name('cap-key-5'), 'other', name('cap-key-1'), 'other']);
    const totals = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`)).json()) as { clients: Record<string, unknown> };
    expect(Object.keys(totals.clients).filter((c) => /^key:[0-9a-f]{16}$/.test(c))).toHaveLength(3);
  });
});

describe('users and sessions', () => {
  const SESSION = randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  const ACCOUNT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  it("reads Claude Code's and Codex CLI's own request shapes, and the x-vdm headers before them", async () => {
    await gw.boot();
    const claudeCodeUser = `user_${'c'.repeat(64)}_account_${ACCOUNT}_session_${SESSION}`;
    await anthropic('k-claude-code', { 'anthropic-beta': 'claude-code-20250219', 'x-app': 'cli' }).messages.create({
      ...ask,
      stream: false,
      metadata: { user_id: claudeCodeUser },
    });
    await openai('k-codex', { originator: 'codex_cli_rs', 'session-id': 'codex-session-1', 'conversation_id': 'codex-session-1' }).chat.completions.create({
      ...chat,
      safety_identifier: 'codex-user',
    });
    await openai('k-other', { 'x-vdm-user': 'ali\tce', 'x-vdm-session': 's'.repeat(300) }).chat.completions.create({ ...chat, user: 'bob' });
    await anthropic('k-plain').messages.create(ask);
    await openai('k-openai-user').chat.completions.create({ ...chat, user: 'b\u0007o\u001bb' });
    // opencode names its session in x-session-id and x-session-affinity, on either API.
    const opencode = { 'x-session-id': 'ses_0123opencode', 'x-session-affinity': 'ses_0123opencode' };
    await openai('k-opencode', opencode).chat.completions.create(chat);
    await anthropic('k-opencode', opencode).messages.create(ask);
    expect((await traces()).map(({ user, session }) => ({ user, session }))).toEqual([
      { user: `user_${'c'.repeat(64)}_account_${ACCOUNT}`, session: SESSION },
      { user: 'codex-user', session: 'codex-session-1' },
      { user: 'alice', session: 's'.repeat(128) },
      { user: null, session: null },
      { user: 'bob', session: null },
      { user: null, session: 'ses_0123opencode' },
      { user: null, session: 'ses_0123opencode' },
    ]);
  });
});

describe('who sends an in-flight request', () => {
  it('shows the client, user and session in its active row, as its trace then does', async () => {
    await gw.boot({ VDM_CLIENT_KEYS_FILE: KEYS_FILE });
    let release!: () => void;
    gw.fake.enqueue({ text: 'held', holdUntil: new Promise<void>((r) => (release = r)), usage: { input: 1000, output: 10 } });
    const done = openai(KEY_CI, { 'x-vdm-user': 'dana', 'x-vdm-session': 'night-run-7' }).chat.completions.create({ ...chat, stream: true }).then(async (s) => {
      for await (const chunk of s) void chunk;
    });
    const row = async (): Promise<any> =>
      ((await (await fetch(`${gw.url}/metrics/active-requests`, { headers: { 'x-api-key': KEY_CI } })).json()) as any).active_requests[0];
    await expect.poll(row).toBeDefined();
    expect(await row()).toMatchObject({ client: 'ci-bot', user: 'dana', session: 'night-run-7', api: 'openai_chat' });
    release();
    await done;
    expect((await traces(KEY_CI)).at(-1)).toMatchObject({ client: 'ci-bot', user: 'dana', session: 'night-run-7' });
  });
});

interface Section {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
}
interface Totals {
  summary: { total_requests: number; total_input_tokens: number };
  providers: Record<string, { rollup: { total: Section } }>;
  clients: Record<string, { last_accessed: string | null; rollup: { total: Section; streaming: Section; non_streaming: Section } }>;
  client_series: ({ client: string; mode: string } & Section)[];
}

describe('clients in the running totals', () => {
  async function totals(query: string): Promise<Totals> {
    const res = await fetch(`${gw.url}/metrics/running-totals?format=json&${query}`, { headers: { 'x-api-key': PROXY_KEY } });
    expect(res.status).toBe(200);
    return (await res.json()) as Totals;
  }

  it('rolls requests up per client, filters by a client glob, and lists client_series rows', async () => {
    await gw.boot({ VDM_CLIENT_KEYS_FILE: KEYS_FILE, PROXY_API_KEY: PROXY_KEY });
    gw.fake.script({ usage: { input: 10, output: 3 } });
    await anthropic(KEY_SEARCH).messages.create(ask);
    const stream = await anthropic(KEY_SEARCH).messages.create({ ...ask, stream: true });
    for await (const _ of stream) void _;
    await openai(KEY_CI).chat.completions.create(chat);
    await openai(PROXY_KEY).chat.completions.create(chat);

    const all = await totals('');
    expect(Object.keys(all.clients).sort()).toEqual(['ci-bot', 'default', 'team-search']);
    expect(all.clients['team-search'].rollup.total).toMatchObject({ requests: 2, input_tokens: 20, output_tokens: 6 });
    expect(all.clients['team-search'].rollup.streaming.requests).toBe(1);
    expect(all.clients['team-search'].rollup.non_streaming.requests).toBe(1);
    expect(all.clients['ci-bot'].rollup.total).toMatchObject({ requests: 1, input_tokens: 10 });
    expect(all.clients['ci-bot'].last_accessed).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const sum = Object.values(all.clients).reduce((n, c) => n + c.rollup.total.requests, 0);
    expect(sum).toBe(all.summary.total_requests);
    expect(all.client_series.filter((r) => r.mode === 'total').map((r) => [r.client, r.requests]).sort()).toEqual([
      ['ci-bot', 1],
      ['default', 1],
      ['team-search', 2],
    ]);

    const team = await totals('client=TEAM-*');
    expect(Object.keys(team.clients)).toEqual(['team-search']);
    expect(team.summary).toMatchObject({ total_requests: 2, total_input_tokens: 20 });
    expect(Object.keys(team.providers)).toEqual(['anthropic']);

    const byProvider = await totals('provider=openai');
    expect(Object.keys(byProvider.clients).sort()).toEqual(['ci-bot', 'default']);

    const yamlRes = await fetch(`${gw.url}/metrics/running-totals?client=ci-*`, { headers: { 'x-api-key': KEY_CI } });
    const yaml = await yamlRes.text();
    expect(yaml).toContain('# Filter: client=ci-*');
    expect(yaml).toMatch(/^clients:\n {2}ci-bot:\n {4}last_accessed: /m);
    expect(yaml).not.toContain('team-search');
  });
});

describe('clients in /metrics, and keys nowhere', () => {
  it('labels request and token counters by client, never by user or session, and no output holds a client key', async () => {
    const canary = `sk-vdm-canary-${randomBytes(16).toString('hex')}`;
    const hashed = `sk-vdm-hashed-${randomBytes(16).toString('hex')}`;
    const file = join(dir, 'canary.yaml');
    writeFileSync(file, `clients:\n  - name: canary-team\n    key: ${canary}\n  - name: hashed-team\n    key_sha256: ${sha256(hashed)}\n    role: admin\n`);
    const logs: string[] = [];
    await gw.boot({ VDM_CLIENT_KEYS_FILE: file, LOG_LEVEL: 'debug' }, { logDestination: { write: (line: string) => void logs.push(line) } });
    gw.fake.script({ usage: { input: 11, output: 5 } });
    await anthropic(canary, { 'x-vdm-user': 'user-alpha', 'x-vdm-session': 'session-alpha' }).messages.create(ask);
    await openai(hashed, { 'x-vdm-user': 'user-beta' }).chat.completions.create(chat);
    // A client that sends the key where no key belongs: in its user and session, its model and its body.
    await expect(
      openai(hashed, { 'x-vdm-user': canary, 'x-vdm-session': canary }).chat.completions.create({ ...chat, model: `openai:${canary}`, user: canary }),
    ).resolves.toBeDefined();
    await expect(anthropic(`${canary}-wrong`).messages.create(ask)).rejects.toMatchObject({ status: 401 });

    const get = async (path: string): Promise<string> => (await fetch(`${gw.url}${path}`, { headers: { 'x-api-key': hashed } })).text();
    const metrics = await get('/metrics');
    expect(metrics).toMatch(/^vdm_requests_total\{[^}]*client="canary-team"[^}]*\} 1$/m);
    const samples = parseExposition(metrics);
    expect(samples.filter((x) => x.name === 'vdm_tokens_total' && x.labels.token_type === 'input' && x.labels.client === 'canary-team')).toEqual([
      { name: 'vdm_tokens_total', labels: { provider: 'anthropic', model: 'claude-sonnet-4-5', client: 'canary-team', token_type: 'input' }, value: 11 },
    ]);
    expect(sumOf(samples, 'vdm_tokens_total', { provider: 'openai', model: 'gpt-4o', client: 'hashed-team', token_type: 'output' })).toBe(5);
    expect(metrics).not.toMatch(/\b(user|session)="/);
    expect(metrics).not.toContain('user-alpha');
    expect(metrics).not.toContain('session-alpha');

    const outputs = [
      metrics,
      await get('/metrics/running-totals'),
      await get('/metrics/running-totals?format=json'),
      await get('/metrics/logs'),
      await get('/metrics/active-requests'),
      await get('/dashboard/'),
      logs.join(''),
    ];
    expect(outputs[2]).toContain('"canary-team"');
    for (const [i, text] of outputs.entries()) {
      expect(text.includes(canary), `output ${i} holds the client key`).toBe(false);
      expect(text.includes(hashed), `output ${i} holds the hashed client's key`).toBe(false);
    }
    expect(gw.fake.requests.every((r) => !JSON.stringify(r.headers).includes(canary) && !JSON.stringify(r.headers).includes(hashed))).toBe(true);
  });
});
