import { BadRequestException, Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyRequest } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DisabledException, STORE_DISABLED } from '../core/disabled';
import type { ErrorType } from '../core/error-type';
import { GatewayErrors } from '../core/errors';
import { CountedRoute, ProxyRoute, PublicRoute } from '../core/route.decorator';
import { installJsonBodyParser } from './json-body';
import { GlobalExceptionFilter, type CountedCallAccounting, type RefusalAccounting } from './global-exception.filter';
import { PassThroughError } from './upstream-http.error';

const BODY_LIMIT = 256;
const SECRET = 'sk-internal-secret-9f31';

@Controller()
class Throwing {
  @Get('metrics/query') @PublicRoute() query(): never {
    throw new GatewayErrors.VDM_QUERY_RANGE();
  }

  @Get('metrics/history') @PublicRoute() history(): never {
    throw new GatewayErrors.VDM_HISTORY_TIME_LIMIT(15);
  }

  @Get('metrics/usage') @PublicRoute() disabled(): never {
    throw new DisabledException(STORE_DISABLED);
  }

  @Get('metrics/broken') @PublicRoute() broken(): never {
    throw new Error(`database password ${SECRET} rejected`);
  }

  @Post('v1/chat/completions') @ProxyRoute('openai_chat') @HttpCode(200) chat(@Body() _body: unknown): never {
    throw new BadRequestException('messages: an array is required');
  }

  @Post('v1/messages') @ProxyRoute('anthropic_messages') @HttpCode(200) messages(@Body() _body: unknown): never {
    throw new PassThroughError(429, '{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}', 'application/json', 'rate_limit', 'slow', { 'retry-after': '7' });
  }

  @Post('v1/messages/count_tokens') @CountedRoute('anthropic_count_tokens') @HttpCode(200) count(@Body() _body: unknown): never {
    throw new GatewayErrors.VDM_MODEL_REQUIRED();
  }
}

/** The global exception filter in Nest's testing module, answering what real Fastify routes throw. */
describe(GlobalExceptionFilter.name, () => {
  let app: NestFastifyApplication;
  const refused: { url: string; errorType: ErrorType; message: string }[] = [];
  const countedFailures: string[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ controllers: [Throwing] }).compile();
    // As app.factory builds it: the gateway's own JSON parser, Fastify's body limit.
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ bodyLimit: BODY_LIMIT }), { logger: false, bodyParser: false });
    installJsonBodyParser(app.getHttpAdapter().getInstance());
    const accounting: RefusalAccounting = { accountRefused: (request, _reply, errorType, message) => void refused.push({ url: request.url, errorType, message }) };
    const counted: CountedCallAccounting = { failed: (request: FastifyRequest) => void countedFailures.push(request.url) };
    app.useGlobalFilters(new GlobalExceptionFilter(accounting, BODY_LIMIT, counted));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
  });
  beforeEach(() => {
    refused.length = 0;
    countedFailures.length = 0;
  });

  it('answers a gateway error on a metrics route in the metrics format, with its code', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics/query' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ statusCode: 400, error: 'Bad Request', message: 'from must be before to', code: 'VDM_QUERY_RANGE' });
    const slow = await app.inject({ method: 'GET', url: '/metrics/history' });
    expect(slow.statusCode).toBe(503);
    expect(slow.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable', code: 'VDM_HISTORY_TIME_LIMIT' });
    expect(refused).toEqual([]);
  });

  it('sends a disabled document as the whole answer', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics/usage' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ ...STORE_DISABLED });
  });

  it('answers an unexpected error with a bare 500, never its message', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics/broken' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect(res.body).not.toContain(SECRET);
  });

  it('answers in the format of the API called, and accounts the request as refused', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { message: 'messages: an array is required', type: 'invalid_request_error', param: null, code: null } });
    expect(refused).toEqual([{ url: '/v1/chat/completions', errorType: 'bad_request', message: 'messages: an array is required' }]);
  });

  it('passes an upstream answer on as it came: status, headers, type and body', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: { model: 'm' } });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe('{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}');
  });

  it('answers a body over the limit with 413 naming the limit, accounted on a proxy route', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: { model: 'm', text: 'x'.repeat(BODY_LIMIT) } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ type: 'error', error: { type: 'request_too_large', message: `Request body is larger than the ${BODY_LIMIT}-byte limit` } });
    expect(refused).toMatchObject([{ url: '/v1/messages', errorType: 'bad_request' }]);
  });

  it('counts a failed count_tokens call in its own counter, not as a refused request', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/messages/count_tokens', payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'model: a non-empty string is required' } });
    expect(countedFailures).toEqual(['/v1/messages/count_tokens']);
    expect(refused).toEqual([]);
  });
});
