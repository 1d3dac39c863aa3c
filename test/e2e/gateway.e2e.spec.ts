import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { HISTORY } from '../support/traffic';
import { eventually } from '../support/sse-client';

const ANTHROPIC_KEY = 'sk-ant-upstream-secret-0001';
const OPENAI_KEY = 'sk-upstream-openai-secret-0002';

const gw = useGateway((fake) => ({
  ANTHROPIC_API_KEY: ANTHROPIC_KEY,
  ANTHROPIC_BASE_URL: fake.url,
  ANTHROPIC_ALIAS_SONNET: 'claude-sonnet-4-5-20250929',
  OPENAI_API_KEY: OPENAI_KEY,
  OPENAI_BASE_URL: `${fake.url}/v1`,
  OPENAI_ALIAS_FAST: 'gpt-4o-mini',
  OPENROUTER_API_KEY: 'sk-or-secret-0003',
  OPENROUTER_BASE_URL: `${fake.url}/v1`,
  VDM_DEFAULT_PROVIDER: 'anthropic',
  REQUEST_TIMEOUT_SECONDS: '1',
  STREAMING_READ_TIMEOUT_SECONDS: '0.5',
}));
let anthropic: Anthropic;
let openai: OpenAI;

async function boot(extra: Record<string, string> = {}): Promise<void> {
  await gw.boot(extra);
  anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
}

describe('Anthropic Messages passthrough', () => {
  it('proxies a non-streaming request by alias, answers with the alias, and accounts every count', async () => {
    await boot();
    gw.fake.script({ text: 'Paris is sunny.', usage: { input: 120, output: 15, cacheRead: 40, cacheCreation: 7 } });
    const message = await anthropic.messages.create({ model: 'sonnet', max_tokens: 100, system: 'Be brief.', messages: HISTORY });
    expect(message.model).toBe('sonnet');
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'Paris is sunny.' });

    const upstream = gw.fake.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/messages');
    expect(upstream.body.model).toBe('claude-sonnet-4-5-20250929');
    expect(upstream.headers['x-api-key']).toBe(ANTHROPIC_KEY);

    const doc = await gw.totals();
    const m = doc.providers.anthropic.models['claude-sonnet-4-5-20250929'];
    expect(m.non_streaming).toMatchObject({ requests: 1, input_tokens: 120, output_tokens: 15, cache_read_tokens: 40, cache_creation_tokens: 7, tool_uses: 2, tool_results: 2 });
    expect(Object.keys(doc.providers.anthropic.models)).toEqual(['claude-sonnet-4-5-20250929']);
    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', requested_model: 'sonnet', status: 'ok', is_streaming: false });
    expect(trace.request_size).toBeGreaterThan(100);
    expect(trace.response_size).toBeGreaterThan(50);
  });

  it('streams with tool calls; the SDK assembles the message and metrics see usage, tool calls and TTFT', async () => {
    await boot();
    gw.fake.script({ text: 'Checking.', toolCalls: [{ name: 'weather', input: { city: 'Oslo' } }, { name: 'time', input: { tz: 'CET' } }], usage: { input: 50, output: 33, cacheRead: 20 } });
    const stream = anthropic.messages.stream({ model: 'anthropic:claude-opus-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.filter((b) => b.type === 'tool_use').map((b) => (b).input)).toEqual([{ city: 'Oslo' }, { tz: 'CET' }]);
    expect(final.usage).toMatchObject({ input_tokens: 50, output_tokens: 33, cache_read_input_tokens: 20 });

    const doc = await gw.totals();
    expect(doc.providers.anthropic.models['claude-opus-4'].streaming).toMatchObject({ requests: 1, input_tokens: 50, output_tokens: 33, cache_read_tokens: 20, tool_calls: 2 });
    const trace = await gw.lastTrace();
    expect(trace.ttft_ms).toBeGreaterThan(0);
    expect(trace.ttft_ms).toBeLessThanOrEqual(trace.duration_ms);
  });
});

describe('OpenAI Chat Completions passthrough', () => {
  it('splits cached tokens out of input tokens and counts tool calls', async () => {
    await boot();
    gw.fake.script({ toolCalls: [{ name: 'a', input: { x: 1 } }, { name: 'b', input: {} }], usage: { input: 80, output: 9, cacheRead: 30 } });
    const completion = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.model).toBe('gpt-4o');
    expect(completion.choices[0].message.tool_calls).toHaveLength(2);
    expect(gw.fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    const m = (await gw.totals()).providers.openai.models['gpt-4o'];
    expect(m.total).toMatchObject({ requests: 1, input_tokens: 80, cache_read_tokens: 30, output_tokens: 9, tool_calls: 2 });
  });

  it('asks the upstream for stream usage but does not hand the client a usage chunk it did not ask for', async () => {
    await boot();
    gw.fake.script({ text: 'one two three', usage: { input: 11, output: 3, cacheRead: 4 } });
    const stream = await openai.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'count' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(gw.fake.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    expect(gw.fake.requests.at(-1)!.body.model).toBe('gpt-4o-mini');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.every((c) => c.model === 'fast')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three');
    const m = (await gw.totals()).providers.openai.models['gpt-4o-mini'];
    expect(m.streaming).toMatchObject({ requests: 1, input_tokens: 11, cache_read_tokens: 4, output_tokens: 3 });
  });

  it('passes the usage chunk through when the client asked for it', async () => {
    await boot();
    gw.fake.script({ usage: { input: 5, output: 2 } });
    const stream = await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of stream) usage = c.usage ?? usage;
    expect(usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 2 });
  });

  it('keeps a model name with colons whole under its provider', async () => {
    await boot();
    gw.fake.script({ usage: { input: 3, output: 1 } });
    await openai.chat.completions.create({ model: 'openrouter:kwaipilot/kat-coder-pro:free', messages: [{ role: 'user', content: 'x' }] });
    expect(gw.fake.requests.at(-1)!.body.model).toBe('kwaipilot/kat-coder-pro:free');
    const doc = await gw.totals();
    expect(Object.keys(doc.providers.openrouter.models)).toEqual(['kwaipilot/kat-coder-pro:free']);
  });
});

describe('request ids and timeouts', () => {
  it('honours a sane x-request-id, echoes it, and uses it as the request_id', async () => {
    await boot();
    gw.fake.script({ usage: { input: 1, output: 1 } });
    const body = JSON.stringify({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    const res = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc.123' }, body });
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
    await res.text();
    await eventually(() => gw.tracker.activeCount === 0);
    expect((await gw.lastTrace()).request_id).toBe('trace-abc.123');

    const insane = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'bad id with spaces' }, body });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await insane.text();
  });

  it('lets a healthy stream run past REQUEST_TIMEOUT_SECONDS, and cuts one idle past the read timeout', async () => {
    await boot({ REQUEST_TIMEOUT_SECONDS: '0.3', STREAMING_READ_TIMEOUT_SECONDS: '0.25' });
    gw.fake.script({ text: 'a b c d e f g h i j', chunkDelayMs: 60, usage: { input: 2, output: 10 } });
    const final = await anthropic.messages.stream({ model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'slow' }] }).finalMessage();
    expect(final.usage.output_tokens).toBe(10);
    await eventually(() => gw.tracker.activeCount === 0);
    // Ten chunks 60 ms apart: the stream outlived REQUEST_TIMEOUT_SECONDS (0.3 s) by the upstream's own pacing, and still succeeded.
    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({ status: 'ok', output_tokens: 10 });
    expect(trace.duration_ms).toBeGreaterThan(300);

    gw.fake.script({ fault: 'stall-mid-stream' });
    const error = await anthropic.messages.stream({ model: 'sonnet', max_tokens: 50, messages: [{ role: 'user', content: 'stall' }] }).finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    await eventually(() => gw.tracker.activeCount === 0);
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'upstream_timeout' });
  });
});

describe('in-flight requests', () => {
  it('shows a held request with provider and resolved model, then drops it', async () => {
    await boot();
    let release!: () => void;
    gw.fake.script({ holdUntil: new Promise<void>((r) => (release = r)), usage: { input: 1, output: 1 } });
    const pending = anthropic.messages.create({ model: 'sonnet', max_tokens: 10, messages: [{ role: 'user', content: 'hold' }] });
    await gw.fake.waitForRequests(gw.fake.requests.length + 1);
    const active = (await (await fetch(`${gw.url}/metrics/active-requests`)).json()) as any;
    expect(active.active_requests).toHaveLength(1);
    expect(active.active_requests[0]).toMatchObject({ provider: 'anthropic', requested_model: 'sonnet', resolved_model: 'claude-sonnet-4-5-20250929', qualified_model: 'anthropic:claude-sonnet-4-5-20250929' });
    release();
    await pending;
    await eventually(async () => ((await (await fetch(`${gw.url}/metrics/active-requests`)).json()) as any).active_requests.length === 0);
  });
});

describe('errors and their categories', () => {
  it.each([
    [401, 'auth_error', Anthropic.AuthenticationError],
    [403, 'auth_error', Anthropic.PermissionDeniedError],
    [429, 'rate_limit', Anthropic.RateLimitError],
    [400, 'bad_request', Anthropic.BadRequestError],
    [500, 'upstream_http_error', Anthropic.InternalServerError],
  ])('passes an upstream %i through and records %s', async (status, errorType, ErrorClass) => {
    await boot();
    gw.fake.script({ status, errorMessage: `upstream says ${status}` });
    const error = await anthropic.messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(status);
    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({ status: 'error', error_type: errorType });
    expect(trace.error).toMatch(new RegExp(`^Upstream anthropic answered ${status}: .*upstream says ${status}`));
  });

  it.each([
    ['reset-before-headers', false, 'upstream_error'],
    ['stall-before-headers', false, 'upstream_timeout'],
    ['stall-before-headers', true, 'upstream_timeout'],
    ['stall-mid-stream', true, 'upstream_timeout'],
    ['reset-mid-stream', true, 'streaming_error'],
    ['reset-after-headers', true, 'streaming_error'],
    ['malformed-sse', true, 'streaming_error'],
    ['truncated-json', true, 'streaming_error'],
    ['error-event-mid-stream', true, 'upstream_error'],
  ] as const)('records %s (stream: %s) as %s and answers the client', async (fault, stream, errorType) => {
    await boot({ STREAMING_CONNECT_TIMEOUT_SECONDS: '1' });
    gw.fake.script({ fault });
    const request = { model: 'sonnet', max_tokens: 5, messages: [{ role: 'user' as const, content: 'x' }] };
    const error = stream
      ? await anthropic.messages.stream(request).finalMessage().catch((e: unknown) => e)
      : await anthropic.messages.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    await eventually(() => gw.tracker.activeCount === 0);
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: errorType });
  });

  it('refuses a non-streaming upstream answer over UPSTREAM_RESPONSE_LIMIT_BYTES with 502 upstream_error', async () => {
    await boot({ UPSTREAM_RESPONSE_LIMIT_BYTES: '2000' });
    gw.fake.script({ text: 'x'.repeat(5000), usage: { input: 1, output: 1 } });
    const error = await anthropic.messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    await eventually(() => gw.tracker.activeCount === 0);
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'upstream_error', error: 'The upstream response body is larger than 2000 bytes' });
  });

  it('aborts the upstream at once when the client leaves mid-stream, and records client_disconnect', async () => {
    await boot({ STREAMING_READ_TIMEOUT_SECONDS: '30' });
    gw.fake.script({ fault: 'stall-mid-stream' });
    const controller = new AbortController();
    const stream = anthropic.messages.stream({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
    stream.on('error', () => undefined);
    stream.on('abort', () => undefined);
    const settled = stream.done().catch(() => undefined);
    await new Promise<void>((resolve) => stream.on('streamEvent', () => resolve()));
    const index = gw.fake.requests.length - 1;
    controller.abort();
    await settled;
    await gw.fake.closed(index);
    await eventually(() => gw.tracker.activeCount === 0);
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'client_disconnect' });
  });
});

describe('bad input', () => {
  async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const res = await fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, body: await res.json() };
  }

  it('answers in each API\'s own error format and still counts the request', async () => {
    await boot({ REQUEST_BODY_LIMIT_BYTES: '2048' });
    const cases = [
      ['/v1/messages', '{not json', 400],
      ['/v1/messages', '{"messages":[]}', 400],
      ['/v1/messages', '{"model":"sonnet"}', 400],
      ['/v1/messages', JSON.stringify({ model: 'sonnet', messages: [{ role: 'user', content: 'x'.repeat(4096) }] }), 413],
      ['/v1/chat/completions', '[1,2]', 400],
      ['/v1/chat/completions', '{"model":"nosuch:gpt","messages":[]}', 404],
    ] as const;
    for (const [path, body, status] of cases) {
      const res = await post(path, body);
      expect(res.status).toBe(status);
      if (path === '/v1/messages') expect(res.body).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
      else expect(res.body).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } });
    }
    const unknownProvider = await post('/v1/chat/completions', '{"model":"nosuch:gpt","messages":[]}');
    expect(unknownProvider.body.error.message).toContain('anthropic');
    expect(unknownProvider.body.error.message).toContain('openai');
    expect((await fetch(`${gw.url}/v1/unknown`)).status).toBe(404);
    await eventually(() => gw.tracker.activeCount === 0);
    const doc = await gw.totals();
    expect(doc.summary.total_requests).toBe(7);
    expect(doc.summary.total_errors).toBe(7);
    const logs = (await (await fetch(`${gw.url}/metrics/logs`)).json()) as any;
    expect(logs.errors.every((e: any) => e.error_type === 'bad_request')).toBe(true);
    expect((await fetch(`${gw.url}/health`)).status).toBe(200);
  });

  it('guards /v1 with PROXY_API_KEY and never forwards the client key', async () => {
    await boot({ PROXY_API_KEY: 'proxy-secret-key' });
    const denied = await post('/v1/messages', '{"model":"sonnet","max_tokens":5,"messages":[]}');
    expect(denied.status).toBe(401);
    expect(denied.body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    gw.fake.script({ usage: { input: 1, output: 1 } });
    const client = new Anthropic({ apiKey: 'proxy-secret-key', baseURL: gw.url, maxRetries: 0 });
    await client.messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(gw.fake.requests.at(-1)!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(JSON.stringify(gw.fake.requests.at(-1)!.headers)).not.toContain('proxy-secret-key');
  });
});

describe('concurrency', () => {
  it('leaves no active request and exact totals after 120 concurrent mixed requests', async () => {
    await boot();
    gw.fake.script((req) => ({ usage: { input: 10, output: req.body.stream ? 3 : 2, cacheRead: 1 }, chunkDelayMs: req.index % 3 }));
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 120; i++) {
      const stream = i % 2 === 0;
      if (i % 4 < 2) {
        const req = { model: 'sonnet', max_tokens: 5, messages: [{ role: 'user' as const, content: `n${i}` }] };
        jobs.push(stream ? anthropic.messages.stream(req).finalMessage() : anthropic.messages.create(req));
      } else {
        const req = { model: 'openai:gpt-4o', messages: [{ role: 'user' as const, content: `n${i}` }] };
        jobs.push(stream ? openai.chat.completions.create({ ...req, stream: true }).then(async (s) => { for await (const _ of s); }) : openai.chat.completions.create(req));
      }
    }
    await Promise.all(jobs);
    await eventually(() => gw.tracker.activeCount === 0);
    const doc = await gw.totals();
    expect(doc.summary).toMatchObject({ total_requests: 120, total_errors: 0, active_requests: 0, total_output_tokens: 60 * 3 + 60 * 2, total_cache_read_tokens: 120 });
    expect(doc.summary.total_input_tokens).toBe(120 * 10);
  });
});
