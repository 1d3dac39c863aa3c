import { load } from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { ids } from '../support/factories';
import { startApp, type RunningApp } from '../support/app';
import { eventually, SseClient } from '../support/sse-client';

const SECTION_KEYS = [
  'requests', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens',
  'tool_uses', 'tool_results', 'tool_calls', 'average_duration_ms', 'total_duration_ms',
];

let running: RunningApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(env: Record<string, string> = {}): Promise<RunningApp> {
  running = await startApp(env);
  return running;
}

function feed(app: RunningApp): void {
  const t = app.tracker;
  ids(t).start({ requestId: 'r1', requestedModel: 'openrouter:anthropic/claude-3-5-sonnet:context-flash', provider: 'openrouter', resolvedModel: 'anthropic/claude-3-5-sonnet:context-flash', isStreaming: true });
  ids(t).update('r1', { inputTokens: 100, outputTokens: 20, cacheReadTokens: 30, cacheCreationTokens: 5, toolCallCount: 1 });
  ids(t).end('r1');
  ids(t).start({ requestId: 'r2', requestedModel: 'fast', provider: 'openai', resolvedModel: 'gpt-4o' });
  ids(t).update('r2', { inputTokens: 10, outputTokens: 2 });
  ids(t).end('r2', { errorType: 'rate_limit', error: 'slow down' });
}

describe('GET /metrics/running-totals', () => {
  it('serves commented YAML that parses to the contract shape', async () => {
    const app = await start();
    feed(app);
    const res = await fetch(`${app.url}/metrics/running-totals`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('yaml');
    const text = await res.text();
    expect(text).toMatch(/^# Running Totals Report\n# Generated: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
    const doc = load(text) as any;
    expect(doc.summary).toMatchObject({ total_requests: 2, total_errors: 1, total_input_tokens: 110, total_output_tokens: 22, total_cache_read_tokens: 30, total_cache_creation_tokens: 5, total_tool_calls: 1, active_requests: 0 });
    expect(doc.summary.last_accessed.top).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number.isInteger(doc.summary.average_duration_ms)).toBe(true);
    const model = doc.providers.openrouter.models['anthropic/claude-3-5-sonnet:context-flash'];
    for (const section of ['total', 'streaming', 'non_streaming']) expect(Object.keys(model[section])).toEqual(expect.arrayContaining(SECTION_KEYS));
    expect(model.streaming.requests).toBe(1);
    expect(doc.providers.openai.rollup.total.errors).toBe(1);
    expect(Object.keys(doc.providers.openai.models)).toEqual(['gpt-4o']);
  });

  it('comments the filter and applies it', async () => {
    const app = await start();
    feed(app);
    const text = await (await fetch(`${app.url}/metrics/running-totals?provider=OPEN*&model=gpt-?o`)).text();
    expect(text).toContain('# Filter: provider=OPEN* & model=gpt-?o');
    const doc = load(text) as any;
    expect(Object.keys(doc.providers)).toEqual(['openai']);
  });

  it('serves JSON with the flat series, by format=json or by Accept', async () => {
    const app = await start();
    feed(app);
    for (const init of [{ q: '?format=json', h: {} as Record<string, string> }, { q: '', h: { accept: 'application/json' } }]) {
      const res = await fetch(`${app.url}/metrics/running-totals${init.q}`, { headers: init.h });
      expect(res.headers.get('content-type')).toContain('application/json');
      const doc = (await res.json()) as any;
      expect(doc.summary.total_requests).toBe(2);
      expect(doc.series).toContainEqual(expect.objectContaining({ provider: 'openai', model: 'gpt-4o', mode: 'non_streaming', requests: 1, errors: 1 }));
      expect(doc.series).toHaveLength(6);
    }
  });

  it('counts in-flight requests unless include_active=false', async () => {
    const app = await start();
    ids(app.tracker).start({ requestId: 'live', provider: 'openai', resolvedModel: 'gpt-4o' });
    const on = (await (await fetch(`${app.url}/metrics/running-totals?format=json`)).json()) as any;
    const off = (await (await fetch(`${app.url}/metrics/running-totals?format=json&include_active=false`)).json()) as any;
    expect(on.summary).toMatchObject({ total_requests: 1, active_requests: 1 });
    expect(off.summary).toMatchObject({ total_requests: 0, active_requests: 1 });
  });

  it.each([
    ['/metrics/running-totals?include_active=maybe', 'include_active must be true or false'],
    ['/metrics/running-totals?format=xml', 'format must be yaml or json'],
    ['/metrics/logs?limit_errors=0', 'limit_errors must be an integer from 1 to 1000'],
    ['/metrics/logs?limit_errors=1001', 'limit_errors'],
    ['/metrics/logs?limit_errors=abc', 'limit_errors'],
    ['/metrics/logs?limit_traces=2001', 'limit_traces must be an integer from 1 to 2000'],
    ['/metrics/logs?limit_traces=1.5', 'limit_traces'],
  ])('answers %s with a clear 400', async (path, message) => {
    const app = await start();
    const res = await fetch(app.url + path);
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(body.message).toContain(message);
  });

  it('says so when metrics are disabled, in YAML and JSON', async () => {
    const app = await start({ LOG_REQUEST_METRICS: 'false' });
    const yaml = load(await (await fetch(`${app.url}/metrics/running-totals`)).text()) as any;
    expect(yaml).toMatchObject({ disabled: true, suggestion: expect.stringContaining('LOG_REQUEST_METRICS=true') });
    const json = (await (await fetch(`${app.url}/metrics/running-totals?format=json`)).json()) as any;
    expect(json.suggestion).toContain('LOG_REQUEST_METRICS=true');
  });
});

describe('GET /metrics/active-requests and /metrics/logs', () => {
  it('lists in-flight requests newest first with the contract fields', async () => {
    const app = await start();
    const ctx = app.tracker.begin({ requestId: 'a', requestedModel: 'openrouter:kwaipilot/kat-coder-pro:free', isStreaming: true, requestSize: 321, messageCount: 3 });
    ctx.route('openrouter', 'kwaipilot/kat-coder-pro:free');
    ids(app.tracker).start({ requestId: 'b', requestedModel: 'x' });
    const body = (await (await fetch(`${app.url}/metrics/active-requests`)).json()) as any;
    expect(body.disabled).toBe(false);
    expect(body.active_requests.map((r: any) => r.request_id)).toEqual(['b', 'a']);
    expect(body.active_requests[1]).toMatchObject({
      provider: 'openrouter',
      model: 'kwaipilot/kat-coder-pro:free',
      requested_model: 'openrouter:kwaipilot/kat-coder-pro:free',
      resolved_model: 'kwaipilot/kat-coder-pro:free',
      qualified_model: 'openrouter:kwaipilot/kat-coder-pro:free',
      is_streaming: true,
      request_size: 321,
      message_count: 3,
      input_tokens: 0,
      tool_calls: 0,
    });
    expect(typeof body.active_requests[1].duration_ms).toBe('number');
  });

  it('returns traces and errors newest first within the limits', async () => {
    const app = await start();
    feed(app);
    const body = (await (await fetch(`${app.url}/metrics/logs?limit_traces=1`)).json()) as any;
    expect(body.systemd).toEqual({ requested: false, effective: false, handler: 'stdout:json' });
    expect(body.traces).toHaveLength(1);
    expect(body.traces[0]).toMatchObject({ request_id: 'r2', status: 'error', error_type: 'rate_limit', error: 'slow down', model: 'gpt-4o' });
    expect(body.errors).toHaveLength(1);
    expect(Object.keys(body.traces[0])).toEqual(expect.arrayContaining([
      'seq', 'ts', 'request_id', 'provider', 'model', 'is_streaming', 'duration_ms', 'input_tokens', 'output_tokens',
      'cache_read_tokens', 'cache_creation_tokens', 'tool_use_count', 'tool_call_count', 'tool_result_count', 'status', 'error', 'error_type',
    ]));
  });

  it('reports disabled metrics on the active list', async () => {
    const app = await start({ LOG_REQUEST_METRICS: 'false' });
    const body = (await (await fetch(`${app.url}/metrics/active-requests`)).json()) as any;
    expect(body).toMatchObject({ disabled: true, active_requests: [], suggestion: expect.stringContaining('LOG_REQUEST_METRICS=true') });
  });
});

describe('PROXY_API_KEY', () => {
  const KEY = 'sk-test-secret-key-123';

  it.each([
    ['no key', {}, 401],
    ['a wrong key', { 'x-api-key': 'nope' }, 401],
    ['a wrong key of the same length', { 'x-api-key': 'sk-test-secret-key-124' }, 401],
    ['a huge wrong key', { authorization: `Bearer ${'x'.repeat(5000)}` }, 401],
    ['x-api-key', { 'x-api-key': KEY }, 200],
    ['Authorization: Bearer', { authorization: `Bearer ${KEY}` }, 200],
  ])('with %s answers %i', async (_label, headers, status) => {
    const app = await start({ PROXY_API_KEY: KEY });
    for (const path of ['/metrics/running-totals', '/metrics/active-requests', '/metrics/logs']) {
      const res = await fetch(app.url + path, { headers });
      expect(res.status).toBe(status);
      if (status === 401) {
        const body = (await res.json()) as any;
        expect(body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
        expect(JSON.stringify(body)).not.toContain(KEY);
      }
    }
  });

  it('guards the SSE stream too, and leaves /health open', async () => {
    const app = await start({ PROXY_API_KEY: KEY });
    const denied = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    expect(denied.status).toBe(401);
    const allowed = await SseClient.connect(`${app.url}/metrics/active-requests/stream`, { 'x-api-key': KEY });
    expect(allowed.status).toBe(200);
    await allowed.next('update');
    allowed.close();
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
  });
});

describe('GET /metrics/active-requests/stream', () => {
  it('sends a snapshot at once, then an update after a start and after an end', async () => {
    const app = await start();
    const client = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toContain('text/event-stream');
    const first = JSON.parse((await client.next('update')).data);
    expect(first).toMatchObject({ disabled: false, active_requests: [] });
    expect(typeof first.timestamp).toBe('number');

    const ctx = app.tracker.begin({ requestId: 'live-1', requestedModel: 'sonnet', isStreaming: true });
    ctx.route('anthropic', 'claude-sonnet-4-5');
    const started = JSON.parse((await client.next('update', (e) => e.data.includes('live-1'))).data);
    expect(started.active_requests).toHaveLength(1);
    expect(started.active_requests[0]).toMatchObject({ request_id: 'live-1', provider: 'anthropic', resolved_model: 'claude-sonnet-4-5' });

    ctx.finalize();
    const ended = JSON.parse((await client.next('update', (e) => !e.data.includes('live-1'))).data);
    expect(ended.active_requests).toEqual([]);
    client.close();
  });

  it('numbers events in the order they are built: ids rise on every connection, a shared update has one id', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '0.05' });
    for (let i = 0; i < 5; i++) app.tracker.begin({ requestId: `before-${i}`, provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: false }).finalize();
    const early = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await early.next('update');
    const first = app.tracker.begin({ requestId: 'v1', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: false });
    await early.next('update', (e) => e.data.includes('"request_id":"v1"'));
    const late = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await late.next('update', (e) => e.data.includes('"request_id":"v1"'));
    first.finalize();
    const second = app.tracker.begin({ requestId: 'v2', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: false });
    second.finalize();
    await eventually(() => [early, late].every((c) => (c.lastUpdate() as any)?.active_requests.length === 0));
    const lastUpdateId = (c: SseClient): string | undefined => c.events.filter((e) => e.event === 'update').at(-1)?.id;
    expect(lastUpdateId(early)).toBe(lastUpdateId(late));
    await late.next('heartbeat');
    for (const client of [early, late]) {
      const ids = client.ids.map(Number);
      expect(client.ids.every((id) => /^\d+$/.test(id))).toBe(true);
      expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    }
    // The late client's first event was built after the early one's.
    expect(Number(late.ids[0])).toBeGreaterThan(Number(early.ids[0]));
    early.close();
    late.close();
  });

  it('never repeats an id on a connection: starts, progress, heartbeats and ends in bursts', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '0.02', VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.03' });
    const early = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await early.next('update');
    const clients = [early];
    const ctxs = [];
    for (let round = 0; round < 6; round++) {
      // Progress first (its window is the longer one), then a start: both windows end with no change between them.
      for (const ctx of ctxs) ctx.usage({ outputTokens: round + 1 });
      ctxs.push(app.tracker.begin({ requestId: `burst-${round}`, provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true }));
      if (round === 2) clients.push(await SseClient.connect(`${app.url}/metrics/active-requests/stream`));
      if (round % 2 === 1) ctxs.shift()?.finalize();
      await early.next('heartbeat');
    }
    for (const ctx of ctxs) ctx.finalize();
    await eventually(() => clients.every((c) => (c.lastUpdate() as any)?.active_requests.length === 0));
    for (const client of clients) {
      await client.next('heartbeat');
      await client.next('heartbeat');
    }
    for (const client of clients) {
      expect(client.ids.every((id) => /^\d+$/.test(id))).toBe(true);
      const ids = client.ids.map(Number);
      expect(ids.filter((id, i) => i > 0 && id <= ids[i - 1])).toEqual([]);
      // Nor is an update sent again for a state the connection was already shown.
      const states = client.updates.map((data) => JSON.stringify(JSON.parse(data, (key, value: unknown) => (key === 'duration_ms' || key === 'timestamp' ? undefined : value))));
      expect(states.filter((state, i) => i > 0 && state === states[i - 1])).toEqual([]);
    }
    clients.forEach((c) => c.close());
  });

  it('pushes token progress of in-flight requests at most per interval', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.05' });
    const client = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await client.next('update');
    const ctx = app.tracker.begin({ requestId: 'p', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true });
    await client.next('update', (e) => e.data.includes('"request_id":"p"'));
    for (let i = 1; i <= 50; i++) ctx.usage({ outputTokens: i });
    const progress = JSON.parse((await client.next('update', (e) => e.data.includes('"output_tokens":50'))).data);
    expect(progress.active_requests[0].output_tokens).toBe(50);
    expect(client.events.filter((e) => e.event === 'update')).toHaveLength(0);
    ctx.finalize();
    client.close();
  });

  it('sends heartbeats at the configured interval', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '0.05' });
    const client = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await client.next('update');
    const beat = JSON.parse((await client.next('heartbeat')).data);
    expect(typeof beat.timestamp).toBe('number');
    await client.next('heartbeat');
    client.close();
  });

  it('sends one disabled event and ends when metrics are off', async () => {
    const app = await start({ LOG_REQUEST_METRICS: 'false' });
    const client = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    const event = JSON.parse((await client.next('disabled')).data);
    expect(event).toMatchObject({ disabled: true, message: expect.any(String), suggestion: expect.stringContaining('LOG_REQUEST_METRICS=true') });
    await eventually(() => client.closedByServer);
  });

  it('answers 503 with a JSON body when the stream is switched off', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_ENABLED: 'false' });
    const res = await fetch(`${app.url}/metrics/active-requests/stream`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ disabled: true, message: expect.any(String), suggestion: expect.any(String) });
  });

  it('refuses streams beyond the configured cap with 503', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_MAX_CLIENTS: '2' });
    const a = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    const b = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await Promise.all([a.next('update'), b.next('update')]);
    const c = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    expect(c.status).toBe(503);
    expect(c.body).toContain('Too many');
    a.close();
    await eventually(() => app.hub.clients === 1);
    const d = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    expect(d.status).toBe(200);
    b.close();
    d.close();
  });

  it('ends open streams when the gateway closes, so shutdown does not hang on them', async () => {
    const app = await startApp();
    const clients = await Promise.all([1, 2, 3].map(() => SseClient.connect(`${app.url}/metrics/active-requests/stream`)));
    await Promise.all(clients.map((c) => c.next('update')));
    await app.close();
    await eventually(() => clients.every((c) => c.closedByServer));
    expect(app.hub.clients).toBe(0);
  });

  it('releases 200 clients whose sockets vanish without a clean close', async () => {
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '0.2' });
    const clients = await Promise.all(Array.from({ length: 200 }, () => SseClient.connect(`${app.url}/metrics/active-requests/stream`)));
    await Promise.all(clients.map((c) => c.next('update')));
    expect(app.hub.clients).toBe(200);
    for (const c of clients) c.drop();
    await eventually(() => app.hub.clients === 0);
    const survivor = await SseClient.connect(`${app.url}/metrics/active-requests/stream`);
    await survivor.next('update');
    expect(app.hub.clients).toBe(1);
    survivor.close();
  });

  it('leaves every subscriber on the final snapshot after 1,000 interleaved requests, totals exact', async () => {
    // Heartbeats twice the progress window: the second after the final update comes after any window still open at the first.
    const app = await start({ VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.05', VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '0.1' });
    const clients = await Promise.all(Array.from({ length: 5 }, () => SseClient.connect(`${app.url}/metrics/active-requests/stream`)));
    await Promise.all(clients.map((c) => c.next('update')));
    let expectedInput = 0;
    let expectedOutput = 0;
    const open: { finalize(): void }[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = `req-${i}`;
      const ctx = app.tracker.begin({ requestId: id, provider: `p${i % 3}`, resolvedModel: `m${i % 7}`, isStreaming: i % 2 === 0 });
      ctx.usage({ inputTokens: i + 1, outputTokens: 2 * i + 1 });
      expectedInput += i + 1;
      expectedOutput += 2 * i + 1;
      open.push(ctx);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      if (i % 3 === 2) {
        for (const done of open.splice(0, 2)) done.finalize();
      }
    }
    for (const done of open.splice(0)) done.finalize();
    await eventually(() => clients.every((c) => (c.lastUpdate() as any)?.active_requests.length === 0 && c.events.length > 0));
    await Promise.all(clients.map(async (c) => {
      c.events.splice(0);
      await c.next('heartbeat');
      await c.next('heartbeat');
    }));
    for (const c of clients) expect(JSON.parse(c.updates.at(-1)!).active_requests).toEqual([]);
    const doc = (await (await fetch(`${app.url}/metrics/running-totals?format=json`)).json()) as any;
    expect(doc.summary).toMatchObject({ total_requests: 1000, active_requests: 0, total_input_tokens: expectedInput, total_output_tokens: expectedOutput });
    const streaming = Object.values(doc.providers).reduce((n: number, p: any) => n + p.rollup.streaming.requests, 0);
    expect(streaming).toBe(500);
    for (const c of clients) c.close();
  });
});
