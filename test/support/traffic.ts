import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { FakeUpstream } from '../fakes/fake-upstream';

/** Gateway environment that routes every provider to the fake upstream. */
export function fakeProviderEnv(fake: FakeUpstream): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: 'sk-ant-upstream-secret-0001',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_ALIAS_SONNET: 'claude-sonnet-4-5-20250929',
    OPENAI_API_KEY: 'sk-upstream-openai-secret-0002',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    OPENAI_ALIAS_FAST: 'gpt-4o-mini',
    VDM_DEFAULT_PROVIDER: 'anthropic',
  };
}

/** What `driveKnownTraffic` sends, summed. */
export interface KnownTotals {
  requests: number;
  errors: number;
  streaming: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
  toolUses: number;
  toolResults: number;
  toolCalls: number;
}

/** A turn with two parallel tool calls and their results: 2 tool uses, 2 tool results. */
export const HISTORY: Anthropic.MessageParam[] = [
  { role: 'user', content: 'Weather in Paris and Rome?' },
  {
    role: 'assistant',
    content: [
      { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_2', name: 'weather', input: { city: 'Rome' } },
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
      { type: 'tool_result', tool_use_id: 'toolu_2', content: 'rainy' },
    ],
  },
];

/**
 * Six requests through the official SDKs: both APIs, streaming and not, tool use, cache tokens,
 * and two upstream errors. Sequential, so every one has finished when this resolves.
 */
export async function driveKnownTraffic(gatewayUrl: string, fake: FakeUpstream, apiKey = 'client-key'): Promise<KnownTotals> {
  const anthropic = new Anthropic({ apiKey, baseURL: gatewayUrl, maxRetries: 0 });
  const openai = new OpenAI({ apiKey, baseURL: `${gatewayUrl}/v1`, maxRetries: 0 });
  const user = [{ role: 'user' as const, content: 'hi' }];

  fake.enqueue({ text: 'Paris is sunny.', usage: { input: 120, output: 15, cacheRead: 40, cacheCreation: 7 } });
  await anthropic.messages.create({ model: 'sonnet', max_tokens: 100, messages: HISTORY });

  fake.enqueue({ text: 'Checking.', toolCalls: [{ name: 'weather', input: { city: 'Oslo' } }, { name: 'time', input: { tz: 'CET' } }], usage: { input: 50, output: 33, cacheRead: 20 } });
  await anthropic.messages.stream({ model: 'anthropic:claude-opus-4', max_tokens: 100, messages: user }).finalMessage();

  fake.enqueue({ toolCalls: [{ name: 'a', input: { x: 1 } }, { name: 'b', input: {} }], usage: { input: 80, output: 9, cacheRead: 30 } });
  await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: user });

  fake.enqueue({ text: 'one two three four five six', usage: { input: 12, output: 6 } });
  const stream = await openai.chat.completions.create({ model: 'fast', messages: user, stream: true });
  for await (const _chunk of stream) {
    // drain
  }

  fake.enqueue({ status: 429 });
  await anthropic.messages.create({ model: 'sonnet', max_tokens: 10, messages: user }).catch(() => undefined);

  fake.enqueue({ status: 400 });
  await openai.chat.completions.create({ model: 'openai:gpt-4o', messages: user }).catch(() => undefined);

  return { requests: 6, errors: 2, streaming: 2, input: 262, output: 63, cacheRead: 90, cacheCreation: 7, toolUses: 2, toolResults: 2, toolCalls: 4 };
}
