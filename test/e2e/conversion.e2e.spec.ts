import { createHash } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { beforeEach, describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import type { Script } from '../fakes/fake-upstream';
import { eventually } from '../support/sse-client';

const gw = useGateway((fake) => ({
  OPENAI_API_KEY: 'sk-openai-upstream',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  OPENAI_ALIAS_SONNET: 'gpt-4o',
  ANTHROPIC_API_KEY: 'sk-ant-upstream',
  ANTHROPIC_BASE_URL: fake.url,
  VDM_DEFAULT_PROVIDER: 'openai',
}));
let client: Anthropic;

beforeEach(async () => {
  await gw.boot();
  client = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
});

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const toolTurn: Anthropic.MessageParam[] = [
  { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
  {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Rome' } },
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
      { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: 'no data' }], is_error: true },
    ],
  },
];

const tools: Anthropic.Tool[] = [{ name: 'weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];

describe('Anthropic client, OpenAI-format provider', () => {
  it('converts the request: system, images, tool calls and results, tools, parameters', async () => {
    gw.fake.script({ text: 'Paris is sunny; Rome unknown.', usage: { input: 200, output: 12, cacheRead: 50 } });
    const message = await client.messages.create({
      model: 'sonnet',
      max_tokens: 300,
      system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      messages: toolTurn,
      tools,
      tool_choice: { type: 'auto' },
      // Older clients still send sampling parameters; the current SDK types no longer list them.
      ...({ temperature: 0.2 } as object),
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
    });
    const sent = gw.fake.requests.at(-1)!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-openai-upstream');
    expect(sent.body).toMatchObject({ model: 'gpt-4o', max_tokens: 300, temperature: 0.2, stop: ['END'], user: 'u-1', tool_choice: 'auto' });
    expect(sent.body.messages[0]).toEqual({ role: 'system', content: 'You are terse.' });
    expect(sent.body.messages[1].content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } });
    expect(sent.body.messages[2].tool_calls.map((c: any) => [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['call_1', 'weather', { city: 'Paris' }],
      ['call_2', 'weather', { city: 'Rome' }],
    ]);
    expect(sent.body.messages.slice(3).map((m: any) => [m.role, m.tool_call_id])).toEqual([['tool', 'call_1'], ['tool', 'call_2']]);
    expect(sent.body.tools[0]).toEqual({ type: 'function', function: { name: 'weather', description: 'Weather by city', parameters: tools[0].input_schema } });

    expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'sonnet', stop_reason: 'end_turn', content: [{ type: 'text', text: 'Paris is sunny; Rome unknown.' }] });
    expect(message.usage).toMatchObject({ input_tokens: 200, output_tokens: 12, cache_read_input_tokens: 50 });
    const m = (await gw.totals()).providers.openai.models['gpt-4o'];
    expect(m.non_streaming).toMatchObject({ requests: 1, input_tokens: 200, output_tokens: 12, cache_read_tokens: 50, tool_uses: 2, tool_results: 2 });
  });

  it("sends OpenAI at most 64 characters of the client's user, a stable digest of a longer one, and records it whole", async () => {
    // Claude Code's metadata.user_id: 150 characters.
    const long = JSON.stringify({ device_id: 'c'.repeat(64), account_uuid: '', session_id: '4f1c2b9e-7a3d-4e8f-9b21-0c6d5e4a3f12' });
    expect(long).toHaveLength(150);
    const digest = `vdm-${createHash('sha256').update(long).digest('base64url')}`;
    const exactly64 = 'u'.repeat(64);
    for (const userId of [long, long, exactly64]) {
      await client.messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], metadata: { user_id: userId } });
    }
    expect(gw.fake.requests.slice(-3).map((r) => r.body.user)).toEqual([digest, digest, exactly64]);
    const traces = ((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces;
    expect(traces[2]).toMatchObject({ user: 'c'.repeat(64), session: '4f1c2b9e-7a3d-4e8f-9b21-0c6d5e4a3f12' });
    // An end user's own id longer than 64 characters is kept in the record as sent.
    const other = `team-${'x'.repeat(95)}`;
    await client.messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], metadata: { user_id: other } });
    expect(gw.fake.requests.at(-1)!.body.user).toBe(`vdm-${createHash('sha256').update(other).digest('base64url')}`);
    expect(((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces[0].user).toBe(other);
  });

  it("carries Claude Code's system message inside messages to the upstream in place", async () => {
    // The Claude Agent SDK sends its environment block this way when the model is not a Claude model.
    const environment = `# Environment\nYou have been invoked in the following environment: \n - Primary working directory: /tmp/work\n${' - Platform: linux\n'.repeat(400)}`;
    const messages = [
      { role: 'user', content: [{ type: 'text', text: '<system-reminder>\nAttribution ...\n</system-reminder>' }] },
      { role: 'system', content: [{ type: 'text', text: environment }] },
      { role: 'user', content: [{ type: 'text', text: 'Say hi.' }] },
    ] as unknown as Anthropic.MessageParam[];
    await client.messages.stream({ model: 'sonnet', max_tokens: 50, system: [{ type: 'text', text: 'You are a Claude agent.' }], messages }).finalMessage();
    expect(gw.fake.requests.at(-1)!.body.messages).toEqual([
      { role: 'system', content: 'You are a Claude agent.' },
      { role: 'user', content: '<system-reminder>\nAttribution ...\n</system-reminder>' },
      { role: 'system', content: environment },
      { role: 'user', content: 'Say hi.' },
    ]);
  });

  it('refuses content it cannot carry with a 400 in the Anthropic format, accounted as bad_request, and sends nothing upstream', async () => {
    const before = gw.fake.requests.length;
    const error = await client.messages
      .create({
        model: 'sonnet',
        max_tokens: 50,
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'opaque' }, { type: 'text', text: 'a' }] },
          { role: 'user', content: 'next' },
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages\[1\]\.content\[0\]: a redacted_thinking block/) },
    });
    expect(gw.fake.requests.length).toBe(before);
    await eventually(() => gw.tracker.activeCount === 0);
    const trace = ((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces[0];
    expect(trace).toMatchObject({ status: 'error', error_type: 'bad_request', provider: 'openai' });
    expect((await gw.totals()).summary.total_requests).toBe(1);
  });

  it('streams parallel tool calls that the SDK assembles into the same message as the non-streaming answer', async () => {
    const script: Script = { text: 'Checking both.', toolCalls: [{ name: 'weather', input: { city: 'Oslo' } }, { name: 'weather', input: { city: 'Lima', units: 'C' } }], usage: { input: 40, output: 22, cacheRead: 8 } };
    gw.fake.enqueue(script, script);
    const request = { model: 'sonnet', max_tokens: 200, messages: toolTurn, tools };
    const plain = await client.messages.create(request);
    const streamed = await client.messages.stream(request).finalMessage();
    // parsed_output is added by the SDK's stream accumulator itself, not sent on the wire.
    const strip = (m: Anthropic.Message) => ({ ...m, id: undefined, parsed_output: undefined, content: m.content.map((b) => (b.type === 'tool_use' ? { ...b, id: undefined } : b)) });
    expect(strip(streamed)).toEqual(strip(plain));
    expect(streamed.stop_reason).toBe('tool_use');
    expect(streamed.content.filter((b) => b.type === 'tool_use').map((b) => (b).input)).toEqual([{ city: 'Oslo' }, { city: 'Lima', units: 'C' }]);
    expect(gw.fake.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });

    const m = (await gw.totals()).providers.openai.models['gpt-4o'];
    expect(m.streaming).toMatchObject({ requests: 1, input_tokens: 40, output_tokens: 22, cache_read_tokens: 8, tool_calls: 2 });
    expect(m.non_streaming).toMatchObject({ requests: 1, tool_calls: 2 });
    const trace = ((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces[0];
    expect(trace.ttft_ms).toBeGreaterThan(0);
  });

  it.each([
    ['length', 'max_tokens'],
    ['content_filter', 'refusal'],
    ['tool_calls', 'tool_use'],
  ])('maps finish_reason %s to stop_reason %s, streaming and not', async (finish, stop) => {
    const script: Script = finish === 'tool_calls' ? { toolCalls: [{ name: 'weather', input: {} }], stopReason: finish } : { stopReason: finish };
    gw.fake.enqueue(script, script);
    const request = { model: 'openai:gpt-4o', max_tokens: 10, messages: [{ role: 'user' as const, content: 'x' }] };
    expect((await client.messages.create(request)).stop_reason).toBe(stop);
    expect((await client.messages.stream(request).finalMessage()).stop_reason).toBe(stop);
  });

  it('turns an upstream error mid-stream into an Anthropic error event and records it', async () => {
    gw.fake.script({ fault: 'error-event-mid-stream' });
    const error = await client.messages.stream({ model: 'openai:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    await eventually(() => gw.tracker.activeCount === 0);
    const trace = ((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces[0];
    expect(trace).toMatchObject({ status: 'error', provider: 'openai' });
    expect(['upstream_error', 'api_error']).toContain(trace.error_type);
  });

  it.each([
    [429, Anthropic.RateLimitError, 'rate_limit'],
    [401, Anthropic.AuthenticationError, 'auth_error'],
    [500, Anthropic.InternalServerError, 'upstream_http_error'],
  ])('maps an upstream %i to the Anthropic error class and records %s', async (status, ErrorClass, errorType) => {
    gw.fake.script({ status, errorMessage: 'nope' });
    const error = await client.messages.create({ model: 'openai:gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { message: expect.stringContaining('nope') } });
    const trace = ((await (await fetch(`${gw.url}/metrics/logs`)).json()) as any).traces[0];
    expect(trace.error_type).toBe(errorType);
  });

  it('counts tokens: passed through to Anthropic providers, estimated for OpenAI ones, not counted as requests', async () => {
    gw.fake.script({ usage: { input: 1234, output: 0 } });
    const passed = await client.messages.countTokens({ model: 'anthropic:claude-x', messages: [{ role: 'user', content: 'hello there' }] });
    expect(passed.input_tokens).toBe(1234);
    expect(gw.fake.requests.at(-1)!.path).toBe('/v1/messages/count_tokens');
    const estimated = await client.messages.countTokens({ model: 'sonnet', messages: [{ role: 'user', content: 'hello there, how are you today?' }] });
    expect(estimated.input_tokens).toBeGreaterThan(5);
    expect(estimated.input_tokens).toBeLessThan(30);
    expect((await gw.totals()).summary.total_requests).toBe(0);
  });
});
