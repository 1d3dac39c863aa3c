import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import type { Script } from '../fakes/fake-upstream';
import { parseExposition, sumOf } from '../support/prom-text';
import { eventually } from '../support/sse-client';

const OPENAI_KEY = 'sk-upstream-openai-secret-0002';
const WEATHER = { city: 'Paris' };

const gw = useGateway((fake) => ({
  OPENAI_API_KEY: OPENAI_KEY,
  OPENAI_BASE_URL: `${fake.url}/v1`,
  OPENAI_ALIAS_CODEX: 'gpt-5-codex',
  ANTHROPIC_API_KEY: 'sk-ant-upstream-secret-0001',
  ANTHROPIC_BASE_URL: fake.url,
  VDM_DEFAULT_PROVIDER: 'openai',
  STREAMING_READ_TIMEOUT_SECONDS: '5',
}));
let openai: OpenAI;

async function boot(extra: Record<string, string> = {}): Promise<void> {
  await gw.boot(extra);
  openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
}

/** A history with a tool call the model made and its output: 2 messages, 1 tool use, 1 tool result. */
const TOOL_HISTORY: OpenAI.Responses.ResponseInputItem[] = [
  { role: 'user', content: 'Weather in Paris?' },
  { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: JSON.stringify(WEATHER) },
  { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
  { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'And tomorrow?' }] },
];

describe('POST /v1/responses', () => {
  it('passes a non-streaming call through by alias and accounts tokens, cache and reasoning, tool calls and input items', async () => {
    await boot();
    gw.fake.script({ text: 'Sunny.', toolCalls: [{ name: 'get_weather', input: WEATHER }], usage: { input: 30, output: 20, cacheRead: 8, reasoning: 12 } });
    const response = await openai.responses.create({ model: 'codex', instructions: 'Be brief.', input: TOOL_HISTORY, store: false, previous_response_id: 'resp_prev' });
    expect(response.model).toBe('codex');
    expect(response.output_text).toBe('Sunny.');
    const upstream = gw.fake.requests.at(-1)!;
    expect(upstream.path).toBe('/v1/responses');
    expect(upstream.body).toMatchObject({ model: 'gpt-5-codex', store: false, previous_response_id: 'resp_prev', instructions: 'Be brief.' });
    expect(upstream.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({
      api: 'openai_responses',
      provider: 'openai',
      model: 'gpt-5-codex',
      requested_model: 'codex',
      status: 'ok',
      input_tokens: 30,
      cache_read_tokens: 8,
      output_tokens: 20,
      reasoning_tokens: 12,
      tool_call_count: 1,
      tool_use_count: 1,
      tool_result_count: 1,
    });
    const section = (await gw.totals()).providers.openai.models['gpt-5-codex'].non_streaming;
    expect(section).toMatchObject({ requests: 1, input_tokens: 30, reasoning_tokens: 12, tool_calls: 1, tool_uses: 1, tool_results: 1 });
  });

  it('counts messages from the input items and instructions', async () => {
    await boot();
    gw.fake.script({ text: 'ok' });
    await openai.responses.create({ model: 'openai:gpt-5', instructions: 'x', input: TOOL_HISTORY });
    await eventually(() => gw.tracker.activeCount === 0);
    const row = gw.tracker.recentTraces(1)[0];
    expect(row.api).toBe('openai_responses');
    await openai.responses.create({ model: 'openai:gpt-5', input: 'hello' });
    const section = (await gw.totals()).providers.openai.models['gpt-5'].total;
    expect(section.requests).toBe(2);
  });

  it('streams through responses.stream().finalResponse() unchanged but for the alias, with TTFT and usage', async () => {
    await boot();
    gw.fake.script({ text: 'Hello there.', toolCalls: [{ name: 'get_weather', input: WEATHER }], usage: { input: 40, output: 15, cacheRead: 10, reasoning: 5 } });
    const stream = openai.responses.stream({ model: 'codex', input: 'hi', tools: [{ type: 'function', name: 'get_weather', parameters: {}, strict: false }] });
    const types: string[] = [];
    stream.on('event', (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(final.model).toBe('codex');
    expect(final.output_text).toBe('Hello there.');
    expect(final.output.find((item) => item.type === 'function_call')).toMatchObject({ name: 'get_weather', arguments: JSON.stringify(WEATHER) });
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');

    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({ api: 'openai_responses', is_streaming: true, status: 'ok', input_tokens: 40, cache_read_tokens: 10, output_tokens: 15, reasoning_tokens: 5, tool_call_count: 1 });
    expect(trace.ttft_ms).not.toBeNull();
    const section = (await gw.totals()).providers.openai.models['gpt-5-codex'].streaming;
    expect(section).toMatchObject({ requests: 1, errors: 0, output_tokens: 15, reasoning_tokens: 5, tool_calls: 1 });
  });

  it('forwards openai-beta and relays the upstream answer headers', async () => {
    await boot();
    gw.fake.script({ text: 'ok' });
    const client = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'openai-beta': 'responses=experimental' } });
    await client.responses.create({ model: 'openai:gpt-5', input: 'hi' });
    expect(gw.fake.requests.at(-1)!.headers['openai-beta']).toBe('responses=experimental');
  });

  it('counts response.incomplete as a success and the client keeps its reason', async () => {
    await boot();
    gw.fake.script({ incompleteReason: 'max_output_tokens', usage: { input: 5, output: 64 } });
    const final = await openai.responses.stream({ model: 'openai:gpt-5', input: 'hi', max_output_tokens: 64 }).finalResponse();
    expect(final).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(await gw.lastTrace()).toMatchObject({ status: 'ok', error_type: null, output_tokens: 64 });
    const body = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi' });
    expect(body.status).toBe('incomplete');
    expect(await gw.lastTrace()).toMatchObject({ status: 'ok', is_streaming: false });
  });

  it.each<[string, Script, string]>([
    ['response.failed with server_error', { failedCode: 'server_error', errorMessage: 'The model crashed' }, 'upstream_error'],
    ['response.failed with rate_limit_exceeded', { failedCode: 'rate_limit_exceeded', errorMessage: 'slow down' }, 'rate_limit'],
    ['an error event', { fault: 'error-event-mid-stream', errorCode: 'server_error', errorMessage: 'Overloaded' }, 'upstream_error'],
    ['an error event with insufficient_quota', { fault: 'error-event-mid-stream', errorCode: 'insufficient_quota', errorMessage: 'quota' }, 'rate_limit'],
    ['a stream without a terminal event', { fault: 'truncated-json' }, 'streaming_error'],
    ['a malformed event', { fault: 'malformed-sse' }, 'streaming_error'],
    ['a reset mid-stream', { fault: 'reset-mid-stream' }, 'streaming_error'],
  ])('records %s in a stream as %s', async (_label, script, errorType) => {
    await boot();
    gw.fake.script({ ...script, usage: { input: 9, output: 3 } });
    const stream = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', stream: true });
    await (async () => {
      for await (const _event of stream) void _event;
    })().catch(() => undefined);
    const trace = await gw.lastTrace();
    expect(trace).toMatchObject({ api: 'openai_responses', status: 'error', error_type: errorType });
    if (script.failedCode !== undefined) expect(trace).toMatchObject({ input_tokens: 9, output_tokens: 3 });
  });

  it('ends a stream whose upstream failed mid-way with the Responses API error event', async () => {
    await boot();
    gw.fake.script({ fault: 'reset-mid-stream' });
    const seen: { type: string; code?: string }[] = [];
    const stream = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', stream: true });
    for await (const event of stream) seen.push(event as { type: string; code?: string });
    expect(seen[0].type).toBe('response.created');
    expect(seen.at(-1)).toMatchObject({ type: 'error', code: expect.any(String) });
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'streaming_error' });
  });

  it('records a non-streaming response.failed body as its error category', async () => {
    await boot();
    gw.fake.script({ failedCode: 'server_error', errorMessage: 'The model crashed' });
    const body = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi' });
    expect(body.status).toBe('failed');
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'upstream_error' });
  });

  it.each<[number, string, string]>([
    [400, 'bad_request', 'BadRequestError'],
    [401, 'auth_error', 'AuthenticationError'],
    [429, 'rate_limit', 'RateLimitError'],
    [500, 'upstream_http_error', 'InternalServerError'],
  ])('passes an upstream %i through to the SDK and records %s', async (status, errorType, errorClass) => {
    await boot();
    gw.fake.script({ status });
    const error = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', stream: true }).catch((e: unknown) => e);
    expect((error as Error).constructor.name).toBe(errorClass);
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_responses', status: 'error', error_type: errorType });
  });

  it('aborts the upstream when the client leaves mid-stream, records client_disconnect and leaves nothing active', async () => {
    await boot();
    gw.fake.script({ fault: 'stall-mid-stream' });
    const stream = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', stream: true });
    const index = gw.fake.requests.length - 1;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') break;
    }
    await gw.fake.closed(index);
    expect(gw.fake.requests[index].aborted).toBe(true);
    expect(await gw.lastTrace()).toMatchObject({ status: 'error', error_type: 'client_disconnect', api: 'openai_responses' });
    expect(gw.tracker.activeCount).toBe(0);
  });

  it('shows an in-flight stream with its progress as the deltas come', async () => {
    await boot();
    gw.fake.script({ fault: 'stall-mid-stream', text: 'Partial output here' });
    const stream = await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', stream: true });
    for await (const event of stream) {
      if (event.type !== 'response.output_text.delta') continue;
      await eventually(() => {
        const rows = gw.tracker.activeSnapshot();
        return rows.length === 1 && rows[0].output_chars > 0 && rows[0].resolved_model === 'gpt-5' && rows[0].api === 'openai_responses';
      });
      break;
    }
    await eventually(() => gw.tracker.activeCount === 0);
  });

  it('refuses an anthropic-format provider with a clear 400 in the OpenAI format, accounted', async () => {
    await boot();
    const error = (await openai.responses.create({ model: 'anthropic:claude-sonnet-4-5', input: 'hi' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/conversion .*not supported/i);
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_responses', status: 'error', error_type: 'bad_request' });
    expect(gw.fake.requests.filter((r) => r.endpoint === 'messages')).toHaveLength(0);
  });

  it('refuses a background response with a clear 400: its later retrieval is not carried', async () => {
    await boot();
    const error = (await openai.responses.create({ model: 'openai:gpt-5', input: 'hi', background: true }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/background/);
    expect(gw.fake.requests.filter((r) => r.endpoint === 'responses' && r.body.background === true)).toHaveLength(0);
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_responses', error_type: 'bad_request' });
  });

  it.each([['the string "true"', 'true'], ['the number 1', 1], ['the string "1"', '1'], ['the string "false"', 'false'], ['an object', {}]])(
    'refuses background given as %s with the same 400, accounted alike',
    async (_name, background) => {
      await boot();
      const sent = gw.fake.requests.length;
      const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai:gpt-5', input: 'hi', background }) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/background/) });
      expect(gw.fake.requests).toHaveLength(sent);
      expect(await gw.lastTrace()).toMatchObject({ api: 'openai_responses', status: 'error', error_type: 'bad_request' });
    },
  );

  it.each([false, null])('passes background: %s on', async (background) => {
    await boot();
    gw.fake.script({ text: 'ok', usage: { input: 3, output: 1 } });
    const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai:gpt-5', input: 'hi', background }) });
    expect(res.status).toBe(200);
    await res.text();
    expect(gw.fake.requests.filter((r) => r.endpoint === 'responses').at(-1)!.body.background).toBe(background);
  });

  it('answers a body without a model or with a non-boolean stream with a 400', async () => {
    await boot();
    const noModel = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":"hi"}' });
    expect(noModel.status).toBe(400);
    expect(((await noModel.json()) as any).error.type).toBe('invalid_request_error');
    const badStream = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"gpt-5","input":"hi","stream":"yes"}' });
    expect(badStream.status).toBe(400);
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_responses', error_type: 'bad_request' });
  });
});

describe('POST /v1/embeddings', () => {
  it('passes embeddings.create through and accounts usage.prompt_tokens as input tokens', async () => {
    await boot();
    gw.fake.script({ usage: { input: 17, output: 0 } });
    const result = await openai.embeddings.create({ model: 'openai:text-embedding-3-small', input: ['a', 'b'] });
    expect(result.data).toHaveLength(2);
    expect(result.model).toBe('text-embedding-3-small');
    expect(gw.fake.requests.at(-1)!.path).toBe('/v1/embeddings');
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_embeddings', status: 'ok', input_tokens: 17, output_tokens: 0, model: 'text-embedding-3-small' });
  });

  it('records an upstream error', async () => {
    await boot();
    gw.fake.script({ status: 429 });
    await expect(openai.embeddings.create({ model: 'openai:text-embedding-3-small', input: 'a' })).rejects.toThrow();
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_embeddings', error_type: 'rate_limit' });
  });
});

describe('api and reasoning tokens on the other APIs', () => {
  it('records api and Chat Completions reasoning tokens, in traces, totals and Prometheus', async () => {
    await boot();
    gw.fake.script({ text: 'ok', usage: { input: 10, output: 30, reasoning: 20 } });
    await openai.chat.completions.create({ model: 'openai:o4-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(await gw.lastTrace()).toMatchObject({ api: 'openai_chat', reasoning_tokens: 20, output_tokens: 30 });
    const doc = await gw.totals();
    expect(doc.summary.total_reasoning_tokens).toBe(20);
    expect(doc.providers.openai.models['o4-mini'].total.reasoning_tokens).toBe(20);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(sumOf(parseExposition(text), 'vdm_tokens_total', { model: 'o4-mini', token_type: 'reasoning' })).toBe(20);
    expect(text).toMatch(/gen_ai_client_token_usage_sum\{provider="openai",token_type="reasoning"\} 20/);
    expect(text).toMatch(/vdm_requests_total\{[^}]*api="openai_chat"[^}]*\} 1/);
  });

  it('answers GET /v1/models in the shape the OpenAI SDK reads', async () => {
    await boot();
    const models = await openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    for (const model of models.data) expect(model).toMatchObject({ object: 'model', id: expect.any(String), owned_by: expect.any(String) });
    const one = await openai.models.retrieve('openai:codex');
    expect(one.id).toBe('openai:codex');
  });
});
