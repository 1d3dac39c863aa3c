import type { Readable } from 'node:stream';
import { Test, type TestingModule } from '@nestjs/testing';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeConfig, ManualClock } from '../../test/support/factories';
import { PassThroughError } from '../common/upstream-http.error';
import { APP_CONFIG } from '../config/app-config';
import type { ClientApi } from '../core/api';
import { Redactor } from '../core/redact';
import { LimitsService } from '../limits/limits.service';
import type { CountTokensCall } from '../metrics/count-tokens';
import { CLOCK, TrackerService } from '../metrics/tracker.service';
import { ProviderRegistry } from './provider-registry.service';
import { ProxyService } from './proxy.service';
import { RequestLifetime, type ProxyRequestContext } from './request/request-orchestrator.interceptor';
import { UPSTREAM_DISPATCHER, UpstreamClient } from './upstream/upstream-client';

const UPSTREAM = 'http://upstream.test';
const OPENAI_KEY = 'sk-openai-provider-000222';
const ANTHROPIC_KEY = 'sk-ant-provider-000111';
const JSON_HEADERS = { 'content-type': 'application/json' };

const chatAnswer = (content: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
});

/** ProxyService in Nest's testing module: the real registry, client, tracker and redactor; undici's MockAgent is the upstream. */
describe(ProxyService.name, () => {
  let upstream: MockAgent;
  let moduleRef: TestingModule;
  let sut: ProxyService;
  let tracker: TrackerService;

  beforeEach(async () => {
    upstream = new MockAgent();
    upstream.disableNetConnect();
    const config = makeConfig({
      OPENAI_API_KEY: OPENAI_KEY,
      OPENAI_BASE_URL: `${UPSTREAM}/v1`,
      OPENAI_ALIAS_FAST: 'gpt-4o-mini',
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: UPSTREAM,
      VDM_DEFAULT_PROVIDER: 'openai',
    });
    moduleRef = await Test.createTestingModule({
      providers: [
        ProxyService,
        ProviderRegistry,
        UpstreamClient,
        TrackerService,
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: new ManualClock() },
        { provide: Redactor, useValue: new Redactor([OPENAI_KEY, ANTHROPIC_KEY]) },
        { provide: UPSTREAM_DISPATCHER, useValue: upstream },
        // No budgets or rate limits configured: the service's own spec covers them.
        { provide: LimitsService, useValue: { enabled: false } },
      ],
    }).compile();
    sut = moduleRef.get(ProxyService);
    tracker = moduleRef.get(TrackerService);
  });

  afterEach(async () => {
    await moduleRef.close();
    await upstream.close();
  });

  function call(api: ClientApi, requestedModel: string): ProxyRequestContext {
    return { metrics: tracker.begin({ requestId: `r-${api}`, requestedModel, api }), lifetime: new RequestLifetime(), setHeaders: () => undefined };
  }

  it('sends a chat call to its provider with the provider key, answers under the alias and reports usage to the record', async () => {
    let sent: { headers: Record<string, string>; body: string } | undefined;
    upstream
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(200, (opts) => {
        sent = { headers: opts.headers as Record<string, string>, body: typeof opts.body === 'string' ? opts.body : '' };
        return chatAnswer('Hello');
      }, { headers: JSON_HEADERS });
    const ctx = call('openai_chat', 'fast');

    const answer = await sut.proxy('openai_chat', { model: 'fast', messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': 'client-key' }, ctx);

    expect(sent?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(JSON.parse(sent!.body)).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body as string)).toMatchObject({ model: 'fast', choices: [{ message: { content: 'Hello' } }] });
    ctx.metrics.finalize(200);
    expect(ctx.metrics.record).toMatchObject({ provider: 'openai', resolvedModel: 'gpt-4o-mini', inputTokens: 12, outputTokens: 3 });
  });

  it('relays a stream as a readable body of server-sent events, counting output as it passes', async () => {
    const events = [
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] })}\n\n`,
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } })}\n\n`,
      'data: [DONE]\n\n',
    ];
    upstream
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(200, events.join(''), { headers: { 'content-type': 'text/event-stream' } });
    const ctx = call('openai_chat', 'fast');

    const answer = await sut.proxy('openai_chat', { model: 'fast', stream: true, messages: [{ role: 'user', content: 'hi' }] }, {}, ctx);

    expect(answer.contentType).toMatch(/^text\/event-stream/);
    const chunks: string[] = [];
    for await (const chunk of answer.body as Readable) chunks.push(String(chunk));
    const text = chunks.join('');
    expect(text).toContain('"model":"fast"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(ctx.metrics.record).toMatchObject({ inputTokens: 4, outputTokens: 1 });
  });

  it('passes an upstream error on in its own status, classified, with the provider key masked', async () => {
    upstream
      .get(UPSTREAM)
      .intercept({ path: '/v1/chat/completions', method: 'POST' })
      .reply(429, { error: { message: `slow down, ${OPENAI_KEY}`, type: 'rate_limit_error' } }, { headers: JSON_HEADERS });

    const error: unknown = await sut.proxy('openai_chat', { model: 'fast', messages: [] }, {}, call('openai_chat', 'fast')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(PassThroughError);
    expect(error).toMatchObject({ status: 429, errorType: 'rate_limit' });
    expect((error as PassThroughError).body).not.toContain(OPENAI_KEY);
  });

  it('refuses a redirect with its catalogue code, without following it', async () => {
    upstream
      .get(UPSTREAM)
      .intercept({ path: '/v1/messages', method: 'POST' })
      .reply(307, '', { headers: { location: 'http://elsewhere.test/v1/messages' } });

    const error: unknown = await sut
      .proxy('anthropic_messages', { model: 'anthropic:claude-x', max_tokens: 5, messages: [] }, {}, call('anthropic_messages', 'anthropic:claude-x'))
      .catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'VDM_UPSTREAM_REDIRECT' });
  });

  it('refuses a bad body before any upstream call, with its catalogue code', async () => {
    const error: unknown = await sut.proxy('openai_chat', { model: 'fast' }, {}, call('openai_chat', 'fast')).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VDM_MESSAGES_REQUIRED', statusCode: 400 });
    // No interceptor was set: a call that reached the MockAgent would have failed as a network error instead.
    upstream.assertNoPendingInterceptors();
  });

  it('asks the provider for count_tokens where it speaks Anthropic, and estimates where it does not', async () => {
    upstream
      .get(UPSTREAM)
      .intercept({ path: '/v1/messages/count_tokens', method: 'POST' })
      .reply(200, { input_tokens: 42 }, { headers: JSON_HEADERS });
    const outcomes: string[] = [];
    const counted: CountTokensCall = {
      routed: (provider) => void outcomes.push(`routed ${provider}`),
      finish: (outcome) => void outcomes.push(outcome),
    };

    const asked = await sut.countTokens({ model: 'anthropic:claude-x', messages: [{ role: 'user', content: 'hi' }] }, {}, counted);
    const estimated = await sut.countTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello there' }] }, {}, counted);

    expect(JSON.parse(asked.body as string)).toEqual({ input_tokens: 42 });
    expect(JSON.parse(estimated.body as string)).toEqual({ input_tokens: expect.any(Number) });
    expect(outcomes).toEqual(['routed anthropic', 'ok', 'routed openai', 'ok']);
  });
});
