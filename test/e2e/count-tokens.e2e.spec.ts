import Anthropic from '@anthropic-ai/sdk';
import { beforeEach, describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { head, rawRequest } from '../support/raw-http';

const KEY = 'gw-count-tokens-key-7a1c';

const gw = useGateway((fake) => ({
  PROXY_API_KEY: KEY,
  OPENAI_API_KEY: 'sk-openai-upstream',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  ANTHROPIC_API_KEY: 'sk-ant-upstream',
  ANTHROPIC_BASE_URL: fake.url,
  VDM_DEFAULT_PROVIDER: 'openai',
}));
let client: Anthropic;

beforeEach(async () => {
  await gw.boot();
  client = new Anthropic({ apiKey: KEY, baseURL: gw.url, maxRetries: 0 });
});

async function summary(): Promise<Record<string, number>> {
  return ((await (await fetch(`${gw.url}/metrics/running-totals?format=json`, { headers: { 'x-api-key': KEY } })).json()) as { summary: Record<string, number> }).summary;
}

/** The vdm_count_tokens_requests_total samples, `provider/outcome` to value. */
async function scraped(): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': KEY } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^vdm_count_tokens_requests_total\{provider="([^"]*)",outcome="([^"]*)"\} (\d+)$/gm)) out[`${m[1]}/${m[2]}`] = Number(m[3]);
  return out;
}

const ask = { messages: [{ role: 'user' as const, content: 'hello there, how are you today?' }] };

describe('POST /v1/messages/count_tokens in the metrics', () => {
  it('counts each call by provider and outcome, apart from requests, tokens and cost', async () => {
    gw.fake.script({ usage: { input: 1234, output: 0 } });
    expect((await client.messages.countTokens({ model: 'anthropic:claude-x', ...ask })).input_tokens).toBe(1234);
    expect((await client.messages.countTokens({ model: 'gpt-4o', ...ask })).input_tokens).toBeGreaterThan(5);
    expect((await client.messages.countTokens({ model: 'openai:gpt-4o', ...ask })).input_tokens).toBeGreaterThan(5);
    // The provider answers an error: passed on, counted as that provider's error.
    gw.fake.script({ status: 500, errorMessage: 'count failed' });
    await expect(client.messages.countTokens({ model: 'anthropic:claude-x', ...ask })).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    // Refused before any provider is known: a body that is not JSON, a provider nobody configured.
    const port = Number(new URL(gw.url).port);
    const bad = await rawRequest(port, head('POST', '/v1/messages/count_tokens', { 'content-type': 'application/json', 'x-api-key': KEY, 'content-length': 5 }), '{"mo:');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    await expect(client.messages.countTokens({ model: 'nobody:claude-x', ...ask })).rejects.toBeInstanceOf(Anthropic.APIError);
    // Without the gateway key: a rejection, not a count_tokens call.
    expect((await fetch(`${gw.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', ...ask }) })).status).toBe(401);

    expect(await scraped()).toEqual({ 'anthropic/ok': 1, 'openai/ok': 2, 'anthropic/error': 1, 'unknown/error': 2 });
    const s = await summary();
    expect(s.count_tokens_requests).toBe(6);
    expect(s).toMatchObject({ total_requests: 0, total_errors: 0, total_input_tokens: 0, total_cost_usd: 0, total_unpriced_requests: 0 });
    const text = await (await fetch(`${gw.url}/metrics`, { headers: { 'x-api-key': KEY } })).text();
    expect(text).not.toMatch(/^vdm_requests_total\{/m);
  });

  it('estimates one unbroken 1 MB word for an openai-format provider in bounded work, and keeps serving', async () => {
    // Tokenized whole, this word took over 100 s of the event loop; the estimate tokenizes a bounded sample.
    const word = 'a'.repeat(1_000_000);
    const [counted, health] = await Promise.all([
      client.messages.countTokens({ model: 'openai:gpt-4o', messages: [{ role: 'user', content: word }] }),
      fetch(`${gw.url}/health`).then((r) => r.status),
    ]);
    expect(counted.input_tokens).toBeGreaterThan(word.length / 48);
    expect(counted.input_tokens).toBeLessThan(word.length);
    expect(health).toBe(200);
    expect(await scraped()).toEqual({ 'openai/ok': 1 });
  });
});
