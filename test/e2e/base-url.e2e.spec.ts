import Anthropic from '@anthropic-ai/sdk';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app';

/**
 * A server that serves its API under /v1 only, as an OpenAI-compatible server or a proxy in front of
 * one does: anything else is 404 the way web frameworks say it (Express's `Cannot POST /path`).
 */
let server: http.Server;
let origin: string;
const modelNotFound = JSON.stringify({ error: { message: 'The model `nope` does not exist', type: 'invalid_request_error', code: 'model_not_found' } });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/v1/chat/completions' && (JSON.parse(body) as { model: string }).model === 'nope') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(modelNotFound);
      } else if (req.url === '/v1/chat/completions' || req.url === '/v1/messages') {
        res.writeHead(500).end();
      } else {
        res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(`<pre>Cannot POST ${req.url}</pre>`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let gw: RunningApp;
let logs: string[];
afterEach(async () => {
  await gw?.close();
});

async function start(env: Record<string, string>): Promise<RunningApp> {
  logs = [];
  gw = await startApp({ LOG_LEVEL: 'warn', ...env }, { logDestination: { write: (line: string) => void logs.push(line) } });
  return gw;
}

const completed = (): { status: number; error: string } => JSON.parse(logs.find((l) => l.includes('request completed'))!) as { status: number; error: string };

describe('a provider base URL without its path prefix', () => {
  it('tells an OpenAI client which URL was tried and to check {NAME}_BASE_URL, and logs the same', async () => {
    await start({ LOCAL_API_KEY: 'k', LOCAL_BASE_URL: origin, LOCAL_API_FORMAT: 'openai' });
    const client = new OpenAI({ apiKey: 'x', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'local:m', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const { message } = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(message).toContain(`POST ${origin}/chat/completions`);
    expect(message).toContain('Check LOCAL_BASE_URL');
    expect(message).toContain('Cannot POST /chat/completions');
    expect(completed()).toMatchObject({ status: 404, error: expect.stringContaining(`POST ${origin}/chat/completions`) });
    expect(completed().error).toContain('LOCAL_BASE_URL');
  });

  it('says the same to an Anthropic client converted to it, streaming', async () => {
    await start({ LOCAL_API_KEY: 'k', LOCAL_BASE_URL: origin, LOCAL_API_FORMAT: 'openai' });
    const client = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
    const error = await client.messages
      .stream({ model: 'local:m', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as Error).message).toMatch(new RegExp(`POST ${origin}/chat/completions.*Check LOCAL_BASE_URL`));
  });

  it('and an anthropic-format base URL with one prefix too many', async () => {
    await start({ ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: `${origin}/v1` });
    const client = new Anthropic({ apiKey: 'x', baseURL: gw.url, maxRetries: 0 });
    const error = await client.messages.create({ model: 'anthropic:m', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as Error).message).toContain(`POST ${origin}/v1/v1/messages`);
    expect((error as Error).message).toContain('Check ANTHROPIC_BASE_URL');
  });

  it('leaves a JSON 404 about the model as the upstream said it', async () => {
    await start({ LOCAL_API_KEY: 'k', LOCAL_BASE_URL: `${origin}/v1`, LOCAL_API_FORMAT: 'openai' });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local:nope', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(modelNotFound);
    expect(completed().error).not.toContain('_BASE_URL');
  });
});
