/**
 * The hostile soak: traffic built to hurt the gateway rather than to look like a client. Each scenario
 * sends its own kind of hostile request, mixed with the others at a fixed concurrency, through a real
 * gateway process on loopback, against the FakeUpstream, with a real usage store; /health is polled
 * all along. After the drain it checks that the process never exited, that every accounted request is
 * stored exactly once (by x-request-id), and what each scenario promises of its answers. Shared by
 * test/soak/hostile.spec.ts (small, in the suite) and test/soak/hostile-main.ts (`npm run soak:hostile`).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { load as loadYaml } from 'js-yaml';
import { Agent, request } from 'undici';
import type { FakeUpstream, Script } from '../fakes/fake-upstream';
import { rawRequest } from '../support/raw-http';
import { parsePrometheus, promptTokens, REFERENCE_TOKENS, rng, withinTolerance, writeSoakPrices } from './soak-engine';

/**
 * The scenarios, each a kind of hostile traffic:
 * - `refusals`: bodies over REQUEST_BODY_LIMIT_BYTES (with and without a length, and cut off mid-upload),
 *   a wrong content type, bad JSON, a body that never completes (408) and no key (401), on every API;
 *   the run outlasts REQUEST_BODY_TIMEOUT_SECONDS after the last of them;
 * - `globs`: backtracking-prone globs on /metrics/running-totals, /metrics/prices and /metrics/usage
 *   after a request for a model of 48 a's;
 * - `names`: model names of 257 characters and up, with NUL and control characters, and users and
 *   sessions far over their bound;
 * - `formula-names`: models named `yes`, `off`, `=cmd|...`, `+1`, `@x`, `-2`, read back as YAML and CSV;
 * - `count-tokens`: one unbroken word of `bombBytes` to count_tokens on an openai-format provider;
 * - `poison-rows`: values a database may refuse (NUL, 9,000-character names, an upstream error echoing
 *   them) next to ordinary requests, which must all be stored;
 * - `early-aborts`: streams on every API left by the client after the content and before the usage,
 *   and non-streamed requests (embeddings included) left before the answer;
 * - `key-flood`: unauthenticated requests carrying two long keys, against a keys file of `keys` keys;
 * - `history`: /metrics/usage over 30 days of `historyRows` stored rows, by user, session and hour.
 */
export const HOSTILE_SCENARIOS = ['refusals', 'globs', 'names', 'formula-names', 'count-tokens', 'poison-rows', 'early-aborts', 'key-flood', 'history'] as const;
export type HostileScenario = (typeof HOSTILE_SCENARIOS)[number];

export interface HostileSize {
  /** Each round sends every enabled scenario's requests once, shuffled together. */
  rounds: number;
  concurrency: number;
  /** Entries in the client keys file. */
  keys: number;
  /** Unauthenticated requests per round in `key-flood`. */
  floodRequests: number;
  /** Rows over 30 days in the store before the gateway starts (`history`). */
  historyRows: number;
  /** The unbroken word sent to count_tokens. */
  bombBytes: number;
}

export const SUITE_SIZE: HostileSize = { rounds: 2, concurrency: 8, keys: 2_000, floodRequests: 40, historyRows: 20_000, bombBytes: 300_000 };
export const LONG_SIZE: HostileSize = { rounds: 20, concurrency: 32, keys: 100_000, floodRequests: 400, historyRows: 1_000_000, bombBytes: 300_000 };

/** A small body limit and a short body timeout, so the body timer's full delay passes within a run. */
export const HOSTILE_BODY_LIMIT = 1_048_576;
export const HOSTILE_BODY_TIMEOUT_S = 2;

/** The usage sources of contract section 14. */
export type UsageSource = 'reported' | 'partial' | 'estimated' | 'none';

/** Files the hostile gateway is started with, and the key its clients present. */
export interface HostileFiles {
  keysFile: string;
  pricesFile: string;
  clientKey: string;
}

/** A client keys file of `keys` entries (digests, the client's own last) and the soak prices, in `dir`. */
export function writeHostileFiles(dir: string, keys: number, seed: number): HostileFiles {
  const clientKey = `vdm-hostile-client-${seed}-${randomBytes(8).toString('hex')}`;
  const lines = ['clients:'];
  for (let i = 0; i < keys - 1; i++) lines.push(`  - {name: team-${i}, key_sha256: ${createHash('sha256').update(`vdm-hostile-other-${seed}-${i}`).digest('hex')}}`);
  // An admin key: the soak reads every endpoint (Prometheus, every client's history) with the key it attacks with.
  lines.push(`  - {name: hostile, key: ${clientKey}, role: admin}`);
  const keysFile = join(dir, 'clients.yaml');
  writeFileSync(keysFile, `${lines.join('\n')}\n`);
  return { keysFile, pricesFile: writeSoakPrices(dir), clientKey };
}

/** The hostile gateway's environment: both providers on the fake, the keys file, the small body limits. */
export function hostileEnv(fakeUrl: string, files: HostileFiles, store: string): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: 'sk-ant-hostile-provider',
    OPENAI_API_KEY: 'sk-openai-hostile-provider',
    ANTHROPIC_BASE_URL: fakeUrl,
    OPENAI_BASE_URL: `${fakeUrl}/v1`,
    VDM_CLIENT_KEYS_FILE: files.keysFile,
    VDM_PRICES_FILE: files.pricesFile,
    VDM_STORE: store,
    VDM_INSTANCE_ID: 'hostile-gw',
    REQUEST_BODY_LIMIT_BYTES: String(HOSTILE_BODY_LIMIT),
    REQUEST_BODY_TIMEOUT_SECONDS: String(HOSTILE_BODY_TIMEOUT_S),
    REQUEST_TIMEOUT_SECONDS: '10',
    STREAMING_READ_TIMEOUT_SECONDS: '10',
    LOG_SUMMARY_INTERVAL_REQUESTS: '1000000',
  };
}

/** The gateway under test, however it runs. */
export interface HostileTarget {
  url: string;
  /** How the process ended, or undefined while it runs. */
  exited(): string | undefined;
  /** Resident memory in bytes (after a GC where the target can force one). */
  rss(): Promise<number>;
  /** What the process wrote to stdout and stderr, where it is captured. */
  output?(): string;
}

/** The columns of a stored row the hostile checks read; `usage_source` once the store has it. */
export interface HostileRow {
  request_id: string;
  model: string | null;
  user: string | null;
  session: string | null;
  error_type: string | null;
  error: string | null;
  input_tokens: number;
  output_tokens: number;
  usage_source?: string | null;
}

/** What one request should leave in the store. */
interface Expectation {
  id: string;
  /** What the request was, for the problems it shows. */
  what?: string;
  scenario: HostileScenario;
  stored: 'once' | 'never' | 'at-most-once';
  /** Refused for its key: counted in vdm_rejected_requests_total only. */
  rejected?: true;
  /** A count_tokens call: counted in vdm_count_tokens_requests_total only. */
  countTokens?: true;
  errorType?: string | null;
  sources?: readonly UsageSource[];
  /** Counts the upstream reported: the row must hold exactly these. */
  reported?: { input?: number; output?: number };
  /** Counts the upstream would have reported, had the client stayed: an estimate must be near them. */
  wouldReport?: { input?: number; output?: number };
}

export interface Latencies {
  samples: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
}

export interface HostileRun {
  scenarios: readonly HostileScenario[];
  sent: number;
  elapsedMs: number;
  /** Problems per scenario, plus `run` for the process and the store as a whole. */
  problems: Record<string, string[]>;
  health: Latencies;
  rssBefore: number;
  rssAfter: number;
  /** Rows of this run in the store after the drain. */
  rowsStored: number;
  statuses: Record<string, number>;
  /** History queries refused with a 400 or 503. */
  historyRefused: number;
}

const APIS = ['anthropic', 'openai', 'responses', 'embeddings'] as const;
type Api = (typeof APIS)[number];
const PATH_OF: Readonly<Record<Api, string>> = { anthropic: '/v1/messages', openai: '/v1/chat/completions', responses: '/v1/responses', embeddings: '/v1/embeddings' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MARK = /\[h:([^\]]+)\]/;
// Matched against stored and reported names: C0 controls and DEL (hand-written: a fixed class, no input in it).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The body of a request on `api` for `model`, carrying `prompt` (with the request's marker). */
function bodyOf(api: Api, model: string, prompt: string, stream: boolean, extra: Record<string, unknown> = {}): string {
  switch (api) {
    case 'anthropic':
      return JSON.stringify({ model, max_tokens: 256, stream, messages: [{ role: 'user', content: prompt }], ...extra });
    case 'openai':
      return JSON.stringify({ model, stream, messages: [{ role: 'user', content: prompt }], ...extra });
    case 'responses':
      return JSON.stringify({ model, stream, input: prompt, ...extra });
    case 'embeddings':
      return JSON.stringify({ model, input: prompt, ...extra });
  }
}

function modelFor(api: Api, name = 'hostile'): string {
  return api === 'anthropic' ? `anthropic:claude-${name}` : api === 'embeddings' ? `openai:embed-${name}` : `openai:gpt-${name}`;
}

/** True when `text` is an error in the API's own format. */
function isApiError(api: Api | 'count_tokens', text: string): boolean {
  try {
    const doc = JSON.parse(text) as { type?: string; error?: { type?: unknown; message?: unknown } };
    if (api === 'anthropic' || api === 'count_tokens') return doc.type === 'error' && typeof doc.error?.type === 'string' && typeof doc.error.message === 'string';
    return typeof doc.error?.message === 'string';
  } catch {
    return false;
  }
}

class Run {
  readonly problems: Record<string, string[]> = { run: [] };
  readonly expectations: Expectation[] = [];
  readonly scripts = new Map<string, Script>();
  readonly statuses: Record<string, number> = {};
  readonly agent: Agent;
  readonly port: number;
  readonly releases: (() => void)[] = [];
  readonly random: () => number;
  sent = 0;
  /** History queries answered 400 or 503 (too many groups, over the time limit). */
  refusedHistory = 0;
  private n = 0;

  constructor(
    readonly url: string,
    readonly key: string,
    readonly seed: number,
    readonly size: HostileSize,
  ) {
    this.agent = new Agent({ connections: size.concurrency * 2 + 4, keepAliveTimeout: 1_000 });
    this.port = Number(new URL(url).port);
    this.random = rng(seed);
    for (const s of HOSTILE_SCENARIOS) this.problems[s] = [];
  }

  get prefix(): string {
    return `h${this.seed}.`;
  }

  id(): string {
    return `${this.prefix}${this.n++}`;
  }

  problem(scenario: HostileScenario | 'run', message: string): void {
    const list = this.problems[scenario];
    if (list.length < 30) list.push(message.length > 400 ? `${message.slice(0, 400)}...` : message);
  }

  expect(e: Expectation): void {
    this.expectations.push(e);
  }

  count(status: number): void {
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
  }

  /** A POST with the client key; resolves with the status and text (status 0 when the exchange failed). */
  async post(path: string, body: string, id: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    this.sent++;
    try {
      const res = await request(this.url + path, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { 'content-type': 'application/json', 'x-api-key': this.key, 'anthropic-version': '2023-06-01', 'x-request-id': id, ...headers },
        body,
      });
      const text = await res.body.text();
      this.count(res.statusCode);
      return { status: res.statusCode, text };
    } catch (error) {
      this.count(0);
      return { status: 0, text: String(error) };
    }
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    this.sent++;
    try {
      const res = await request(this.url + path, { dispatcher: this.agent, headers: { 'x-api-key': this.key } });
      const text = await res.body.text();
      return { status: res.statusCode, text };
    } catch (error) {
      return { status: 0, text: String(error) };
    }
  }

  /** A request written on a socket of its own, exactly as given; 0 when no answer came within `idleMs` of silence (a loaded machine can be slow). */
  async raw(head: string, body: string | Buffer, idleMs = 20_000): Promise<number> {
    this.sent++;
    try {
      const res = await rawRequest(this.port, head, typeof body === 'string' ? body : body.toString('latin1'), idleMs);
      this.count(res.status);
      return res.status;
    } catch {
      this.count(0);
      return 0;
    }
  }

  /** Callbacks for requests the upstream is waiting for, by id. */
  readonly arrivals = new Map<string, () => void>();

  /** Resolves when the upstream has the request of `id`. */
  arrived(id: string): Promise<void> {
    return new Promise((resolve) => this.arrivals.set(id, resolve));
  }

  /** Answers `[h:<id>]` requests with their script. */
  install(fake: FakeUpstream): void {
    fake.script((req) => {
      const id = MARK.exec(req.rawBody)?.[1];
      if (id !== undefined) this.arrivals.get(id)?.();
      return (id !== undefined ? this.scripts.get(id) : undefined) ?? {};
    });
  }
}

type Task = () => Promise<void>;
type Scenario = (run: Run) => { setup?: Task[]; tasks: Task[] };

/** A prompt of a few hundred tokens of ordinary words, with the request's marker. */
function prompt(id: string, random: () => number, words = 120): string {
  const vocabulary = ['gateway', 'request', 'stream', 'token', 'usage', 'model', 'provider', 'answer', 'client', 'store', 'metric', 'budget', 'latency', 'session', 'route', 'header'];
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(vocabulary[Math.floor(random() * vocabulary.length)]);
  return `[h:${id}] ${out.join(' ')}`;
}

// ------------------------------------------------------------------ scenarios

const refusals: Scenario = (run) => {
  const tasks: Task[] = [];
  const oversize = HOSTILE_BODY_LIMIT + 1 + Math.floor(run.random() * HOSTILE_BODY_LIMIT * 2);
  for (const api of APIS) {
    const path = PATH_OF[api];
    const head = (id: string, extra: string): string =>
      `POST ${path} HTTP/1.1\r\nhost: hostile\r\nx-api-key: ${run.key}\r\nx-request-id: ${id}\r\n${extra}\r\n`;
    // Over the limit, announced by content-length.
    tasks.push(async () => {
      const id = run.id();
      const body = bodyOf(api, modelFor(api), `[h:${id}] ${'x'.repeat(oversize)}`, false);
      const status = await run.raw(head(id, `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`), body);
      // 0: reset before the 413 could be read (see the keyless case below); the row still shows it was refused.
      if (status !== 413 && status !== 0) run.problem('refusals', `${api} body of ${body.length} bytes with a length: ${status}, not 413`);
      run.expect({ id, scenario: 'refusals', stored: 'once', errorType: 'bad_request', sources: ['none'] });
    });
    // Over the limit, chunked (no length: the limit trips while it arrives).
    tasks.push(async () => {
      const id = run.id();
      const body = bodyOf(api, modelFor(api), `[h:${id}] ${'y'.repeat(oversize)}`, false);
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const status = await run.raw(head(id, 'content-type: application/json\r\ntransfer-encoding: chunked\r\n'), chunked);
      if (status !== 413 && status !== 0) run.problem('refusals', `${api} chunked body of ${body.length} bytes: ${status}, not 413`);
      run.expect({ id, scenario: 'refusals', stored: 'once', errorType: 'bad_request', sources: ['none'] });
    });
    // A body that never completes: 408 after the body timeout.
    tasks.push(async () => {
      const id = run.id();
      const status = await run.raw(head(id, 'content-type: application/json\r\ncontent-length: 5000\r\n'), `{"model":"${modelFor(api)}","input":"[h:${id}]`, (HOSTILE_BODY_TIMEOUT_S + 20) * 1000);
      if (status !== 408) run.problem('refusals', `${api} body that never completes: ${status}, not 408`);
      run.expect({ id, scenario: 'refusals', stored: 'once', errorType: 'timeout', sources: ['none'] });
    });
    // Bad JSON: 400.
    tasks.push(async () => {
      const id = run.id();
      const body = `{"model": "${modelFor(api)}", "messages": [[h:${id}]`;
      const status = await run.raw(head(id, `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`), body);
      if (status !== 400) run.problem('refusals', `${api} bad JSON: ${status}, not 400`);
      run.expect({ id, scenario: 'refusals', stored: 'once', errorType: 'bad_request', sources: ['none'] });
    });
    // A type the API does not take: 415 (whether that is usage is the gateway's call).
    tasks.push(async () => {
      const id = run.id();
      const body = `[h:${id}] octets`;
      const status = await run.raw(head(id, `content-type: application/octet-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`), body);
      if (status !== 415) run.problem('refusals', `${api} application/octet-stream body: ${status}, not 415`);
      run.expect({ id, scenario: 'refusals', stored: 'at-most-once' });
    });
    // Cut off in the middle of an oversized upload.
    tasks.push(async () => {
      const id = run.id();
      run.sent++;
      await new Promise<void>((resolve) => {
        const socket = connect(run.port, '127.0.0.1');
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.on('connect', () => {
          socket.write(head(id, `content-type: application/json\r\ncontent-length: ${HOSTILE_BODY_LIMIT * 4}\r\n`));
          socket.write(`{"model":"${modelFor(api)}","input":"[h:${id}] ${'z'.repeat(200_000)}`, () => socket.destroy());
        });
      });
      run.expect({ id, scenario: 'refusals', stored: 'at-most-once' });
    });
    // No key at all, and a body over the limit: 401 before any byte of the body is read; not usage.
    tasks.push(async () => {
      const id = run.id();
      const body = 'k'.repeat(oversize);
      const status = await run.raw(`POST ${path} HTTP/1.1\r\nhost: hostile\r\nx-request-id: ${id}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`, body);
      // 0: the connection was reset before the 401 could be read (the gateway closes on a body it will
      // not read, and the unread bytes make the kernel reset it): refused all the same.
      if (status !== 401 && status !== 0) run.problem('refusals', `${api} keyless oversized body: ${status}, not 401`);
      run.expect({ id, scenario: 'refusals', stored: 'never', rejected: true });
    });
  }
  return { tasks };
};

const GLOB_MODEL = 'a'.repeat(48);
const BAD_GLOB = `${'*a'.repeat(10)}*ab`;
const GOOD_GLOB = `${'*a'.repeat(11)}*`;

const globs: Scenario = (run) => {
  const setup: Task[] = [
    async () => {
      const id = run.id();
      const res = await run.post(PATH_OF.openai, bodyOf('openai', `openai:${GLOB_MODEL}`, `[h:${id}] glob`, false), id);
      if (res.status !== 200) run.problem('globs', `the request for model ${GLOB_MODEL.length} a's: ${res.status}`);
      run.expect({ id, scenario: 'globs', stored: 'once', errorType: null, sources: ['reported'] });
    },
  ];
  const q = encodeURIComponent;
  const check = async (path: string, wantModel: boolean): Promise<void> => {
    const res = await run.get(path);
    if (res.status !== 200) return run.problem('globs', `${path}: ${res.status} ${res.text.slice(0, 200)}`);
    if (res.text.includes(GLOB_MODEL) !== wantModel) run.problem('globs', `${path}: the model of 48 a's is ${wantModel ? 'missing' : 'listed'}`);
  };
  const tasks: Task[] = [
    () => check(`/metrics/running-totals?format=json&model=${q(BAD_GLOB)}`, false),
    () => check(`/metrics/running-totals?model=${q(BAD_GLOB)}&provider=${q(BAD_GLOB)}`, false),
    () => check(`/metrics/running-totals?format=json&model=${q(GOOD_GLOB)}`, true),
    () => check(`/metrics/prices?model=${q(BAD_GLOB)}`, false),
    () => check(`/metrics/prices?provider=${q(BAD_GLOB)}&model=*`, false),
    () => check(`/metrics/prices?provider=openai&model=${q(GOOD_GLOB)}`, true),
    () => check(`/metrics/usage?from=-1h&group_by=model&model=${q(BAD_GLOB)}`, false),
  ];
  return { setup, tasks };
};

const names: Scenario = (run) => {
  const tasks: Task[] = [];
  const lengths = [257, 9_000, 200_000];
  for (const length of lengths) {
    for (const api of ['anthropic', 'openai'] as const) {
      tasks.push(async () => {
        const id = run.id();
        const model = `${api === 'anthropic' ? 'anthropic' : 'openai'}:${'n'.repeat(length)}`;
        const res = await run.post(PATH_OF[api], bodyOf(api, model, `[h:${id}] long name`, false), id);
        if (res.status !== 400 || !isApiError(api, res.text)) run.problem('names', `${api} model name of ${length}: ${res.status} ${res.text.slice(0, 120)}`);
        run.expect({ id, scenario: 'names', stored: 'once', errorType: 'bad_request', sources: ['none'] });
      });
    }
  }
  for (const model of ['openai:gpt-\u0000nul', 'openai:gpt-\u001b[31mred', 'openai:gpt\u0007bell\r\n']) {
    tasks.push(async () => {
      const id = run.id();
      const res = await run.post(PATH_OF.openai, bodyOf('openai', model, `[h:${id}] control`, false), id);
      // Refused with a 400, or served with the characters removed.
      if (res.status !== 400 && res.status !== 200) run.problem('names', `model ${JSON.stringify(model)}: ${res.status}`);
      if (res.status === 400 && !isApiError('openai', res.text)) run.problem('names', `model ${JSON.stringify(model)}: a 400 not in the API's format`);
      run.expect({ id, scenario: 'names', stored: 'once' });
    });
  }
  // Users and sessions far over their bound, with control characters, by header and by metadata.
  tasks.push(async () => {
    const id = run.id();
    const user = `user_${'u'.repeat(20_000)}\u0000\u0001_session_${'s'.repeat(20_000)}`;
    const res = await run.post(PATH_OF.anthropic, bodyOf('anthropic', modelFor('anthropic'), `[h:${id}] user`, false, { metadata: { user_id: user } }), id);
    if (res.status !== 200) run.problem('names', `a user of 40,000 characters: ${res.status}`);
    run.expect({ id, scenario: 'names', stored: 'once', errorType: null });
  });
  tasks.push(async () => {
    const id = run.id();
    const res = await run.post(PATH_OF.openai, bodyOf('openai', modelFor('openai'), `[h:${id}] session`, false), id, { 'x-vdm-user': 'v'.repeat(6_000), 'x-vdm-session': `\t${'w'.repeat(6_000)}` });
    if (res.status !== 200) run.problem('names', `a session header of 6,000 characters: ${res.status}`);
    run.expect({ id, scenario: 'names', stored: 'once', errorType: null });
  });
  return { tasks };
};

const FORMULA_NAMES = ['yes', 'no', 'on', 'off', '=cmd|\' /C calc\'!A0', '+SUM(1,2)', '@x', '-2+3'];

const formulaNames: Scenario = (run) => ({
  tasks: FORMULA_NAMES.map((name) => async () => {
    const id = run.id();
    const res = await run.post(PATH_OF.openai, bodyOf('openai', `openai:${name}`, `[h:${id}] formula`, false), id);
    if (res.status !== 200) run.problem('formula-names', `model ${name}: ${res.status}`);
    run.expect({ id, scenario: 'formula-names', stored: 'once', errorType: null, sources: ['reported'] });
  }),
});

/** Reads back the formula names: YAML keys must stay strings in YAML 1.1, CSV cells must not start a formula. */
async function checkFormulaNames(run: Run): Promise<void> {
  const yaml = await run.get('/metrics/running-totals');
  for (const line of yaml.text.split('\n')) {
    if (/^\s*(yes|no|on|off|y|n|true|false)\s*:/i.test(line)) run.problem('formula-names', `YAML has a bare boolean-like key: ${line.trim()}`);
  }
  const doc = loadYaml(yaml.text) as { providers?: Record<string, { models?: Record<string, unknown> }> };
  const models = Object.keys(doc.providers?.openai?.models ?? {});
  for (const name of FORMULA_NAMES.slice(0, 4)) if (!models.includes(name)) run.problem('formula-names', `YAML running totals miss the model ${name} (models: ${models.slice(0, 20).join(', ')})`);
  const csv = await run.get('/metrics/usage?from=-1h&group_by=model&format=csv');
  if (csv.status !== 200) return run.problem('formula-names', `/metrics/usage csv: ${csv.status}`);
  const records = parseCsv<Record<string, string>>(csv.text, { columns: true });
  for (const r of records) {
    for (const [column, cell] of Object.entries(r)) {
      if (typeof cell === 'string' && /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?(e-?\d+)?$/.test(cell)) run.problem('formula-names', `CSV cell ${column}=${JSON.stringify(cell)} starts a formula`);
    }
  }
}

const countTokensBomb: Scenario = (run) => ({
  tasks: [
    async () => {
      const id = run.id();
      let word = '';
      const letters = 'abcdefghijklmnopqrstuvwxyz';
      const parts: string[] = [];
      for (let i = 0; i < run.size.bombBytes; i++) parts.push(letters[Math.floor(run.random() * 26)]);
      word = parts.join('');
      const body = JSON.stringify({ model: 'openai:gpt-hostile', messages: [{ role: 'user', content: word }] });
      const res = await run.post('/v1/messages/count_tokens', body, id);
      let tokens = Number.NaN;
      try {
        tokens = (JSON.parse(res.text) as { input_tokens: number }).input_tokens;
      } catch {
        // reported below
      }
      if (res.status !== 200 || !Number.isInteger(tokens) || tokens <= 0) run.problem('count-tokens', `a word of ${word.length} bytes: ${res.status} ${res.text.slice(0, 200)}`);
      run.expect({ id, scenario: 'count-tokens', stored: 'never', countTokens: true });
    },
  ],
});

const poisonRows: Scenario = (run) => {
  const tasks: Task[] = [];
  const poisonModels = ['openai:gpt-\u0000poison', `openai:${'p'.repeat(9_000)}`, 'openai:gpt-\ud800lone'];
  for (const model of poisonModels) {
    tasks.push(async () => {
      const id = run.id();
      await run.post(PATH_OF.openai, bodyOf('openai', model, `[h:${id}] poison`, false), id);
      run.expect({ id, scenario: 'poison-rows', stored: 'once' });
    });
  }
  // An upstream error that echoes a NUL and a long name back: the row's error text carries them.
  tasks.push(async () => {
    const id = run.id();
    run.scripts.set(id, { status: 400, errorMessage: `model gpt-\u0000${'q'.repeat(9_000)} does not exist` });
    const res = await run.post(PATH_OF.openai, bodyOf('openai', modelFor('openai'), `[h:${id}] echo`, false), id);
    if (res.status !== 400) run.problem('poison-rows', `an upstream 400 echoing a NUL: ${res.status}`);
    run.expect({ id, scenario: 'poison-rows', stored: 'once', errorType: 'bad_request', sources: ['none', 'reported'] });
  });
  tasks.push(async () => {
    const id = run.id();
    const res = await run.post(PATH_OF.anthropic, bodyOf('anthropic', modelFor('anthropic'), `[h:${id}] user`, false, { metadata: { user_id: `u\u0000ser_session_s\u0000ess` } }), id);
    if (res.status !== 200) run.problem('poison-rows', `a user with NUL: ${res.status}`);
    run.expect({ id, scenario: 'poison-rows', stored: 'once', errorType: null });
  });
  // Ordinary requests among the poison: each must be stored.
  for (let i = 0; i < 6; i++) {
    tasks.push(async () => {
      const id = run.id();
      const usage = { input: 20 + i, output: 7 + i };
      run.scripts.set(id, { usage });
      const res = await run.post(PATH_OF.openai, bodyOf('openai', modelFor('openai'), `[h:${id}] plain`, false), id);
      if (res.status !== 200) run.problem('poison-rows', `an ordinary request: ${res.status}`);
      run.expect({ id, scenario: 'poison-rows', stored: 'once', errorType: null, sources: ['reported'], reported: usage });
    });
  }
  return { tasks };
};

const earlyAborts: Scenario = (run) => {
  const tasks: Task[] = [];
  // Streams: every content event, then the client leaves before the usage event.
  for (const api of ['anthropic', 'openai', 'responses'] as const) {
    tasks.push(async () => {
      const id = run.id();
      // The answer ends in a word of its own, so the client knows when all of it has arrived.
      const end = `zqx${id.replace(/\W/g, '')}`;
      const text = `${prompt('', run.random, 60 + Math.floor(run.random() * 120)).slice(5)} ${end}`;
      const p = prompt(id, run.random);
      const usage = { input: promptTokens(p), output: REFERENCE_TOKENS(text) };
      run.scripts.set(id, { text, usage, fault: 'stall-before-usage' });
      run.sent++;
      const controller = new AbortController();
      try {
        const res = await request(run.url + PATH_OF[api], {
          method: 'POST',
          dispatcher: run.agent,
          signal: controller.signal,
          headers: { 'content-type': 'application/json', 'x-api-key': run.key, 'anthropic-version': '2023-06-01', 'x-request-id': id },
          body: bodyOf(api, modelFor(api), p, true),
        });
        run.count(res.statusCode);
        res.body.on('error', () => undefined);
        let seen = '';
        await new Promise<void>((resolve) => {
          res.body.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            if (seen.includes(end)) resolve();
          });
          res.body.once('end', () => resolve());
          res.body.once('error', () => resolve());
        });
        if (!seen.includes(end)) run.problem('early-aborts', `${api} stream ended before its content arrived`);
        controller.abort();
      } catch (error) {
        run.problem('early-aborts', `${api} stream: ${String(error)}`);
      }
      run.expect({
        id,
        what: `${api} stream left before the usage`,
        scenario: 'early-aborts',
        stored: 'once',
        errorType: 'client_disconnect',
        sources: api === 'anthropic' ? ['partial'] : ['estimated'],
        ...(api === 'anthropic' ? { reported: { input: usage.input }, wouldReport: { output: usage.output } } : { wouldReport: usage }),
      });
    });
  }
  // Whole answers without any usage (embeddings included): served, and charged an estimate.
  for (const api of APIS) {
    tasks.push(async () => {
      const id = run.id();
      const p = prompt(id, run.random);
      const text = prompt('', run.random, 40).slice(5);
      const usage = { input: api === 'embeddings' ? REFERENCE_TOKENS(p) : promptTokens(p), output: api === 'embeddings' ? 0 : REFERENCE_TOKENS(text) };
      run.scripts.set(id, { text, usage, omitUsage: true });
      const res = await run.post(PATH_OF[api], bodyOf(api, modelFor(api), p, false), id);
      if (res.status !== 200) run.problem('early-aborts', `${api} answer without usage: ${res.status}`);
      run.expect({ id, what: `${api} answer without usage`, scenario: 'early-aborts', stored: 'once', errorType: null, sources: ['estimated'], wouldReport: usage });
    });
  }
  // Non-streamed (embeddings included): the client leaves while the upstream holds its answer.
  for (const api of APIS) {
    tasks.push(async () => {
      const id = run.id();
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      run.releases.push(release);
      run.scripts.set(id, { holdUntil: held, usage: { input: 30, output: 9 } });
      run.sent++;
      const controller = new AbortController();
      // Leave once the upstream has the request (so it is the upstream's answer the client does not wait for).
      void run.arrived(id).then(() => controller.abort());
      try {
        const res = await request(run.url + PATH_OF[api], {
          method: 'POST',
          dispatcher: run.agent,
          signal: controller.signal,
          headers: { 'content-type': 'application/json', 'x-api-key': run.key, 'anthropic-version': '2023-06-01', 'x-request-id': id },
          body: bodyOf(api, modelFor(api), prompt(id, run.random, 20), false),
        });
        run.problem('early-aborts', `${api} held answer came back: ${res.statusCode}`);
        await res.body.text();
      } catch {
        run.count(0);
      }
      // Nothing came back, so there is nothing to count (or, at most, the input to estimate).
      run.expect({ id, what: `${api} left before the answer`, scenario: 'early-aborts', stored: 'once', errorType: 'client_disconnect', sources: ['none', 'estimated'] });
    });
  }
  return { tasks };
};

const keyFlood: Scenario = (run) => {
  const tasks: Task[] = [];
  for (let i = 0; i < run.size.floodRequests; i++) {
    tasks.push(async () => {
      const id = run.id();
      const api = APIS[i % APIS.length];
      const long = (): string => randomBytes(6_000).toString('base64');
      const body = bodyOf(api, modelFor(api), `[h:${id}] flood`, false);
      const status = await run.raw(
        `POST ${PATH_OF[api]} HTTP/1.1\r\nhost: hostile\r\nconnection: close\r\ncontent-type: application/json\r\nx-request-id: ${id}\r\nx-api-key: ${long()}\r\nauthorization: Bearer ${long()}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`,
        body,
      );
      if (status !== 401 && status !== 431) run.problem('key-flood', `${api} with two 8 KB keys: ${status}, not 401`);
      run.expect({ id, scenario: 'key-flood', stored: 'never', rejected: true });
    });
  }
  return { tasks };
};

/**
 * History over all the seeded rows: answered a page at a time (its totals over every row), or refused
 * in a clear 400 (too many groups) or 503 (over the statement time limit); never one answer of every row.
 */
const history: Scenario = (run) => {
  const check = async (query: string, all = true): Promise<void> => {
    const res = await run.get(`/metrics/usage?${query}`);
    if (res.status === 400 || res.status === 503) {
      if (!/"message"/.test(res.text)) run.problem('history', `/metrics/usage?${query}: ${res.status} without a message: ${res.text.slice(0, 200)}`);
      run.refusedHistory++;
      return;
    }
    if (res.status !== 200) return run.problem('history', `/metrics/usage?${query}: ${res.status} ${res.text.slice(0, 200)}`);
    const doc = JSON.parse(res.text) as { rows: unknown[]; totals: { requests: number } };
    if (all && doc.totals.requests < run.size.historyRows * 0.9) run.problem('history', `/metrics/usage?${query}: totals of ${doc.totals.requests} requests over ${run.size.historyRows} stored`);
    if (doc.rows.length > 10_000) run.problem('history', `/metrics/usage?${query}: ${doc.rows.length} rows in one answer`);
  };
  return {
    tasks: [
      () => check('from=-30d&group_by=user,session,hour'),
      () => check('from=-31d&group_by=hour,day,provider,model,client,user,session,api,instance'),
      () => check('from=-31d&user=*5*&group_by=user', false),
      () => check('from=-31d&session=*a*&group_by=session,hour', false),
    ],
  };
};

const SCENARIOS: Readonly<Record<HostileScenario, Scenario>> = {
  refusals,
  globs,
  names,
  'formula-names': formulaNames,
  'count-tokens': countTokensBomb,
  'poison-rows': poisonRows,
  'early-aborts': earlyAborts,
  'key-flood': keyFlood,
  history,
};

// ------------------------------------------------------------------ the run

export interface HostileOptions {
  seed: number;
  size: HostileSize;
  scenarios: readonly HostileScenario[];
  clientKey: string;
  /** Check usage_source and the estimates against what the upstream would have reported (contract section 14). */
  provenance: boolean;
  log?: (line: string) => void;
}

/** Drives the scenarios through `target`, then checks the process, the store and each scenario's promises. */
export async function runHostile(target: HostileTarget, fake: FakeUpstream, options: HostileOptions): Promise<HostileRun> {
  const { size, scenarios } = options;
  const log = options.log ?? (() => undefined);
  const run = new Run(target.url, options.clientKey, options.seed, size);
  run.install(fake);
  const rejectedBefore = await metricSum(run, 'vdm_rejected_requests_total');
  const countTokensBefore = await metricSum(run, 'vdm_count_tokens_requests_total');
  const rssBefore = await target.rss();

  const healthAgent = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
  const poller = pollHealth(`${target.url}/health`);

  const started = performance.now();
  const startedAt = Date.now();
  for (let round = 0; round < size.rounds; round++) {
    const setups: Task[] = [];
    const tasks: Task[] = [];
    for (const name of scenarios) {
      const made = SCENARIOS[name](run);
      setups.push(...(made.setup ?? []));
      tasks.push(...made.tasks);
    }
    for (const task of setups) await task();
    // Fisher-Yates with the seeded generator.
    for (let i = tasks.length - 1; i > 0; i--) {
      const j = Math.floor(run.random() * (i + 1));
      [tasks[i], tasks[j]] = [tasks[j], tasks[i]];
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tasks.length) await tasks[next++]();
    };
    await Promise.all(Array.from({ length: size.concurrency }, worker));
    log(`round ${round + 1}/${size.rounds}: ${tasks.length} tasks, ${run.sent} requests so far, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  // Outlast every body timer the refusals set.
  if (scenarios.includes('refusals')) await sleep((HOSTILE_BODY_TIMEOUT_S + 1) * 1000);
  const elapsedMs = performance.now() - started;

  // The drain: nothing in flight, the store's queue written.
  const gone = (): boolean => target.exited() !== undefined;
  const drained = await until(async () => ((await run.get('/metrics/active-requests')).text.match(/"active_requests":\[\]/) !== null ? true : undefined), 20_000, gone);
  if (drained === undefined && !gone()) run.problem('run', 'requests still in flight 20 s after the last was sent');
  // Held answers go only now: each request the client left must have ended without them.
  for (const release of run.releases) release();
  const store = await until(async () => {
    const res = await request(`${target.url}/health`, { dispatcher: healthAgent });
    const doc = (await res.body.json()) as { store?: { status: string; queued_rows?: number } };
    return doc.store?.queued_rows === 0 && doc.store.status !== 'degraded' ? doc.store : undefined;
  }, 30_000, gone);
  if (store === undefined && !gone()) run.problem('run', 'the store did not drain to 0 queued rows and a status other than degraded');
  const { latencies, failures: healthFailures } = await poller.stop();
  await healthAgent.close();

  const exited = target.exited();
  if (exited !== undefined) run.problem('run', `the gateway exited: ${exited}`);
  if (healthFailures > 0) run.problem('run', `/health failed ${healthFailures} of ${latencies.length} times`);
  const unhandled = /BodyTimeoutError|Unhandled|uncaught|FATAL ERROR/i.exec(target.output?.() ?? '');
  if (unhandled) run.problem('run', `the gateway wrote ${unhandled[0]}`);

  let rowsStored = 0;
  if (exited === undefined) {
    if (scenarios.includes('formula-names')) await checkFormulaNames(run);
    if (scenarios.includes('names') || scenarios.includes('poison-rows')) await checkReportedNames(run);
    const rows = await storedRows(run, new Date(startedAt - 60_000));
    rowsStored = rows.length;
    checkRows(run, rows, options.provenance);
    const refused = run.expectations.filter((e) => e.rejected).length;
    const rejected = (await metricSum(run, 'vdm_rejected_requests_total')) - rejectedBefore;
    if (rejected !== refused) run.problem(scenarios.includes('key-flood') ? 'key-flood' : 'refusals', `vdm_rejected_requests_total rose by ${rejected}, not by the ${refused} keyless or wrong-key requests`);
    const counted = (await metricSum(run, 'vdm_count_tokens_requests_total')) - countTokensBefore;
    const calls = run.expectations.filter((e) => e.countTokens).length;
    if (counted !== calls) run.problem('count-tokens', `vdm_count_tokens_requests_total rose by ${counted}, not by the ${calls} count_tokens calls`);
  }
  const rssAfter = exited === undefined ? await target.rss() : 0;
  await run.agent.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    scenarios,
    sent: run.sent,
    elapsedMs,
    problems: run.problems,
    health: { samples: sorted.length, failures: healthFailures, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
    rssBefore,
    rssAfter,
    rowsStored,
    statuses: run.statuses,
    historyRefused: run.refusedHistory,
  };
}

/**
 * Polls `url` every 20 ms from a process of its own (so the driver's own work does not show in the
 * latencies) until stop(), which resolves with every poll's latency in ms and the failed polls.
 */
function pollHealth(url: string): { stop(): Promise<{ latencies: number[]; failures: number }> } {
  const code = `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const latencies = [];
    let failures = 0;
    let polling = true;
    process.on('message', () => { polling = false; });
    process.on('disconnect', () => process.exit(0));
    const once = () => new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.get(process.env.HEALTH_URL, { agent }, (res) => {
        res.resume();
        res.on('end', () => { if (res.statusCode !== 200) failures++; latencies.push(performance.now() - t0); resolve(); });
      });
      req.on('error', () => { failures++; latencies.push(performance.now() - t0); resolve(); });
    });
    (async () => {
      while (polling) { await once(); await new Promise((r) => setTimeout(r, 20)); }
      process.send({ latencies, failures }, () => process.exit(0));
    })();`;
  const child = spawn(process.execPath, ['-e', code], { env: { ...process.env, HEALTH_URL: url }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = new Promise<{ latencies: number[]; failures: number }>((resolve) => {
    child.once('message', (m: { latencies: number[]; failures: number }) => resolve(m));
    child.once('exit', () => resolve({ latencies: [], failures: -1 }));
  });
  return {
    stop: () => {
      child.send('stop');
      return result;
    },
  };
}

async function until<T>(probe: () => Promise<T | undefined>, ms: number, gone: () => boolean): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    if (gone()) return undefined;
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // try again
    }
    if (Date.now() > end) return undefined;
    await sleep(100);
  }
}

/** The sum of a Prometheus family's samples on /metrics. */
async function metricSum(run: Run, name: string): Promise<number> {
  const res = await request(`${run.url}/metrics`, { dispatcher: run.agent, headers: { 'x-api-key': run.key } });
  const families = parsePrometheus(await res.body.text());
  return (families.get(name) ?? []).reduce((sum, s) => sum + s.value, 0);
}

/** No reported model name (running totals, /metrics) is over 256 characters or holds a control character. */
async function checkReportedNames(run: Run): Promise<void> {
  const json = await run.get('/metrics/running-totals?format=json');
  const doc = JSON.parse(json.text) as { providers?: Record<string, { models?: Record<string, unknown> }> };
  for (const [provider, p] of Object.entries(doc.providers ?? {})) {
    for (const model of Object.keys(p.models ?? {})) {
      if (model.length > 256 || CONTROL.test(model)) run.problem('names', `running totals list ${provider} model ${JSON.stringify(model.slice(0, 40))} (${model.length} characters)`);
    }
  }
  const metrics = await run.get('/metrics');
  for (const line of metrics.text.split('\n')) if (line.length > 4_096) run.problem('names', `a /metrics line of ${line.length} characters: ${line.slice(0, 80)}`);
}

/** Each expectation against the stored rows (found by request id). */
function checkRows(run: Run, rows: readonly HostileRow[], provenance: boolean): void {
  const byId = new Map<string, HostileRow[]>();
  for (const r of rows) byId.set(r.request_id, [...(byId.get(r.request_id) ?? []), r]);
  const expected = new Set(run.expectations.map((e) => e.id));
  for (const id of byId.keys()) if (!expected.has(id)) run.problem('run', `${id}: stored, but no request of the run sent it`);
  for (const e of run.expectations) {
    const found = byId.get(e.id) ?? [];
    const where = e.what === undefined ? e.id : `${e.id} (${e.what})`;
    if (e.stored === 'never') {
      if (found.length > 0) run.problem(e.scenario, `${where}: refused, yet stored`);
      continue;
    }
    if (e.stored === 'once' && found.length !== 1) {
      run.problem(e.scenario, `${where}: stored ${found.length} times, not once`);
      continue;
    }
    if (found.length > 1) run.problem(e.scenario, `${where}: stored ${found.length} times`);
    const row = found[0];
    if (row === undefined) continue;
    if (e.errorType !== undefined && row.error_type !== e.errorType) run.problem(e.scenario, `${where}: error_type ${row.error_type}, not ${e.errorType}`);
    for (const [column, value] of [['model', row.model], ['user', row.user], ['session', row.session]] as const) {
      // The bounds on names are the `names` scenario's promise, whichever scenario sent the name.
      if (value !== null && (CONTROL.test(value) || value.length > (column === 'model' ? 256 : 128))) run.problem('names', `${where}: stored ${column} of ${value.length} characters${CONTROL.test(value) ? ' with a control character' : ''}`);
    }
    if (e.reported?.input !== undefined && row.input_tokens !== e.reported.input) run.problem(e.scenario, `${where}: input_tokens ${row.input_tokens}, reported ${e.reported.input}`);
    if (e.reported?.output !== undefined && row.output_tokens !== e.reported.output) run.problem(e.scenario, `${where}: output_tokens ${row.output_tokens}, reported ${e.reported.output}`);
    if (!provenance) continue;
    if (e.sources !== undefined && !e.sources.includes(row.usage_source as UsageSource)) run.problem(e.scenario, `${where}: usage_source ${row.usage_source}, not ${e.sources.join(' or ')}`);
    if (e.wouldReport?.input !== undefined && !withinTolerance(row.input_tokens, e.wouldReport.input)) run.problem(e.scenario, `${where}: estimated input ${row.input_tokens}, the upstream would have reported ${e.wouldReport.input}`);
    if (e.wouldReport?.output !== undefined && !withinTolerance(row.output_tokens, e.wouldReport.output)) run.problem(e.scenario, `${where}: estimated output ${row.output_tokens}, the upstream would have reported ${e.wouldReport.output}`);
  }
}

// ------------------------------------------------------------------ stores

const ROW_COLUMNS = ['request_id', 'model', 'user', 'session', 'error_type', 'error', 'input_tokens', 'output_tokens'] as const;

function pickRow(r: Record<string, unknown>): HostileRow {
  const row = Object.fromEntries(ROW_COLUMNS.map((c) => [c, r[c]])) as unknown as HostileRow;
  if ('usage_source' in r) row.usage_source = r.usage_source as string | null;
  return { ...row, input_tokens: Number(row.input_tokens), output_tokens: Number(row.output_tokens) };
}

/**
 * The stored rows of this run (request id under its prefix, started since `from`), paged through
 * /metrics/requests: the way to read a store the gateway holds (a SQLite file is locked to it).
 */
async function storedRows(run: Run, from: Date): Promise<HostileRow[]> {
  const rows: HostileRow[] = [];
  let cursor: string | null = null;
  const since = encodeURIComponent(from.toISOString());
  do {
    const res = await run.get(`/metrics/requests?from=${since}&limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (res.status !== 200) throw new Error(`/metrics/requests: ${res.status} ${res.text.slice(0, 200)}`);
    const page = JSON.parse(res.text) as { requests: Record<string, unknown>[]; next_cursor: string | null };
    for (const r of page.requests) if (typeof r.request_id === 'string' && r.request_id.startsWith(run.prefix)) rows.push(pickRow(r));
    cursor = page.next_cursor;
  } while (cursor !== null);
  return rows;
}

/** Resident memory of a process, from /proc (Linux); 0 where there is none. */
export function procRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** One line per fact of a run, for the log. */
export function describeRun(name: string, r: HostileRun): string[] {
  const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;
  return [
    `${name}: scenarios ${r.scenarios.join(', ')}; ${r.sent} requests in ${(r.elapsedMs / 1000).toFixed(1)} s; statuses ${JSON.stringify(r.statuses)}`,
    `${name}: /health p50 ${r.health.p50.toFixed(1)} ms, p99 ${r.health.p99.toFixed(1)} ms, max ${r.health.max.toFixed(1)} ms over ${r.health.samples} checks (${r.health.failures} failed)`,
    `${name}: rss before ${mb(r.rssBefore)}, after ${mb(r.rssAfter)}; ${r.rowsStored} rows stored${r.scenarios.includes('history') ? `; ${r.historyRefused} history queries refused (400/503)` : ''}`,
  ];
}
