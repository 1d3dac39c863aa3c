import { Body, Controller, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeConfig, ManualClock } from '../../../test/support/factories';
import { eventually } from '../../../test/support/sse-client';
import { requestIdFor } from '../../app.factory';
import { GlobalExceptionFilter } from '../../common/global-exception.filter';
import { installJsonBodyParser } from '../../common/json-body';
import { APP_CONFIG } from '../../config/app-config';
import { GatewayErrors } from '../../core/errors';
import { Redactor } from '../../core/redact';
import { ProxyRoute } from '../../core/route.decorator';
import { CountTokensCounter } from '../../metrics/count-tokens';
import type { RequestRecord } from '../../metrics/model/request-record';
import { CLOCK, TrackerService } from '../../metrics/tracker.service';
import { ProxyContext, RequestOrchestrator, type ProxyRequestContext } from './request-orchestrator.interceptor';

const CLIENT_KEY = 'sk-client-own-key-3e8a51c0';

/** Handlers that answer, or fail the way the proxy path fails, on a proxied route. */
@Controller('v1')
class Handlers {
  @Post('chat/completions') @ProxyRoute('openai_chat') @HttpCode(200) @UseInterceptors(RequestOrchestrator)
  chat(@Body() body: { model: string; fail?: string }, @ProxyContext() call: ProxyRequestContext): unknown {
    call.metrics.route('openai', body.model);
    if (body.fail === 'gateway') throw new GatewayErrors.VDM_MESSAGES_REQUIRED();
    if (body.fail === 'unexpected') throw new Error(`socket hang up while sending ${CLIENT_KEY}`);
    call.metrics.usage({ inputTokens: 5, outputTokens: 2 });
    return { ok: true };
  }
}

/** The request orchestrator in Nest's testing module: one record per request, finalized once, failures classified. */
describe(RequestOrchestrator.name, () => {
  let app: NestFastifyApplication;
  let tracker: TrackerService;
  let url: string;
  const finished: RequestRecord[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [Handlers],
      providers: [
        RequestOrchestrator,
        TrackerService,
        CountTokensCounter,
        { provide: APP_CONFIG, useValue: makeConfig({ OPENAI_API_KEY: 'sk-provider', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000' }) },
        { provide: CLOCK, useValue: new ManualClock() },
        { provide: Redactor, useValue: new Redactor([]) },
      ],
    }).compile();
    // Request ids and the JSON parser as app.factory sets them.
    const adapter = new FastifyAdapter({ requestIdHeader: false, genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFor(req.headers['x-request-id']) });
    app = moduleRef.createNestApplication<NestFastifyApplication>(adapter, { logger: false, bodyParser: false });
    installJsonBodyParser(app.getHttpAdapter().getInstance());
    app.useGlobalFilters(new GlobalExceptionFilter(app.get(RequestOrchestrator), 1024 * 1024, app.get(CountTokensCounter)));
    tracker = app.get(TrackerService);
    tracker.finished$.subscribe((record) => finished.push({ ...record }));
    // A real loopback server: the record is finalized on the response's close, which needs a real socket.
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.getHttpServer().address();
    url = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}/v1/chat/completions` : '';
  });
  afterAll(async () => {
    await app.close();
  });

  const post = async (body: string, headers: Record<string, string> = {}): Promise<{ statusCode: number; headers: Headers }> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await res.arrayBuffer();
    // The record is finalized on the response's close, just after the client has read it.
    await eventually(() => tracker.activeCount === 0);
    return { statusCode: res.status, headers: res.headers };
  };
  const send = (payload: unknown, headers: Record<string, string> = {}) => post(JSON.stringify(payload), headers);

  it('finalizes an answered request once, with what the body and the handler said', async () => {
    finished.length = 0;
    const res = await send({ model: 'gpt-4o', stream: false, messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'req-ok-1' });
    expect(res.statusCode).toBe(200);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ requestId: 'req-ok-1', api: 'openai_chat', requestedModel: 'gpt-4o', provider: 'openai', inputTokens: 5, outputTokens: 2, isStreaming: false });
    expect(finished[0].errorType).toBeUndefined();
    expect(tracker.activeCount).toBe(0);
  });

  it('accounts a gateway error by its catalogue code\'s category, and an unexpected one masked, each once', async () => {
    finished.length = 0;
    expect((await send({ model: 'gpt-4o', fail: 'gateway' })).statusCode).toBe(400);
    expect((await send({ model: 'gpt-4o', fail: 'unexpected' }, { authorization: `Bearer ${CLIENT_KEY}` })).statusCode).toBe(500);
    expect(finished.map((r) => [r.errorType, r.error])).toEqual([
      ['bad_request', 'messages: an array is required'],
      ['unexpected_error', expect.not.stringContaining(CLIENT_KEY)],
    ]);
    expect(tracker.activeCount).toBe(0);
  });

  it('accounts a body refused before the handler (unparsable JSON) as bad_request, once', async () => {
    finished.length = 0;
    const res = await post('{"model":');
    expect(res.statusCode).toBe(400);
    expect(finished.map((r) => [r.api, r.errorType])).toEqual([['openai_chat', 'bad_request']]);
  });

  it('stores a second request reusing an id in flight under its own id, and says so in x-request-id', async () => {
    finished.length = 0;
    const held = tracker.begin({ requestId: 'req-dup' });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-dup' }, body: '{"model":"gpt-4o","messages":[]}' });
    await res.arrayBuffer();
    expect(res.headers.get('x-request-id')).toBe('req-dup~1');
    held.finalize(200);
    await eventually(() => tracker.activeCount === 0);
    expect(finished.map((r) => r.requestId).sort()).toEqual(['req-dup', 'req-dup~1']);
  });
});
