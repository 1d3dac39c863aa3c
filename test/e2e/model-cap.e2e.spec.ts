import Anthropic from '@anthropic-ai/sdk';
import { load } from 'js-yaml';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { parseExposition, sumOf } from '../support/prom-text';
import { fakeProviderEnv } from '../support/traffic';

const CAP = 3;
const DISTINCT = 8;
const SECTION_KEYS = ['requests', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens', 'tool_uses', 'tool_results', 'tool_calls', 'total_duration_ms'];

const gw = useGateway((fake) => ({ ...fakeProviderEnv(fake), VDM_MAX_MODELS_PER_PROVIDER: String(CAP) }), { per: 'file' });
const sent = { requests: 0, errors: 0, input: 0, perProvider: new Map<string, number>() };

/**
 * Twice over DISTINCT invented model names per provider, through both SDKs, streaming and not; every
 * third request the upstream refuses as an unknown model (404) or a bad request (400).
 */
async function driveInventedModels(): Promise<void> {
  const anthropic = new Anthropic({ apiKey: 'client-key', baseURL: gw.url, maxRetries: 0 });
  const openai = new OpenAI({ apiKey: 'client-key', baseURL: `${gw.url}/v1`, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'hi' }];
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < DISTINCT; i++) {
      for (const provider of ['anthropic', 'openai']) {
        const n = sent.requests++;
        sent.perProvider.set(provider, (sent.perProvider.get(provider) ?? 0) + 1);
        const refused = n % 3 === 2;
        if (refused) {
          sent.errors++;
          gw.fake.enqueue({ status: n % 2 === 0 ? 404 : 400 });
        } else {
          sent.input += 10 + i;
          gw.fake.enqueue({ usage: { input: 10 + i, output: 3 } });
        }
        const model = `${provider}:invented-${i}`;
        const stream = round === 1;
        const call =
          provider === 'anthropic'
            ? stream
              ? anthropic.messages.stream({ model, max_tokens: 10, messages }).finalMessage()
              : anthropic.messages.create({ model, max_tokens: 10, messages })
            : stream
              ? openai.chat.completions.create({ model, messages, stream: true }).then(async (s) => {
                  for await (const _chunk of s) {
                    // drain
                  }
                })
              : openai.chat.completions.create({ model, messages });
        if (refused) await expect(call).rejects.toThrow();
        else await call;
      }
    }
  }
}

beforeAll(async () => {
  await driveInventedModels();
});

async function json(include = 'false'): Promise<any> {
  return (await fetch(`${gw.url}/metrics/running-totals?format=json&include_active=${include}`)).json();
}

describe('VDM_MAX_MODELS_PER_PROVIDER over real traffic', () => {
  it(`keeps ${CAP} named models per provider and folds the rest into "other", counting every request`, async () => {
    const doc = await json();
    for (const provider of ['anthropic', 'openai']) {
      const models = doc.providers[provider].models;
      expect(Object.keys(models)).toEqual(['invented-0', 'invented-1', 'invented-2', 'other']);
      expect(models.other.total.requests).toBe(2 * (DISTINCT - CAP));
      expect(doc.providers[provider].rollup.total.requests).toBe(sent.perProvider.get(provider));
    }
    expect(doc.summary).toMatchObject({ total_requests: sent.requests, total_errors: sent.errors, total_input_tokens: sent.input, active_requests: 0 });
    expect(gw.tracker.activeCount).toBe(0);
  });

  it('makes the summary the sum over models, and the YAML report the same totals as the JSON', async () => {
    const doc = await json('true');
    const rows = doc.series.filter((r: any) => r.mode === 'total');
    for (const key of SECTION_KEYS) {
      const summaryKey = key === 'total_duration_ms' ? key : `total_${key}`;
      expect(doc.summary[summaryKey], key).toBe(rows.reduce((n: number, r: any) => n + r[key], 0));
    }
    const yaml = load(await (await fetch(`${gw.url}/metrics/running-totals`)).text()) as any;
    expect(yaml.providers).toEqual(doc.providers);
    expect(yaml.summary).toEqual(doc.summary);
  });

  it('agrees with /metrics series by series, and counts the folded requests there', async () => {
    const doc = await json();
    const samples = parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
    expect(sumOf(samples, 'vdm_requests_total')).toBe(sent.requests);
    for (const row of doc.series.filter((r: any) => r.mode !== 'total')) {
      const series = { provider: row.provider, model: row.model, streaming: String(row.mode === 'streaming') };
      expect({
        requests: sumOf(samples, 'vdm_requests_total', series),
        errors: sumOf(samples, 'vdm_requests_total', { ...series, outcome: 'error' }),
        completed_requests: sumOf(samples, 'gen_ai_client_operation_duration_seconds_count', series),
      }, `${row.provider}/${row.model}/${row.mode}`).toEqual({
        requests: row.requests,
        errors: row.errors,
        completed_requests: row.completed_requests,
      });
    }
    for (const row of doc.series.filter((r: any) => r.mode === 'total')) {
      const series = { provider: row.provider, model: row.model };
      expect([sumOf(samples, 'vdm_tokens_total', { ...series, token_type: 'input' }), sumOf(samples, 'vdm_tokens_total', { ...series, token_type: 'output' })]).toEqual([
        row.input_tokens,
        row.output_tokens,
      ]);
    }
    const labels = new Set(samples.filter((s) => s.name === 'vdm_requests_total').map((s) => `${s.labels.provider}/${s.labels.model}`));
    expect(labels.size).toBe(2 * (CAP + 1));
    for (const provider of ['anthropic', 'openai']) {
      expect(sumOf(samples, 'vdm_model_folded_requests_total', { provider })).toBe(doc.providers[provider].models.other.total.requests);
    }
    expect(sumOf(samples, 'vdm_requests_total', { outcome: 'error', error_type: 'bad_request' })).toBeGreaterThan(0);
    expect(sumOf(samples, 'vdm_active_requests')).toBe(0);
  });
});
