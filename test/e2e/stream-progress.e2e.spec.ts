import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import { SseClient } from '../support/sse-client';

/** Providers report output tokens late (OpenAI in the last chunk, Anthropic in message_delta): in flight, rows show what arrived. */

const TEXT = 'The quick brown fox jumps over the lazy dog while the gateway counts every character it relays to the client.';
// The fake upstream sends one delta per word, each with its leading space.
const PIECES = TEXT.split(/(?=\s)/);
const PREFIX_CHARS = PIECES.map((_, i) => PIECES.slice(0, i).join('').length).concat(TEXT.length);

const gw = useGateway((fake) => ({
  ANTHROPIC_API_KEY: 'sk-ant-upstream',
  ANTHROPIC_BASE_URL: fake.url,
  OPENAI_API_KEY: 'sk-openai-upstream',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  VDM_DEFAULT_PROVIDER: 'anthropic',
  VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.05',
}));

interface Progress {
  output_tokens: number;
  output_chars: number;
  output_chunks: number;
}

function rowsOf(data: string, model: string): (Progress & { requested_model: string })[] {
  return (JSON.parse(data) as { active_requests: (Progress & { requested_model: string })[] }).active_requests.filter(
    (row) => row.requested_model === model,
  );
}

/** Characters of text or tool-call arguments in one upstream stream event (Anthropic or OpenAI). */
function charsIn(wire: string): number {
  let chars = 0;
  for (const line of wire.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const event = JSON.parse(line.slice(6)) as {
      delta?: { text?: string; partial_json?: string };
      choices?: { delta?: { content?: string | null; tool_calls?: { function?: { arguments?: string } }[] } }[];
    };
    chars += (event.delta?.text ?? event.delta?.partial_json ?? '').length;
    for (const choice of event.choices ?? []) {
      chars += choice.delta?.content?.length ?? 0;
      for (const call of choice.delta?.tool_calls ?? []) chars += call.function?.arguments?.length ?? 0;
    }
  }
  return chars;
}

/**
 * Paces the fake upstream by the live feed: after each event that carries output, the next waits
 * until the feed has shown this request with all of it. The feed shows every step, whatever the clock.
 */
function pacedBy(sse: SseClient, model: string): (wire: string) => Promise<void> {
  let sent = 0;
  return async (wire) => {
    const chars = charsIn(wire);
    if (chars === 0) return;
    sent += chars;
    await sse.next('update', (e) => rowsOf(e.data, model).some((row) => row.output_chars === sent));
  };
}

/** Runs one paced stream while watching the live SSE feed; returns the in-flight rows it showed for that request. */
async function watch(model: string, send: () => Promise<string>): Promise<{ rows: Progress[]; text: string }> {
  const sse = await SseClient.connect(`${gw.url}/metrics/active-requests/stream`);
  await sse.next('update');
  gw.fake.enqueue({ text: TEXT, usage: { input: 20, output: 23 }, afterEvent: pacedBy(sse, model) });
  const text = await send();
  sse.close();
  const rows = sse.updates.flatMap((data) => rowsOf(data, model));
  return { rows, text };
}

function expectGrowingCharacters(rows: Progress[]): void {
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) {
    // Characters and chunks agree: after n deltas, the first n words.
    expect(row.output_chars).toBe(PREFIX_CHARS[row.output_chunks]);
  }
  const chars = rows.map((row) => row.output_chars);
  expect(chars).toEqual([...chars].sort((a, b) => a - b));
  const midStream = new Set(chars.filter((n) => n > 0 && n < TEXT.length));
  expect(midStream.size).toBeGreaterThanOrEqual(2);
  // Meanwhile the token count is what the protocol said so far: not the answer's size.
  expect(rows.filter((row) => row.output_chars > 0 && row.output_chars < TEXT.length).every((row) => row.output_tokens <= 1)).toBe(true);
}

describe('in-flight output progress', () => {
  it('Anthropic passthrough: output_chars grows with the text deltas before the stream ends', async () => {
    await gw.boot();
    const client = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
    const { rows, text } = await watch('claude-progress-1', async () => {
      const message = await client.messages
        .stream({ model: 'claude-progress-1', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
        .finalMessage();
      return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    });
    expect(text).toBe(TEXT);
    expectGrowingCharacters(rows);
  });

  it('OpenAI passthrough: output_chars grows with the content chunks before the usage chunk', async () => {
    await gw.boot();
    const client = new OpenAI({ apiKey: 'client', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const { rows, text } = await watch('openai:gpt-progress-2', async () => {
      const stream = await client.chat.completions.create({ model: 'openai:gpt-progress-2', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      let out = '';
      for await (const chunk of stream) out += chunk.choices[0]?.delta.content ?? '';
      return out;
    });
    expect(text).toBe(TEXT);
    expectGrowingCharacters(rows);
  });

  it('Anthropic client on an OpenAI provider: tool-call arguments count as they stream', async () => {
    await gw.boot();
    const input = { city: 'Paris', unit: 'celsius', days: 5, hourly: true, note: 'as it streams' };
    const args = JSON.stringify(input);
    const sse = await SseClient.connect(`${gw.url}/metrics/active-requests/stream`);
    await sse.next('update');
    gw.fake.enqueue({ toolCalls: [{ name: 'weather', input }], afterEvent: pacedBy(sse, 'openai:gpt-progress-4') });
    const client = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
    const message = await client.messages
      .stream({ model: 'openai:gpt-progress-4', max_tokens: 100, messages: [{ role: 'user', content: 'weather?' }] })
      .finalMessage();
    sse.close();
    expect(message.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'weather', input })]);
    const chars = sse.updates.flatMap((data) => rowsOf(data, 'openai:gpt-progress-4')).map((row) => row.output_chars);
    expect(chars).toEqual([...chars].sort((a, b) => a - b));
    expect(chars.every((n) => n <= args.length)).toBe(true);
    expect(new Set(chars.filter((n) => n > 0 && n < args.length)).size).toBeGreaterThanOrEqual(2);
  });

  it('Anthropic client on an OpenAI provider: output_chars grows through the conversion', async () => {
    await gw.boot();
    const client = new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
    const { rows, text } = await watch('openai:gpt-progress-3', async () => {
      const message = await client.messages
        .stream({ model: 'openai:gpt-progress-3', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
        .finalMessage();
      return message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    });
    expect(text).toBe(TEXT);
    expectGrowingCharacters(rows);
  });
});
