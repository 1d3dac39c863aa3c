import { Controller, Get, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { makeConfig, ManualClock } from '../../test/support/factories';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { clientOf } from '../core/caller';
import { keyDigest } from '../core/client-key';
import { keyFingerprint } from '../logging/logger';
import { AdminRoute, ProxyRoute, PublicRoute, ScrapeRoute } from '../core/route.decorator';
import { RejectionCounter } from '../metrics/rejections';
import { CLOCK, TrackerService } from '../metrics/tracker.service';
import { Authenticator } from './authenticator';

const GATEWAY_KEY = 'gw-admin-key-5d1e70a2';
const CLIENT_KEY = 'sk-vdm-ci-0c9f44e1';
const SCRAPE_KEY = 'sk-vdm-scrape-77ab02';

/** One route of each kind; each answers who the gateway says called it and the headers it got. */
@Controller()
class RoutesOfEachKind {
  @Get('health') @PublicRoute() health(@Req() request: FastifyRequest) {
    return { caller: clientOf(request) ?? null };
  }

  @Get('admin') @AdminRoute() admin(@Req() request: FastifyRequest) {
    return { caller: clientOf(request) ?? null };
  }

  @Get('metrics') @ScrapeRoute() metrics(@Req() request: FastifyRequest) {
    return { caller: clientOf(request) ?? null };
  }

  @Post('v1/messages') @ProxyRoute('anthropic_messages') @HttpCode(200) messages(@Req() request: FastifyRequest, @Headers() headers: Record<string, unknown>) {
    return { caller: clientOf(request) ?? null, headers };
  }
}

/** The Authenticator in Nest's testing module, in front of real Fastify routes as app.factory installs it (the onRequest hook). */
describe(Authenticator.name, () => {
  let app: NestFastifyApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function boot(config: AppConfig): Promise<{ app: NestFastifyApplication; rejections: RejectionCounter }> {
    const moduleRef = await Test.createTestingModule({
      controllers: [RoutesOfEachKind],
      providers: [Authenticator, RejectionCounter, TrackerService, { provide: APP_CONFIG, useValue: config }, { provide: CLOCK, useValue: new ManualClock() }],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    const authenticator = app.get(Authenticator);
    app.getHttpAdapter().getInstance().addHook('onRequest', (request, reply, done) => {
      if (!authenticator.refused(request, reply)) done();
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return { app, rejections: app.get(RejectionCounter) };
  }

  const withKeys = (env: Record<string, string> = {}): AppConfig => ({
    ...makeConfig({ PROXY_API_KEY: GATEWAY_KEY, VDM_SCRAPE_KEY: SCRAPE_KEY, ...env }),
    clientKeys: [{ name: 'ci-bot', role: 'client', sha256: keyDigest(CLIENT_KEY) }],
  });

  const inject = (target: NestFastifyApplication, method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) =>
    target.inject({ method, url, headers, ...(method === 'POST' ? { payload: { model: 'm', max_tokens: 1, messages: [] } } : {}) });

  async function rejected(rejections: RejectionCounter): Promise<Record<string, number>> {
    const { values } = await rejections.metric.get();
    return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
  }

  it('refuses a missing and a wrong key with 401 in the route\'s error format, counting each reason', async () => {
    const { app, rejections } = await boot(withKeys());
    const missing = await inject(app, 'POST', '/v1/messages');
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'Missing API key: send it as x-api-key or Authorization: Bearer' } });
    const wrong = await inject(app, 'GET', '/admin', { 'x-api-key': `${GATEWAY_KEY}x` });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ statusCode: 401, message: 'Invalid API key' });
    expect(await rejected(rejections)).toEqual({ missing_key: 1, invalid_key: 1 });
  });

  it('names the caller by its key and removes every header that carried a gateway key', async () => {
    const { app } = await boot(withKeys());
    const res = await inject(app, 'POST', '/v1/messages', { authorization: `Bearer ${CLIENT_KEY}`, 'x-api-key': 'sk-provider-own' });
    expect(res.statusCode).toBe(200);
    const { caller, headers } = res.json();
    expect(caller).toEqual({ name: 'ci-bot', role: 'client', keyFingerprint: keyFingerprint(CLIENT_KEY) });
    expect(headers.authorization).toBeUndefined();
    // Not a gateway key: the client's own, left for a passthrough provider.
    expect(headers['x-api-key']).toBe('sk-provider-own');
  });

  it('refuses a key whose role may not call the route with 403, naming the role', async () => {
    const { app, rejections } = await boot(withKeys());
    const client = await inject(app, 'GET', '/admin', { 'x-api-key': CLIENT_KEY });
    expect(client.statusCode).toBe(403);
    expect(client.json().message).toBe('This key may not call this route (its role is client)');
    const scrapeOnApi = await inject(app, 'POST', '/v1/messages', { 'x-api-key': SCRAPE_KEY });
    expect(scrapeOnApi.statusCode).toBe(403);
    expect((await inject(app, 'GET', '/metrics', { 'x-api-key': SCRAPE_KEY })).statusCode).toBe(200);
    expect(await rejected(rejections)).toEqual({ forbidden: 2 });
  });

  it('lets anyone call a public route, and the scrape route when metrics are public', async () => {
    const { app } = await boot(withKeys({ VDM_METRICS_PUBLIC: 'true' }));
    expect((await inject(app, 'GET', '/health')).json()).toEqual({ caller: null });
    expect((await inject(app, 'GET', '/metrics')).statusCode).toBe(200);
    expect((await inject(app, 'GET', '/admin')).statusCode).toBe(401);
  });

  it('in open mode names each client by its key\'s fingerprint, up to VDM_MAX_CLIENTS, and the rest other', async () => {
    const { app } = await boot(makeConfig({ VDM_MAX_CLIENTS: '2' }));
    const names: string[] = [];
    for (const key of ['key-one-0001', 'key-two-0002', 'key-three-003', 'key-one-0001']) {
      names.push((await inject(app, 'POST', '/v1/messages', { 'x-api-key': key })).json().caller.name);
    }
    const fingerprint = (key: string): string => `key:${keyDigest(key).toString('hex').slice(0, 16)}`;
    expect(names).toEqual([fingerprint('key-one-0001'), fingerprint('key-two-0002'), 'other', fingerprint('key-one-0001')]);
    expect((await inject(app, 'POST', '/v1/messages')).json().caller).toEqual({ name: 'anonymous', role: 'admin' });
  });
});
