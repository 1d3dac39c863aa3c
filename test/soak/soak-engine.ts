/**
 * The fault soak: a seeded schedule of upstream faults, client aborts and bad requests, driven at a
 * fixed concurrency through the gateway against the scriptable FakeUpstream, then checked for exact
 * accounting. Shared by test/soak/soak.spec.ts (small, in the suite) and test/soak/soak-main.ts
 * (`npm run soak`, the full run against a child process).
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { load as loadYaml } from 'js-yaml';
import { Agent, request } from 'undici';
import type { Fault, FakeUpstream, RecordedRequest, Script, Usage } from '../fakes/fake-upstream';

/**
 * Timeouts short enough that stalls resolve in seconds, long enough that healthy traffic on a
 * 2-core machine shared with other test runs never trips them (at 2 s it did, once, under a
 * concurrent benchmark: a few planned outcomes turned into upstream_timeout).
 */
/** The gateway key every soak client presents; probes present none or a wrong one. */
export const SOAK_KEY = 'vdm-soak-gateway-key-canary-3f9a';
export const SOAK_GATEWAY_ENV: Readonly<Record<string, string>> = {
  ANTHROPIC_API_KEY: 'sk-ant-soak-provider-canary-81d2',
  OPENAI_API_KEY: 'sk-openai-soak-provider-canary-4be7',
  PROXY_API_KEY: SOAK_KEY,
  REQUEST_TIMEOUT: '5',
  STREAMING_CONNECT_TIMEOUT_SECONDS: '5',
  STREAMING_READ_TIMEOUT_SECONDS: '3',
  LOG_SUMMARY_INTERVAL: '1000000',
};

/** Secrets that must never appear in anything the gateway sends or writes. */
export const SOAK_CANARIES: readonly string[] = [SOAK_KEY, SOAK_GATEWAY_ENV.ANTHROPIC_API_KEY, SOAK_GATEWAY_ENV.OPENAI_API_KEY];

/** The client API a request is sent on: Anthropic Messages, Chat Completions or the Responses API. */
export type Protocol = 'anthropic' | 'openai' | 'responses';

export type Kind =
  | 'ok'
  | 'trickle'
  | 'status-401'
  | 'status-429'
  | 'status-500'
  | Fault
  | 'client-abort'
  | 'bad-json'
  | 'bad-body'
  /** Head and part of the body, then the client drops the connection. */
  | 'aborted-upload'
  /** No key or a wrong one, under one of many spellings of the path: refused, not usage. */
  | 'unauth-probe'
  /** The upstream answers 401 with a message that echoes the provider key it got. */
  | 'key-echo';

export interface Planned {
  index: number;
  /** The x-request-id the client sends; a few reuse the one before (see requestIdFor). */
  requestId: string;
  kind: Kind;
  protocol: Protocol;
  stream: boolean;
  usage: Required<Usage>;
}

export interface Expected {
  requests: number;
  errors: Record<string, number>;
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

/** Mulberry32: small, fast and the same everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Weights per kind (they need not sum to 1); `streamOnly` kinds always stream. */
const WEIGHTS: readonly [Kind, number][] = [
  ['ok', 0.46],
  ['trickle', 0.05],
  ['status-401', 0.03],
  ['status-429', 0.04],
  ['status-500', 0.04],
  ['reset-before-headers', 0.03],
  ['reset-mid-stream', 0.03],
  ['reset-after-headers', 0.01],
  ['malformed-then-reset', 0.01],
  ['stall-before-headers', 0.02],
  ['stall-mid-stream', 0.02],
  ['malformed-sse', 0.03],
  ['truncated-json', 0.03],
  ['error-event-mid-stream', 0.03],
  ['client-abort', 0.04],
  ['bad-json', 0.03],
  ['bad-body', 0.02],
  ['aborted-upload', 0.02],
  ['unauth-probe', 0.03],
  ['key-echo', 0.02],
  ['endless-event', 0.005],
];
const STREAM_ONLY = new Set<Kind>(['trickle', 'reset-mid-stream', 'reset-after-headers', 'malformed-then-reset', 'stall-mid-stream', 'malformed-sse', 'truncated-json', 'error-event-mid-stream', 'client-abort', 'endless-event']);

/** Kinds the gateway must refuse before the upstream, so the fake never sees them. */
export const NEVER_UPSTREAM = new Set<Kind>(['bad-json', 'bad-body', 'aborted-upload', 'unauth-probe']);

/** What each kind is recorded as (observed behaviour, see test/e2e/gateway.e2e.spec.ts). */
export const ERROR_TYPE_OF: Readonly<Record<Kind, string | undefined>> = {
  ok: undefined,
  trickle: undefined,
  'status-401': 'auth_error',
  'status-429': 'rate_limit',
  'status-500': 'upstream_http_error',
  'reset-before-headers': 'upstream_error',
  // A stream the upstream answered and then broke is truncated, whatever the gateway read of it.
  'reset-mid-stream': 'streaming_error',
  'reset-after-headers': 'streaming_error',
  'malformed-then-reset': 'streaming_error',
  'stall-before-headers': 'upstream_timeout',
  'stall-mid-stream': 'upstream_timeout',
  'malformed-sse': 'streaming_error',
  'truncated-json': 'streaming_error',
  'error-event-mid-stream': 'upstream_error',
  'client-abort': 'client_disconnect',
  'bad-json': 'bad_request',
  'bad-body': 'bad_request',
  'aborted-upload': 'client_disconnect',
  'unauth-probe': undefined,
  'key-echo': 'auth_error',
  'endless-event': 'streaming_error',
};

export function buildSchedule(seed: number, n: number): Planned[] {
  const random = rng(seed);
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  const out: Planned[] = [];
  for (let index = 0; index < n; index++) {
    let pick = random() * total;
    let kind: Kind = 'ok';
    for (const [k, w] of WEIGHTS) {
      pick -= w;
      if (pick < 0) {
        kind = k;
        break;
      }
    }
    const api = random();
    const protocol: Protocol = api < 0.4 ? 'anthropic' : api < 0.7 ? 'openai' : 'responses';
    const stream = STREAM_ONLY.has(kind) || random() < 0.5;
    const usage = {
      input: 1 + Math.floor(random() * 500),
      output: 1 + Math.floor(random() * 200),
      cacheRead: Math.floor(random() * 50),
      // OpenAI has no cache-creation count.
      cacheCreation: protocol === 'anthropic' ? Math.floor(random() * 20) : 0,
      reasoning: 0,
    };
    out.push({ index, requestId: requestIdFor(seed, index), kind, protocol, stream, usage });
  }
  return out;
}

/**
 * The x-request-id of a schedule's request: unique per seed and index, except that every 97th
 * reuses the id of the request sent just before it, which is then usually still in flight (the
 * tracker keeps both, the second as `<id>~<n>`). Dots keep it apart from the prompt's `soak-N` marker.
 */
export function requestIdFor(seed: number, index: number): string {
  const own = index > 0 && index % 97 === 13 ? index - 1 : index;
  return `s${seed}.${own}`;
}

/**
 * The usage the upstream reports before the request ends. A whole answer reports all of it. An
 * Anthropic stream cut after its first content event has already sent `message_start`, whose usage
 * carries the input and cache counts and output_tokens 1; an OpenAI stream reports usage only in
 * its last chunk, so a cut one reports none. Refused and pre-header failures report nothing.
 */
export function reportedUsage(p: Planned): Required<Usage> {
  const none = { input: 0, output: 0, cacheRead: 0, cacheCreation: 0, reasoning: 0 };
  switch (p.kind) {
    case 'ok':
    case 'trickle':
      return p.usage;
    case 'reset-mid-stream':
    case 'malformed-then-reset':
    case 'stall-mid-stream':
    case 'malformed-sse':
    case 'truncated-json':
    case 'error-event-mid-stream':
    case 'client-abort':
    case 'endless-event':
      return p.protocol === 'anthropic' ? { ...p.usage, output: 1 } : none;
    case 'status-401':
    case 'status-429':
    case 'status-500':
    case 'reset-before-headers':
    case 'reset-after-headers':
    case 'stall-before-headers':
    case 'bad-json':
    case 'bad-body':
    case 'aborted-upload':
    case 'unauth-probe':
    case 'key-echo':
      return none;
  }
}

export function expectedTotals(schedule: readonly Planned[]): Expected {
  const e: Expected = { requests: 0, errors: {}, input: 0, output: 0, cacheRead: 0, cacheCreation: 0 };
  for (const p of schedule) {
    // Refused for the key: not usage.
    if (p.kind === 'unauth-probe') continue;
    e.requests++;
    const type = ERROR_TYPE_OF[p.kind];
    if (type !== undefined) e.errors[type] = (e.errors[type] ?? 0) + 1;
    const u = reportedUsage(p);
    e.input += u.input;
    e.output += u.output;
    e.cacheRead += u.cacheRead;
    e.cacheCreation += u.cacheCreation;
  }
  return e;
}

const MARK = /soak-(\d+)/;

/** The FakeUpstream script for the request a schedule entry sent (found by the marker in its prompt). */
export function scriptFor(schedule: readonly Planned[]): (req: RecordedRequest) => Script {
  return (req) => {
    const match = MARK.exec(req.rawBody);
    const p = match ? schedule[Number(match[1])] : undefined;
    if (!p) return { status: 599, errorMessage: `unplanned request ${req.path}` };
    const usage = p.usage;
    switch (p.kind) {
      case 'ok':
        return { usage };
      case 'trickle':
        return { usage, text: 'one two three four five six seven eight', chunkDelayMs: 5 + (p.index % 20) };
      case 'status-401':
        return { status: 401 };
      case 'status-429':
        return { status: 429, headers: { 'retry-after': '1' } };
      case 'status-500':
        return { status: 500 };
      case 'client-abort':
        return { usage, fault: 'stall-mid-stream' };
      case 'bad-json':
      case 'bad-body':
      case 'aborted-upload':
      case 'unauth-probe':
        return { status: 598, errorMessage: 'a refused request reached the upstream' };
      case 'key-echo': {
        const key = p.protocol === 'anthropic' ? SOAK_GATEWAY_ENV.ANTHROPIC_API_KEY : SOAK_GATEWAY_ENV.OPENAI_API_KEY;
        return { status: 401, errorMessage: `Invalid API key provided: ${key}` };
      }
      case 'reset-before-headers':
      case 'reset-mid-stream':
      case 'reset-after-headers':
      case 'malformed-then-reset':
      case 'stall-before-headers':
      case 'stall-mid-stream':
      case 'malformed-sse':
      case 'truncated-json':
      case 'error-event-mid-stream':
      case 'endless-event':
        return { usage, fault: p.kind };
    }
  };
}

function bodyFor(p: Planned): string {
  if (p.kind === 'bad-json') return `{"model": "x", "messages": [soak-${p.index}`;
  const content = `soak-${p.index}`;
  // The Responses API needs no messages: its bad body is a stream flag that is not a boolean.
  if (p.kind === 'bad-body' && p.protocol === 'responses') return JSON.stringify({ model: 'openai:gpt-soak', stream: 'yes', input: content });
  if (p.kind === 'bad-body') return JSON.stringify({ model: p.protocol === 'anthropic' ? 'anthropic:claude-soak' : 'openai:gpt-soak', note: content });
  if (p.protocol === 'responses') return JSON.stringify({ model: 'openai:gpt-soak', stream: p.stream, input: content });
  return p.protocol === 'anthropic'
    ? JSON.stringify({ model: 'anthropic:claude-soak', max_tokens: 64, stream: p.stream, messages: [{ role: 'user', content }] })
    : JSON.stringify({ model: 'openai:gpt-soak', stream: p.stream, messages: [{ role: 'user', content }] });
}

const PATHS: Readonly<Record<Protocol, string>> = { anthropic: '/v1/messages', openai: '/v1/chat/completions', responses: '/v1/responses' };

/** The `api` label each protocol's requests are counted under. */
export const API_OF: Readonly<Record<Protocol, string>> = { anthropic: 'anthropic_messages', openai: 'openai_chat', responses: 'openai_responses' };

/** Requests per client API (refused probes are not usage). */
export function expectedByApi(schedule: readonly Planned[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of schedule) {
    if (p.kind === 'unauth-probe') continue;
    out[API_OF[p.protocol]] = (out[API_OF[p.protocol]] ?? 0) + 1;
  }
  return out;
}

/** `vdm_requests_total` summed by its `api` label. */
export async function requestsByApiFromPrometheus(gatewayUrl: string): Promise<Record<string, number>> {
  const families = parsePrometheus((await getText(`${gatewayUrl}/metrics`)).text);
  const out: Record<string, number> = {};
  for (const s of families.get('vdm_requests_total') ?? []) if (s.value > 0) out[s.labels.api] = (out[s.labels.api] ?? 0) + s.value;
  return out;
}

export interface DriveResult {
  sent: number;
  /** Probes answered anything but 401. */
  probeLeaks: string[];
  /** Client responses that carried a canary secret. */
  leaks: number;
  statuses: Record<string, number>;
  clientErrors: number;
  healthChecks: number;
  healthFailures: number;
  elapsedMs: number;
}

/** Sends every planned request at `concurrency`, polling /health all along. */
export async function drive(gatewayUrl: string, schedule: readonly Planned[], concurrency: number): Promise<DriveResult> {
  const agent = new Agent({ connections: concurrency + 4, keepAliveTimeout: 1_000 });
  const result: DriveResult = { sent: 0, probeLeaks: [], leaks: 0, statuses: {}, clientErrors: 0, healthChecks: 0, healthFailures: 0, elapsedMs: 0 };
  const port = Number(new URL(gatewayUrl).port);
  const started = performance.now();
  let next = 0;
  let done = false;

  const health = (async () => {
    while (!done) {
      result.healthChecks++;
      try {
        const res = await request(`${gatewayUrl}/health`, { dispatcher: agent });
        await res.body.text();
        if (res.statusCode !== 200) result.healthFailures++;
      } catch {
        result.healthFailures++;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  const one = async (p: Planned): Promise<void> => {
    const path = PATHS[p.protocol];
    const controller = new AbortController();
    result.sent++;
    if (p.kind === 'aborted-upload') {
      await rawExchange(port, `POST ${path} HTTP/1.1\r\nhost: soak\r\ncontent-type: application/json\r\ncontent-length: 4096\r\nx-api-key: ${SOAK_KEY}\r\nx-request-id: ${p.requestId}\r\n\r\n${bodyFor(p).slice(0, 20)}`, false);
      return;
    }
    if (p.kind === 'unauth-probe') {
      const target = probeTarget(path, p.index, port);
      const key = p.index % 2 === 0 ? '' : 'x-api-key: wrong-soak-key\r\n';
      const body = bodyFor(p);
      const status = await rawExchange(port, `POST ${target} HTTP/1.1\r\nhost: soak\r\nconnection: close\r\ncontent-type: application/json\r\nx-request-id: ${p.requestId}\r\n${key}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, true);
      if (status !== 401) result.probeLeaks.push(`${target} -> ${status}`);
      return;
    }
    try {
      const res = await request(gatewayUrl + path, {
        method: 'POST',
        dispatcher: agent,
        signal: controller.signal,
        headers: { 'content-type': 'application/json', 'x-api-key': SOAK_KEY, 'anthropic-version': '2023-06-01', 'x-request-id': p.requestId },
        body: bodyFor(p),
      });
      result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1;
      if (p.kind === 'client-abort') {
        // Leave as soon as the first bytes of the stream arrive.
        await new Promise<void>((resolve) => {
          res.body.once('data', () => resolve());
          res.body.once('error', () => resolve());
          res.body.once('end', () => resolve());
        });
        controller.abort();
        res.body.on('error', () => undefined);
        return;
      }
      const text = await res.body.text();
      if (SOAK_CANARIES.some((secret) => text.includes(secret))) result.leaks++;
    } catch {
      result.clientErrors++;
    }
  };

  const worker = async (): Promise<void> => {
    while (next < schedule.length) {
      const p = schedule[next++];
      await one(p);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  done = true;
  await health;
  await agent.close();
  result.elapsedMs = performance.now() - started;
  return result;
}

/** Spellings of a proxy path that a router decodes to the route: each must be refused without the key. */
function probeTarget(path: string, index: number, port: number): string {
  const spellings = [
    path,
    path.replace('/v1/', '/%761/'),
    path.replace('/v1/', '/v%31/'),
    path.replace(/\/(\w)/g, (_, c: string) => `/%${c.charCodeAt(0).toString(16)}`),
    `http://127.0.0.1:${port}${path}`,
    `${path}?probe=1`,
    `/${path}`,
    `${path}/`,
  ];
  return spellings[index % spellings.length];
}

/**
 * Writes a request as given on a socket of its own. With `wait`, resolves with the response status
 * (0 if none came); without, drops the connection as soon as the bytes are out.
 */
function rawExchange(port: number, data: string, wait: boolean): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    socket.setEncoding('latin1');
    socket.on('error', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
    socket.on('connect', () =>
      socket.write(data, () => {
        if (!wait) {
          socket.destroy();
          resolve(0);
        }
      }),
    );
    socket.on('data', (chunk: string) => {
      head += chunk;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (status) {
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
  });
}

/** Installs the schedule's scripts on the fake. */
export function scriptFake(fake: FakeUpstream, schedule: readonly Planned[]): void {
  fake.script(scriptFor(schedule));
}

export interface Observed {
  totalRequests: number;
  activeRequests: number;
  errors: Record<string, number>;
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
}

/** The summary of the JSON running totals. */
export function observedFromJson(doc: any, errors: Record<string, number>): Observed {
  const s = doc.summary;
  return {
    totalRequests: s.total_requests,
    activeRequests: s.active_requests,
    errors,
    input: s.total_input_tokens,
    output: s.total_output_tokens,
    cacheRead: s.total_cache_read_tokens,
    cacheCreation: s.total_cache_creation_tokens,
  };
}

/** The checks' own connections, kept apart so they can be closed before counting the gateway's sockets. */
let checkAgent = new Agent({ keepAliveTimeout: 1_000 });

export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(url, { headers: { 'x-api-key': SOAK_KEY, ...headers }, dispatcher: checkAgent });
  return { status: res.statusCode, text: await res.body.text() };
}

export async function closeCheckConnections(): Promise<void> {
  const old = checkAgent;
  checkAgent = new Agent({ keepAliveTimeout: 1_000 });
  await old.close();
}

/** Running totals in both formats; YAML parsed, for comparison with the JSON. */
export async function runningTotals(gatewayUrl: string): Promise<{ json: any; yaml: any }> {
  const json = JSON.parse((await getText(`${gatewayUrl}/metrics/running-totals?format=json`)).text);
  const yaml = loadYaml((await getText(`${gatewayUrl}/metrics/running-totals`)).text);
  return { json, yaml };
}

/** Prometheus text exposition, as name -> samples. */
export function parsePrometheus(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    const list = out.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[4]) });
    out.set(m[1], list);
  }
  return out;
}

/** What `/metrics` says, or undefined when the gateway has no Prometheus endpoint. */
export async function observedFromPrometheus(gatewayUrl: string): Promise<Observed | undefined> {
  const res = await getText(`${gatewayUrl}/metrics`);
  if (res.status !== 200 || !res.text.includes('vdm_requests_total')) return undefined;
  const families = parsePrometheus(res.text);
  const sum = (name: string, where: (l: Record<string, string>) => boolean = () => true): number =>
    (families.get(name) ?? []).filter((s) => where(s.labels)).reduce((a, s) => a + s.value, 0);
  const errors: Record<string, number> = {};
  for (const s of families.get('vdm_requests_total') ?? []) {
    const type = s.labels.error_type;
    if (type !== undefined && type !== '' && s.value > 0) errors[type] = (errors[type] ?? 0) + s.value;
  }
  const tokens = (type: string): number => sum('vdm_tokens_total', (l) => l.token_type === type);
  return {
    totalRequests: sum('vdm_requests_total'),
    activeRequests: sum('vdm_active_requests'),
    errors,
    input: tokens('input'),
    output: tokens('output'),
    cacheRead: tokens('cache_read'),
    cacheCreation: tokens('cache_creation'),
  };
}

/** The expected totals in the shape of an observation (active requests: 0). */
export function asObserved(e: Expected): Observed {
  return { totalRequests: e.requests, activeRequests: 0, errors: e.errors, input: e.input, output: e.output, cacheRead: e.cacheRead, cacheCreation: e.cacheCreation };
}

export function countKinds(schedule: readonly Planned[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of schedule) {
    const key = `${p.kind}${p.stream ? ' (stream)' : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The soak's models priced by a VDM_PRICES_FILE (USD per million tokens), so cost is checked under the fault mix. */
export const SOAK_PRICES = {
  anthropic: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  openai: { input: 2.5, output: 10, cacheRead: 1.25, cacheWrite: 2.5 },
} as const;

/** Writes SOAK_PRICES as a prices file in `dir`; returns its path (for VDM_PRICES_FILE). */
export function writeSoakPrices(dir: string): string {
  const file = join(dir, 'prices.yaml');
  const entry = (provider: keyof typeof SOAK_PRICES): string => {
    const r = SOAK_PRICES[provider];
    return `  - {provider: ${provider}, model: "*", input: ${r.input}, output: ${r.output}, cache_read: ${r.cacheRead}, cache_write: ${r.cacheWrite}}\n`;
  };
  writeFileSync(file, `prices:\n${entry('anthropic')}${entry('openai')}`);
  return file;
}

/** One request's cost in nanodollars at SOAK_PRICES, rounded per request as the gateway does. */
export function soakCostNano(provider: keyof typeof SOAK_PRICES, u: { input: number; output: number; cacheRead: number; cacheCreation: number }): number {
  const r = SOAK_PRICES[provider];
  return Math.round(u.input * r.input * 1e3 + u.output * r.output * 1e3 + u.cacheRead * r.cacheRead * 1e3 + u.cacheCreation * r.cacheWrite * 1e3);
}

/** The schedule's cost in nanodollars, worked from the usage each request reports. */
export function expectedCostNano(planned: readonly Planned[]): number {
  let nano = 0;
  for (const p of planned) if (p.kind !== 'unauth-probe') nano += soakCostNano(p.protocol === 'anthropic' ? 'anthropic' : 'openai', reportedUsage(p));
  return nano;
}

/**
 * One account of the traffic, as each place keeps it: the stored rows, the running totals and
 * `/metrics/usage`. Cost in integer nanodollars; `errorsByType` where the place keeps it.
 */
export interface Ledger {
  requests: number;
  errors: number;
  errorsByType?: Record<string, number>;
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
  costNano: number;
  unpriced: number;
}

/** The columns of a stored row the soak checks. */
export interface StoredRow {
  request_id: string;
  error_type: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  cost_nano: number | null;
}

/** Every stored row, read from the SQLite file over a read-only connection of its own. */
export function readStoredRows(file: string): StoredRow[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT request_id, error_type, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_nano FROM usage_requests')
      .all() as StoredRow[];
  } finally {
    db.close();
  }
}

const nanoOf = (usd: number): number => Math.round(usd * 1e9);

export function ledgerOfRows(rows: readonly StoredRow[]): Ledger {
  const l: Ledger = { requests: 0, errors: 0, errorsByType: {}, input: 0, output: 0, cacheRead: 0, cacheCreation: 0, costNano: 0, unpriced: 0 };
  const byType = l.errorsByType!;
  for (const r of rows) {
    l.requests++;
    if (r.error_type !== null) {
      l.errors++;
      byType[r.error_type] = (byType[r.error_type] ?? 0) + 1;
    }
    l.input += r.input_tokens;
    l.output += r.output_tokens;
    l.cacheRead += r.cache_read_tokens;
    l.cacheCreation += r.cache_creation_tokens;
    if (r.cost_nano === null) l.unpriced++;
    else l.costNano += r.cost_nano;
  }
  return l;
}

/** The JSON running totals' summary, with the tracker's error distribution. */
export function ledgerOfTotals(doc: any, errorsByType: Record<string, number>): Ledger {
  const s = doc.summary;
  return {
    requests: s.total_requests,
    errors: Object.values(errorsByType).reduce((a, n) => a + n, 0),
    errorsByType,
    input: s.total_input_tokens,
    output: s.total_output_tokens,
    cacheRead: s.total_cache_read_tokens,
    cacheCreation: s.total_cache_creation_tokens,
    costNano: nanoOf(s.total_cost_usd),
    unpriced: s.total_unpriced_requests,
  };
}

/** The totals of a `/metrics/usage` answer (it has no split by error type). */
export function ledgerOfUsage(doc: any): Ledger {
  const t = doc.totals;
  return {
    requests: t.requests,
    errors: t.errors,
    input: t.input_tokens,
    output: t.output_tokens,
    cacheRead: t.cache_read_tokens,
    cacheCreation: t.cache_creation_tokens,
    costNano: nanoOf(t.cost_usd),
    unpriced: t.unpriced_requests,
  };
}

export function withoutErrorTypes(l: Ledger): Ledger {
  const { errorsByType: _types, ...rest } = l;
  return rest;
}

/**
 * `/metrics/usage` totals over whole hours from two days before now to two hours after: once with no
 * grouping (answered from the hourly rollups) and once by session (a key only the rows hold).
 */
export async function usageLedgers(gatewayUrl: string): Promise<{ rollups: Ledger; rows: Ledger }> {
  const hour = Math.floor(Date.now() / 3_600_000) * 3600;
  const iso = (s: number): string => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const range = `from=${iso(hour - 48 * 3600)}&to=${iso(hour + 2 * 3600)}`;
  const get = async (query: string): Promise<Ledger> => {
    const res = await getText(`${gatewayUrl}/metrics/usage?${query}`);
    if (res.status !== 200) throw new Error(`/metrics/usage?${query}: ${res.status} ${res.text}`);
    return ledgerOfUsage(JSON.parse(res.text));
  };
  return { rollups: await get(range), rows: await get(`${range}&group_by=session`) };
}

/** Every stored request id, paged through `/metrics/requests` (1,000 a page). */
export async function requestIdsFromApi(gatewayUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await getText(`${gatewayUrl}/metrics/requests?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (res.status !== 200) throw new Error(`/metrics/requests: ${res.status} ${res.text}`);
    const page = JSON.parse(res.text) as { requests: { request_id: string }[]; next_cursor: string | null };
    for (const r of page.requests) ids.push(r.request_id);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return ids;
}

/**
 * What is wrong with the stored request ids against the schedules sent: each counted request must be
 * there once, under the id it sent, or `<id>~<n>` when another request with that id was in flight;
 * refused probes and ids nobody sent must not be there at all. Empty when all is well.
 */
export function requestIdProblems(storedIds: readonly string[], schedules: readonly (readonly Planned[])[]): string[] {
  const sent = new Map<string, number>();
  for (const schedule of schedules) {
    for (const p of schedule) if (p.kind !== 'unauth-probe') sent.set(p.requestId, (sent.get(p.requestId) ?? 0) + 1);
  }
  const stored = new Map<string, string[]>();
  for (const id of storedIds) {
    const base = id.replace(/~\d+$/, '');
    const list = stored.get(base) ?? [];
    list.push(id);
    stored.set(base, list);
  }
  const problems: string[] = [];
  for (const [base, ids] of stored) {
    const n = sent.get(base) ?? 0;
    if (n === 0) problems.push(`${ids.join(', ')}: stored, never sent as a counted request`);
    else if (ids.length !== n) problems.push(`${base}: sent ${n}, stored ${ids.length} (${ids.join(', ')})`);
    else if (n === 1 && ids[0] !== base) problems.push(`${base}: stored as ${ids[0]}`);
  }
  for (const [base, n] of sent) if (!stored.has(base)) problems.push(`${base}: sent ${n}, not stored`);
  return problems.length > 20 ? [...problems.slice(0, 20), `... and ${problems.length - 20} more`] : problems;
}
