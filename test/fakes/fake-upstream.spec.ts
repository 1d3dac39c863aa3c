import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import * as http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TEXT, FakeUpstream } from './fake-upstream';

const WEATHER_INPUT = { city: 'Paris', units: 'celsius', days: [1, 2, 3], nested: { deep: true } };

/** Raw HTTP exchange, bypassing SDKs, to look at exact wire bytes. */
function rawPost(
  url: string,
  path: string,
  body: unknown,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('FakeUpstream', () => {
  let fake: FakeUpstream;
  let anthropic: Anthropic;
  let openai: OpenAI;

  beforeEach(async () => {
    fake = await FakeUpstream.start();
    anthropic = new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 });
    openai = new OpenAI({ apiKey: 'test', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  });

  afterEach(async () => {
    await fake.close();
    expect(fake.openConnections()).toBe(0);
  });

  describe('Anthropic Messages', () => {
    it('answers messages.create with a real Message and records the request', async () => {
      fake.script({ text: 'Bonjour!', usage: { input: 42, output: 7, cacheRead: 3, cacheCreation: 2 } });
      const {
        data: msg,
        response,
        request_id,
      } = await anthropic.messages
        .create({ model: 'claude-test-1', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();

      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.headers.get('request-id')).toMatch(/^req_/);
      expect(request_id).toBe(response.headers.get('request-id'));
      expect(msg.id).toMatch(/^msg_/);
      expect(msg).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: 'claude-test-1',
        content: [{ type: 'text', text: 'Bonjour!' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: 42,
          output_tokens: 7,
          cache_read_input_tokens: 3,
          cache_creation_input_tokens: 2,
        },
      });

      expect(fake.requests).toHaveLength(1);
      const rec = fake.requests[0];
      expect(rec).toMatchObject({
        protocol: 'anthropic',
        endpoint: 'messages',
        method: 'POST',
        path: '/v1/messages',
        aborted: false,
      });
      // @anthropic-ai/sdk 1.x sends the API key as a bearer token rather than x-api-key.
      expect(rec.headers['x-api-key'] ?? rec.headers.authorization).toMatch(/^(Bearer )?test$/);
      expect(rec.headers['anthropic-version']).toBeTypeOf('string');
      expect(rec.body.model).toBe('claude-test-1');
      expect(rec.body.messages).toEqual([{ role: 'user', content: 'hi' }]);
    });

    it('streams a tool call that messages.stream().finalMessage() assembles, with usage', async () => {
      fake.script({
        text: 'Let me check the weather.',
        toolCalls: [{ name: 'get_weather', input: WEATHER_INPUT }],
        usage: { input: 100, output: 30, cacheRead: 50, cacheCreation: 5 },
      });
      const stream = anthropic.messages.stream({
        model: 'claude-test-2',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }],
      });
      const eventTypes: string[] = [];
      let jsonPieces = 0;
      stream.on('streamEvent', (event) => {
        eventTypes.push(event.type);
        if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') jsonPieces++;
      });
      const msg = await stream.finalMessage();

      expect(msg.model).toBe('claude-test-2');
      expect(msg.stop_reason).toBe('tool_use');
      expect(msg.content).toHaveLength(2);
      expect(msg.content[0]).toEqual({ type: 'text', text: 'Let me check the weather.' });
      const tool = msg.content[1];
      expect(tool.type).toBe('tool_use');
      if (tool.type !== 'tool_use') throw new Error('expected tool_use');
      expect(tool.id).toMatch(/^toolu_/);
      expect(tool.name).toBe('get_weather');
      expect(tool.input).toEqual(WEATHER_INPUT);
      expect(jsonPieces).toBeGreaterThan(2);
      expect(msg.usage).toMatchObject({
        input_tokens: 100,
        output_tokens: 30,
        cache_read_input_tokens: 50,
        cache_creation_input_tokens: 5,
      });

      expect(eventTypes[0]).toBe('message_start');
      expect(eventTypes.slice(-2)).toEqual(['message_delta', 'message_stop']);
      expect(eventTypes.filter((t) => t === 'content_block_start')).toHaveLength(2);
      expect(eventTypes.filter((t) => t === 'content_block_stop')).toHaveLength(2);
      expect(fake.requests[0].body.stream).toBe(true);
    });

    it('puts input/cache usage in message_start, output in message_delta, and pings, on the wire', async () => {
      fake.script({ usage: { input: 9, output: 4, cacheRead: 1 } });
      const res = await rawPost(fake.url, '/v1/messages', {
        model: 'm',
        max_tokens: 5,
        stream: true,
        messages: [],
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(res.headers['request-id']).toMatch(/^req_/);
      const blocks = res.text.split('\n\n').filter((b) => b.length > 0);
      const events = blocks.map((block) => {
        const match = /^event: (\S+)\ndata: (.*)$/.exec(block);
        if (!match) throw new Error(`bad SSE block: ${block}`);
        return { name: match[1], data: JSON.parse(match[2]) };
      });
      for (const e of events) expect(e.data.type).toBe(e.name);
      expect(events.map((e) => e.name)).toContain('ping');
      expect(events[0].data.message.usage).toMatchObject({
        input_tokens: 9,
        cache_read_input_tokens: 1,
        cache_creation_input_tokens: 0,
        output_tokens: 1,
      });
      const delta = events.find((e) => e.name === 'message_delta');
      expect(delta?.data).toEqual({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 4 },
      });
      const text = events
        .filter((e) => e.name === 'content_block_delta')
        .map((e) => e.data.delta.text as string)
        .join('');
      expect(text).toBe(DEFAULT_TEXT);
    });

    it('answers count_tokens and models.list', async () => {
      fake.script({ usage: { input: 1234, output: 0 } });
      const count = await anthropic.messages.countTokens({
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
      });
      expect(count.input_tokens).toBe(1234);
      const models = await anthropic.models.list();
      expect(models.data.map((m) => m.id)).toEqual(['fake-model-1', 'fake-model-2']);
      expect(fake.requests.map((r) => [r.protocol, r.endpoint])).toEqual([
        ['anthropic', 'count_tokens'],
        ['anthropic', 'models'],
      ]);
    });

    it('surfaces error statuses as the typed SDK errors', async () => {
      fake.enqueue(
        { status: 429, errorMessage: 'slow down', headers: { 'retry-after': '7' } },
        { status: 529 },
        { status: 401 },
        { status: 400, errorType: 'invalid_request_error', errorMessage: 'bad' },
      );
      const params = { model: 'm', max_tokens: 5, messages: [{ role: 'user' as const, content: 'x' }] };

      const rateLimited = await anthropic.messages.create(params).catch((e: unknown) => e);
      expect(rateLimited).toBeInstanceOf(Anthropic.RateLimitError);
      if (!(rateLimited instanceof Anthropic.RateLimitError)) throw new Error('unreachable');
      expect(rateLimited.status).toBe(429);
      expect(rateLimited.error).toMatchObject({
        type: 'error',
        error: { type: 'rate_limit_error', message: 'slow down' },
      });
      expect(rateLimited.requestID).toMatch(/^req_/);
      expect(rateLimited.headers?.get('retry-after')).toBe('7');

      const overloaded = await anthropic.messages.create(params).catch((e: unknown) => e);
      expect(overloaded).toBeInstanceOf(Anthropic.InternalServerError);
      expect(overloaded).toMatchObject({ status: 529, type: 'overloaded_error' });

      await expect(anthropic.messages.create(params)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
      await expect(anthropic.messages.create(params)).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    });

    it('emits an error event mid-stream that the SDK raises after partial content', async () => {
      fake.script({ fault: 'error-event-mid-stream' });
      const stream = anthropic.messages.stream({
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      });
      let text = '';
      stream.on('text', (delta) => {
        text += delta;
      });
      const err = await stream.finalMessage().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err).toMatchObject({
        type: 'overloaded_error',
        error: { error: { type: 'overloaded_error', message: 'Overloaded' } },
      });
      expect(text.length).toBeGreaterThan(0);
      expect(DEFAULT_TEXT.startsWith(text)).toBe(true);
    });
  });

  describe('OpenAI Chat Completions', () => {
    it('answers chat.completions.create with tool calls and usage', async () => {
      fake.script({
        toolCalls: [
          { name: 'get_weather', input: WEATHER_INPUT },
          { name: 'get_time', input: { tz: 'UTC' } },
        ],
        usage: { input: 20, output: 8, cacheRead: 12 },
      });
      const {
        data: completion,
        response,
        request_id,
      } = await openai.chat.completions
        .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();

      expect(response.headers.get('content-type')).toBe('application/json');
      expect(response.headers.get('x-request-id')).toMatch(/^req_/);
      expect(request_id).toBe(response.headers.get('x-request-id'));
      expect(completion.id).toMatch(/^chatcmpl-/);
      expect(completion.object).toBe('chat.completion');
      expect(completion.model).toBe('gpt-test');
      const choice = completion.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.content).toBeNull();
      const calls = choice.message.tool_calls ?? [];
      expect(calls).toHaveLength(2);
      const [first, second] = calls;
      if (first.type !== 'function' || second.type !== 'function')
        throw new Error('expected function tool calls');
      expect(first.id).toMatch(/^call_/);
      expect(first.function.name).toBe('get_weather');
      expect(JSON.parse(first.function.arguments)).toEqual(WEATHER_INPUT);
      expect(JSON.parse(second.function.arguments)).toEqual({ tz: 'UTC' });
      expect(completion.usage).toMatchObject({
        prompt_tokens: 32,
        completion_tokens: 8,
        total_tokens: 40,
        prompt_tokens_details: { cached_tokens: 12 },
      });
      expect(fake.requests[0]).toMatchObject({
        protocol: 'openai',
        endpoint: 'chat_completions',
        path: '/v1/chat/completions',
      });
      expect(fake.requests[0].headers.authorization).toBe('Bearer test');
    });

    it('streams text + tool calls split across chunks, with a usage chunk when include_usage is set', async () => {
      fake.script({
        text: 'Checking now.',
        toolCalls: [{ name: 'get_weather', input: WEATHER_INPUT }],
        usage: { input: 5, output: 6, cacheRead: 2 },
      });
      const { data: stream, response } = await openai.chat.completions
        .create({
          model: 'gpt-test',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
          stream_options: { include_usage: true },
        })
        .withResponse();
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');

      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);

      expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-test')).toBe(true);
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('Checking now.');
      const argPieces = chunks
        .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
        .map((t) => t.function?.arguments ?? '');
      expect(argPieces.filter((a) => a.length > 0).length).toBeGreaterThan(1);
      expect(JSON.parse(argPieces.join(''))).toEqual(WEATHER_INPUT);

      const finish = chunks.find((c) => c.choices[0]?.finish_reason);
      expect(finish?.choices[0].finish_reason).toBe('tool_calls');
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({
        prompt_tokens: 7,
        completion_tokens: 6,
        total_tokens: 13,
        prompt_tokens_details: { cached_tokens: 2 },
      });
      expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    });

    it('streams without a usage chunk when include_usage is not requested; the stream helper assembles tool calls', async () => {
      fake.script({ toolCalls: [{ name: 'lookup', input: { q: 'a "quoted" value', n: 3 } }] });
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      const stream = openai.chat.completions.stream({
        model: 'gpt-test',
        messages: [{ role: 'user', content: 'hi' }],
      });
      stream.on('chunk', (c) => chunks.push(c));
      const final = await stream.finalChatCompletion();

      expect(chunks.length).toBeGreaterThan(3);
      expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
      expect(final.usage).toBeUndefined();
      const call = final.choices[0].message.tool_calls?.[0];
      if (call?.type !== 'function') throw new Error('expected a function tool call');
      expect(call.function.name).toBe('lookup');
      expect(JSON.parse(call.function.arguments)).toEqual({ q: 'a "quoted" value', n: 3 });
      expect(final.choices[0].finish_reason).toBe('tool_calls');
      expect(fake.requests[0].body.stream).toBe(true);
    });

    it('ends the stream with data: [DONE] on the wire and serves /chat/completions without /v1', async () => {
      const res = await rawPost(fake.url, '/chat/completions', { model: 'x', stream: true, messages: [] });
      expect(res.status).toBe(200);
      expect(res.text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(res.text).not.toContain('"usage"');
      expect(fake.requests[0]).toMatchObject({ protocol: 'openai', path: '/chat/completions' });
    });

    it('surfaces error statuses as the typed SDK errors', async () => {
      fake.enqueue({ status: 429 }, { status: 401 }, { status: 500, errorMessage: 'boom' });
      const params = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] };

      const rateLimited = await openai.chat.completions.create(params).catch((e: unknown) => e);
      expect(rateLimited).toBeInstanceOf(OpenAI.RateLimitError);
      expect(rateLimited).toMatchObject({
        status: 429,
        code: 'rate_limit_exceeded',
        type: 'requests',
        param: null,
      });
      if (!(rateLimited instanceof OpenAI.RateLimitError)) throw new Error('unreachable');
      expect(rateLimited.requestID).toMatch(/^req_/);

      await expect(openai.chat.completions.create(params)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const serverError = await openai.chat.completions.create(params).catch((e: unknown) => e);
      expect(serverError).toBeInstanceOf(OpenAI.InternalServerError);
      expect(serverError).toMatchObject({
        status: 500,
        type: 'server_error',
        message: expect.stringContaining('boom'),
      });
    });

    it('emits an in-stream error object that the SDK raises', async () => {
      fake.script({ fault: 'error-event-mid-stream' });
      const stream = await openai.chat.completions.create({ model: 'm', messages: [], stream: true });
      let text = '';
      const err = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ type: 'server_error', message: expect.stringContaining('Overloaded') });
      expect(text.length).toBeGreaterThan(0);
    });

    it('lists models', async () => {
      const models = await openai.models.list();
      expect(models.data.map((m) => m.id)).toEqual(['fake-model-1', 'fake-model-2']);
      expect(fake.requests[0]).toMatchObject({ protocol: 'openai', endpoint: 'models', method: 'GET' });
    });
  });

  describe('OpenAI Responses API', () => {
    it('answers responses.create with a text message, a function call and usage with cached and reasoning tokens', async () => {
      fake.script({ text: 'Checking.', toolCalls: [{ name: 'get_weather', input: WEATHER_INPUT }], usage: { input: 30, output: 20, cacheRead: 8, reasoning: 12 } });
      const response = await openai.responses.create({ model: 'gpt-5', input: 'weather?', store: false });
      expect(response.object).toBe('response');
      expect(response.status).toBe('completed');
      expect(response.output_text).toBe('Checking.');
      const call = response.output.find((item) => item.type === 'function_call');
      expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
      expect(JSON.parse((call as { arguments: string }).arguments)).toEqual(WEATHER_INPUT);
      expect(response.output.map((item) => item.type)).toEqual(['reasoning', 'message', 'function_call']);
      expect(response.usage).toMatchObject({ input_tokens: 38, input_tokens_details: { cached_tokens: 8 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 12 } });
      expect((response as unknown as { store: boolean }).store).toBe(false);
      expect(fake.requests[0]).toMatchObject({ protocol: 'openai', endpoint: 'responses', path: '/v1/responses' });
    });

    it('streams the real event sequence, which responses.stream().finalResponse() assembles', async () => {
      fake.script({ text: 'Hello there friend.', toolCalls: [{ name: 'get_weather', input: WEATHER_INPUT }], usage: { input: 10, output: 9, reasoning: 4 } });
      const stream = openai.responses.stream({ model: 'gpt-5', input: 'hi' });
      const types: string[] = [];
      const deltas: string[] = [];
      const argumentDeltas: string[] = [];
      stream.on('event', (event) => types.push(event.type));
      stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
      stream.on('response.function_call_arguments.delta', (event) => argumentDeltas.push(event.delta));
      const final = await stream.finalResponse();
      expect(final.status).toBe('completed');
      expect(final.output_text).toBe('Hello there friend.');
      expect(deltas.join('')).toBe('Hello there friend.');
      expect(JSON.parse(argumentDeltas.join(''))).toEqual(WEATHER_INPUT);
      expect(final.usage?.output_tokens_details.reasoning_tokens).toBe(4);
      const unique = types.filter((type, i) => type !== types[i - 1]);
      expect(unique).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.output_item.done',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.output_item.added',
        'response.function_call_arguments.delta',
        'response.function_call_arguments.done',
        'response.output_item.done',
        'response.completed',
      ]);
      const seqs: number[] = [];
      const raw = await rawPost(fake.url, '/v1/responses', { model: 'gpt-5', input: 'hi', stream: true });
      for (const block of raw.text.split('\n\n').filter((b) => b.length > 0)) {
        const [eventLine, dataLine] = block.split('\n');
        const data = JSON.parse(dataLine.slice('data: '.length)) as { type: string; sequence_number: number };
        expect(eventLine).toBe(`event: ${data.type}`);
        seqs.push(data.sequence_number);
      }
      expect(seqs).toEqual(seqs.map((_, i) => i));
    });

    it('ends with response.incomplete and its reason, or response.failed with its error', async () => {
      fake.enqueue({ incompleteReason: 'max_output_tokens' }, { failedCode: 'server_error', errorMessage: 'boom' });
      const incomplete = await openai.responses.stream({ model: 'gpt-5', input: 'hi' }).finalResponse();
      expect(incomplete).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
      const events: string[] = [];
      const failed = openai.responses.stream({ model: 'gpt-5', input: 'hi' });
      failed.on('event', (event) => events.push(event.type));
      await failed.done().catch(() => undefined);
      expect(events.at(-1)).toBe('response.failed');
    });

    it('emits an error event mid-stream that the SDK raises', async () => {
      fake.script({ fault: 'error-event-mid-stream', errorCode: 'rate_limit_exceeded', errorMessage: 'slow down' });
      const stream = await openai.responses.create({ model: 'gpt-5', input: 'hi', stream: true });
      const seen: string[] = [];
      for await (const event of stream) seen.push(event.type);
      expect(seen.at(-1)).toBe('error');
      expect(seen).toContain('response.output_text.delta');
    });

    it('answers embeddings.create with usage.prompt_tokens', async () => {
      fake.script({ usage: { input: 7, output: 0 } });
      const result = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' });
      expect(result.data).toHaveLength(2);
      expect(result.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
      expect(fake.requests[0]).toMatchObject({ endpoint: 'embeddings' });
    });
  });

  describe('scripting', () => {
    it('consumes the queue in order, then falls back to the default (static or per-request function)', async () => {
      fake.script((req) => ({ text: `default for ${String(req.body.model)}` }));
      fake.enqueue({ text: 'first' }, { text: 'second' });
      const ask = async (model: string): Promise<string> => {
        const msg = await anthropic.messages.create({
          model,
          max_tokens: 5,
          messages: [{ role: 'user', content: 'x' }],
        });
        const block = msg.content[0];
        return block.type === 'text' ? block.text : '';
      };
      expect(await ask('a')).toBe('first');
      expect(await ask('b')).toBe('second');
      expect(await ask('c')).toBe('default for c');
      expect(await ask('d')).toBe('default for d');
    });

    it('holdUntil keeps a request in flight until released', async () => {
      let release!: () => void;
      fake.script({ holdUntil: new Promise<void>((r) => (release = r)), text: 'released' });
      const pending = openai.chat.completions.create({ model: 'm', messages: [] });
      await fake.waitForRequests(1);
      expect(fake.openConnections()).toBe(1);
      expect(fake.requests[0].aborted).toBe(false);
      release();
      const completion = await pending;
      expect(completion.choices[0].message.content).toBe('released');
    });

    it('chunkDelayMs trickles a stream that still assembles correctly', async () => {
      fake.script({ text: 'one two three', chunkDelayMs: 5 });
      const msg = await anthropic.messages
        .stream({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
        .finalMessage();
      expect(msg.content).toEqual([{ type: 'text', text: 'one two three' }]);
    });
  });

  describe('faults', () => {
    const anthropicParams = {
      model: 'm',
      max_tokens: 5,
      messages: [{ role: 'user' as const, content: 'x' }],
    };

    it('reset-before-headers surfaces as a connection error', async () => {
      fake.script({ fault: 'reset-before-headers' });
      await expect(anthropic.messages.create(anthropicParams)).rejects.toBeInstanceOf(
        Anthropic.APIConnectionError,
      );
      await expect(openai.chat.completions.create({ model: 'm', messages: [] })).rejects.toBeInstanceOf(
        OpenAI.APIConnectionError,
      );
      expect(fake.requests.every((r) => !r.aborted)).toBe(true);
    });

    it('reset-mid-stream breaks the stream after partial content', async () => {
      fake.script({ fault: 'reset-mid-stream' });
      const stream = anthropic.messages.stream(anthropicParams);
      let text = '';
      stream.on('text', (delta) => {
        text += delta;
      });
      await expect(stream.finalMessage()).rejects.toThrow();
      expect(text.length).toBeGreaterThan(0);
      await fake.closed(0);
      expect(fake.requests[0].aborted).toBe(false);
    });

    it('reset-after-headers answers 200 with an event stream, then resets before any body byte', async () => {
      fake.script({ fault: 'reset-after-headers' });
      const res = await fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...anthropicParams, stream: true }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await expect(res.text()).rejects.toThrow();
    });

    it('malformed-then-reset sends the first events, a malformed one, and resets at once', async () => {
      fake.script({ fault: 'malformed-then-reset' });
      const res = await fetch(`${fake.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [], stream: true }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      const ended = await (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return 'end';
          text += new TextDecoder().decode(value);
        }
      })().catch(() => 'reset');
      expect(ended).toBe('reset');
      expect(text).toContain('"content"');
      await fake.closed(0);
    });

    it('reset-mid-stream on a non-streaming request cuts the JSON body', async () => {
      fake.script({ fault: 'reset-mid-stream' });
      await expect(openai.chat.completions.create({ model: 'm', messages: [] })).rejects.toThrow();
    });

    it('malformed-sse makes the SDK fail to parse', async () => {
      fake.script({ fault: 'malformed-sse' });
      // The SDKs log the unparsable line before throwing; keep the test output clean.
      const quietAnthropic = new Anthropic({
        apiKey: 'test',
        baseURL: fake.url,
        maxRetries: 0,
        logLevel: 'off',
      });
      const quietOpenai = new OpenAI({
        apiKey: 'test',
        baseURL: `${fake.url}/v1`,
        maxRetries: 0,
        logLevel: 'off',
      });
      // MessageStream wraps the SyntaxError in an AnthropicError with the same message.
      await expect(quietAnthropic.messages.stream(anthropicParams).finalMessage()).rejects.toThrow(
        /in JSON at position/,
      );
      const stream = await quietOpenai.chat.completions.create({ model: 'm', messages: [], stream: true });
      await expect(
        (async () => {
          for await (const _chunk of stream) {
            // drain
          }
        })(),
      ).rejects.toBeInstanceOf(SyntaxError);
    });

    it('truncated-json sends a cleanly framed but cut JSON body', async () => {
      fake.script({ fault: 'truncated-json' });
      const res = await rawPost(fake.url, '/v1/messages', anthropicParams);
      expect(res.status).toBe(200);
      expect(res.headers['transfer-encoding']).toBe('chunked');
      expect(() => JSON.parse(res.text) as unknown).toThrow();
      expect(res.text.startsWith('{"id":"msg_')).toBe(true);
      await expect(anthropic.messages.create(anthropicParams)).rejects.toThrow();
    });

    it('stall-before-headers holds until the client aborts, and records the abort', async () => {
      fake.script({ fault: 'stall-before-headers' });
      const controller = new AbortController();
      const pending = anthropic.messages.create(anthropicParams, { signal: controller.signal });
      await fake.waitForRequests(1);
      controller.abort();
      await expect(pending).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
      await fake.closed(0);
      expect(fake.requests[0].aborted).toBe(true);
    });

    it('stall-mid-stream delivers the first content then holds until the client aborts', async () => {
      fake.script({ fault: 'stall-mid-stream' });
      const stream = await openai.chat.completions.create({ model: 'm', messages: [], stream: true });
      const received: string[] = [];
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) {
          received.push(content);
          break; // leaving the loop aborts the request
        }
      }
      expect(received).toHaveLength(1);
      await fake.closed(0);
      expect(fake.requests[0].aborted).toBe(true);
    });

    it('close() ends stalled exchanges without marking them as client aborts', async () => {
      fake.script({ fault: 'stall-mid-stream', chunkDelayMs: 60_000 });
      const stream = anthropic.messages.stream(anthropicParams);
      const outcome = stream.finalMessage().catch((e: unknown) => e);
      await fake.waitForRequests(1);
      await fake.close();
      expect(await outcome).toBeInstanceOf(Error);
      await fake.closed(0);
      expect(fake.requests[0].aborted).toBe(false);
      expect(fake.openConnections()).toBe(0);
    });
  });
});
