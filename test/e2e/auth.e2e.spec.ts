import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { head, rawRequest } from '../support/raw-http';

const GATEWAY_KEY = 'gw-key-7f3a9c21d4e8b6f0';
const ANTHROPIC_BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
const OPENAI_BODY = JSON.stringify({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'hi' }] });

interface RouteCase {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

/** Every route that needs the key, with a body that would be served if it got through. */
const PRIVATE: RouteCase[] = [
  { method: 'POST', path: '/v1/messages', body: ANTHROPIC_BODY },
  { method: 'POST', path: '/v1/messages/count_tokens', body: ANTHROPIC_BODY },
  { method: 'POST', path: '/v1/chat/completions', body: OPENAI_BODY },
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/metrics/running-totals' },
  { method: 'GET', path: '/metrics/active-requests' },
  { method: 'GET', path: '/metrics/active-requests/stream' },
  { method: 'GET', path: '/metrics/logs' },
];

const PUBLIC: RouteCase[] = [
  { method: 'GET', path: '/health' },
  { method: 'GET', path: '/' },
  { method: 'GET', path: '/favicon.ico' },
  { method: 'GET', path: '/dashboard' },
  { method: 'GET', path: '/dashboard/' },
  { method: 'GET', path: '/dashboard/app.js' },
];

const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** The ways one path can be spelled on the wire so that a router might still take it to the route. */
function spellings(path: string, port: number): string[] {
  const out = new Set<string>([path]);
  for (let i = 1; i < path.length; i++) {
    if (path[i] === '/') continue;
    out.add(path.slice(0, i) + hex(path[i]) + path.slice(i + 1));
  }
  const segments = path.split('/');
  out.add(segments.map((s) => (s ? hex(s[0]).toUpperCase() + s.slice(1) : s)).join('/'));
  out.add(`/${path}`);
  out.add(path.replace(/\/(?=[^/]*$)/, '//'));
  out.add(path.replace(/\//g, '%2f').replace(/^%2f/, '/'));
  out.add(`${path}/`);
  out.add(path.toUpperCase());
  out.add(path.replace(/\/(\w)/, (_, c: string) => `/${c.toUpperCase()}`));
  out.add(`/./${path.slice(1)}`);
  out.add(`/x/..${path}`);
  out.add(`${path}?x=1`);
  out.add(`${path};x=1`);
  out.add(`${path}%00`);
  out.add(`http://127.0.0.1:${port}${path}`);
  out.add(`http://example.invalid${path}`);
  out.add(`HTTP://127.0.0.1:${port}${path}?q`);
  return [...out];
}

function methodsFor(route: RouteCase): string[] {
  return route.method === 'GET' ? ['GET', 'HEAD', 'OPTIONS', 'POST'] : ['POST', 'GET', 'OPTIONS', 'PUT'];
}

const gw = useGateway((fake) => ({
  ANTHROPIC_API_KEY: 'sk-ant-provider-key-000111',
  ANTHROPIC_BASE_URL: fake.url,
  OPENAI_API_KEY: 'sk-openai-provider-key-000222',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  VDM_DEFAULT_PROVIDER: 'anthropic',
  PROXY_API_KEY: GATEWAY_KEY,
}));

async function boot(extra: Record<string, string> = {}): Promise<number> {
  await gw.boot(extra);
  return Number(new URL(gw.url).port);
}

function send(port: number, method: string, target: string, body: string | undefined, headers: Record<string, string> = {}) {
  const payload = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? '' : (body ?? '{}');
  const h: Record<string, string | number> = { ...headers };
  if (payload) {
    h['content-type'] = 'application/json';
    h['content-length'] = Buffer.byteLength(payload);
  }
  return rawRequest(port, head(method, target, h), payload, 1_000);
}

describe('with PROXY_API_KEY set', () => {
  it('refuses every private route under every spelling and method without the key', { timeout: 120_000 }, async () => {
    const port = await boot();
    const probes: (() => Promise<string | undefined>)[] = [];
    for (const route of PRIVATE) {
      for (const target of spellings(route.path, port)) {
        for (const method of methodsFor(route)) {
          for (const headers of [{}, { 'x-api-key': 'wrong-key' }, { authorization: 'Bearer wrong-key' }] as Record<string, string>[]) {
            probes.push(async () => {
              const res = await send(port, method, target, route.body, headers);
              return res.status === 401 ? undefined : `${method} ${target} ${JSON.stringify(headers)} -> ${res.status}`;
            });
          }
        }
      }
    }
    const leaks: string[] = [];
    // Sixteen connections at a time: enough to be quick, few enough for a small machine.
    for (let i = 0; i < probes.length; i += 16) {
      for (const leak of await Promise.all(probes.slice(i, i + 16).map((probe) => probe()))) if (leak) leaks.push(leak);
    }
    expect(probes.length).toBeGreaterThan(1_000);
    expect(leaks).toEqual([]);
    expect(gw.fake.requests).toHaveLength(0);
    expect(gw.tracker.activeCount).toBe(0);
    const totals = (await (await fetch(`${gw.url}/metrics/running-totals?format=json`, { headers: { 'x-api-key': GATEWAY_KEY } })).json()) as {
      summary: { total_requests: number; total_errors: number };
    };
    // Refusals for a missing or wrong key are not usage.
    expect(totals.summary).toMatchObject({ total_requests: 0, total_errors: 0 });
  });

  it('serves the private routes with the key, in either header', async () => {
    const port = await boot();
    gw.fake.script({ usage: { input: 3, output: 2 } });
    for (const route of PRIVATE.filter((r) => !r.path.endsWith('/stream'))) {
      for (const headers of [{ 'x-api-key': GATEWAY_KEY }, { authorization: `Bearer ${GATEWAY_KEY}` }] as Record<string, string>[]) {
        const res = await send(port, route.method, route.path, route.body, headers);
        expect(res.status, `${route.method} ${route.path}`).toBe(200);
      }
    }
  });

  it('serves the public routes without a key', async () => {
    const port = await boot();
    for (const route of PUBLIC) {
      const res = await send(port, route.method, route.path, undefined);
      expect([200, 302], route.path).toContain(res.status);
    }
    const health = await send(port, 'HEAD', '/health', undefined);
    expect(health.status).toBe(200);
    const encoded = await send(port, 'GET', '/%68ealth', undefined);
    expect(encoded.status).toBe(200);
  });

  it('points the root to the dashboard and serves the favicon, without a key', async () => {
    const port = await boot();
    const root = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    for (const path of ['/favicon.ico', '/dashboard/favicon.ico']) {
      const icon = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(icon.status, path).toBe(200);
      expect(icon.headers.get('content-type'), path).toMatch(/^image\/(x-icon|vnd\.microsoft\.icon)/);
      // An ICO directory: reserved 0, type 1 (icon), at least one image.
      const bytes = Buffer.from(await icon.arrayBuffer());
      expect([bytes.readUInt16LE(0), bytes.readUInt16LE(2), bytes.readUInt16LE(4) > 0]).toEqual([0, 1, true]);
    }
  });

  it('answers routes that do not exist with 401 too: nothing is learnt without the key', async () => {
    const port = await boot();
    for (const target of ['/nope', '/v1/nope', '/metrics/nope', '/v2/messages']) {
      expect((await send(port, 'GET', target, undefined)).status, target).toBe(401);
      expect((await send(port, 'GET', target, undefined, { 'x-api-key': GATEWAY_KEY })).status, target).toBe(404);
    }
  });

  it('opens only /metrics with VDM_METRICS_PUBLIC=true', async () => {
    const port = await boot({ VDM_METRICS_PUBLIC: 'true' });
    expect((await send(port, 'GET', '/metrics', undefined)).status).toBe(200);
    expect((await send(port, 'GET', '/%6detrics', undefined)).status).toBe(200);
    for (const path of ['/metrics/running-totals', '/metrics/logs', '/%6detrics/logs', '/metrics/']) {
      expect((await send(port, 'GET', path, undefined)).status, path).toBe(401);
    }
  });

  it('answers a keyless request that announces a large body at once, without reading the body', async () => {
    const port = await boot();
    for (const path of ['/v1/messages', '/v1/chat/completions', '/%761/messages']) {
      // The body is announced but never sent: only a refusal before the body is read can answer.
      const res = await rawRequest(port, head('POST', path, { 'content-type': 'application/json', 'content-length': 30 * 1024 * 1024 }), '', 5_000);
      expect(res.status, path).toBe(401);
      expect(res.headers.connection).toBe('close');
    }
  });

  it('refuses in the format of the API the route serves', async () => {
    const port = await boot();
    const anthropic = JSON.parse((await send(port, 'POST', '/%761/messages', ANTHROPIC_BODY)).body);
    expect(anthropic).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const openai = JSON.parse((await send(port, 'POST', '/v1/chat/completions', OPENAI_BODY)).body);
    expect(openai).toMatchObject({ error: { type: 'authentication_error' } });
    const metrics = JSON.parse((await send(port, 'GET', '/metrics/logs', undefined)).body);
    expect(metrics).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  it('counts refusals by reason in vdm_rejected_requests_total', async () => {
    const port = await boot();
    await send(port, 'POST', '/v1/messages', ANTHROPIC_BODY);
    await send(port, 'POST', '/v1/messages', ANTHROPIC_BODY, { 'x-api-key': 'wrong' });
    await send(port, 'GET', '/metrics/logs', undefined, { 'x-api-key': 'wrong' });
    // Keys longer than any gateway key can be, in both headers: one refusal, as an invalid key.
    const long = 'k'.repeat(4096);
    const res = await send(port, 'POST', '/v1/messages', ANTHROPIC_BODY, { 'x-api-key': long, authorization: `Bearer ${long}` });
    expect(res.status).toBe(401);
    const text = await (await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': GATEWAY_KEY } })).text();
    expect(text).toMatch(/^vdm_rejected_requests_total\{reason="missing_key"\} 1$/m);
    expect(text).toMatch(/^vdm_rejected_requests_total\{reason="invalid_key"\} 3$/m);
  });
});

describe('passthrough providers (!PASSTHRU) behind a gateway key', () => {
  const UPSTREAM_KEY = 'sk-client-own-upstream-key-42';

  async function bootPassthrough(): Promise<void> {
    await gw.boot({ ANTHROPIC_API_KEY: '!PASSTHRU', OPENAI_API_KEY: '!PASSTHRU' });
  }

  it('never forwards the gateway key, and forwards the client key from the other header', async () => {
    await bootPassthrough();
    gw.fake.script({ usage: { input: 1, output: 1 } });
    // The provider key in x-api-key, the gateway key as a bearer token.
    const viaBearer = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': UPSTREAM_KEY, authorization: `Bearer ${GATEWAY_KEY}` },
      body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(viaBearer.status).toBe(200);
    expect(gw.fake.requests.at(-1)!.headers['x-api-key']).toBe(UPSTREAM_KEY);
    // The other way round: the gateway key in x-api-key, the provider key as the bearer token.
    const viaHeader = new OpenAI({ apiKey: UPSTREAM_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-api-key': GATEWAY_KEY } });
    await viaHeader.chat.completions.create({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    expect(gw.fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    for (const request of gw.fake.requests) expect(JSON.stringify(request.headers)).not.toContain(GATEWAY_KEY);
  });

  it('sends no key upstream when the client presented only the gateway key', async () => {
    await bootPassthrough();
    gw.fake.script({ usage: { input: 1, output: 1 } });
    const client = new Anthropic({ apiKey: GATEWAY_KEY, baseURL: gw.url, maxRetries: 0 });
    await client.messages.create({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
    for (const request of gw.fake.requests) expect(JSON.stringify(request.headers)).not.toContain(GATEWAY_KEY);
  });
});

describe('the client key a passthrough provider gets', () => {
  async function bootOpen(): Promise<void> {
    await gw.boot({ ANTHROPIC_API_KEY: '!PASSTHRU', OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, PROXY_API_KEY: undefined });
  }
  const body = JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });

  it('is the bearer token when x-api-key is present but empty', async () => {
    await bootOpen();
    gw.fake.script({ usage: { input: 1, output: 1 } });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': '', authorization: 'Bearer sk-client-bearer-key-77' },
      body,
    });
    expect(res.status).toBe(200);
    expect(gw.fake.requests.at(-1)!.headers['x-api-key']).toBe('sk-client-bearer-key-77');
  });

  it('is not an Authorization header of another scheme, which is never forwarded', async () => {
    await bootOpen();
    gw.fake.script({ usage: { input: 1, output: 1 } });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpzZWNyZXQtcGFzc3dvcmQ=' },
      body,
    });
    expect(res.status).toBe(200);
    expect(gw.fake.requests.at(-1)!.headers['x-api-key']).toBe('');
    expect(JSON.stringify(gw.fake.requests.at(-1)!.headers)).not.toContain('dXNlcjpzZWNyZXQtcGFzc3dvcmQ=');
  });
});
