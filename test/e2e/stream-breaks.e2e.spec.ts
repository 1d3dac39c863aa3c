import { describe, expect, it } from 'vitest';
import { useGateway } from '../support/use-gateway';
import type { Fault } from '../fakes/fake-upstream';
import { eventually } from '../support/sse-client';

/**
 * An upstream that answered a stream (200, an event stream) and then broke its connection: the
 * stream is truncated, whatever the gateway read of it before the break. An upstream that broke the
 * connection before any answer reached the gateway is a network failure.
 */
const gw = useGateway(
  (fake) => ({
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: fake.url,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    VDM_DEFAULT_PROVIDER: 'openai',
  }),
  { per: 'file' },
);

const APIS = {
  'Anthropic passthrough': { path: '/v1/messages', body: { model: 'anthropic:claude-test', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } },
  'OpenAI chat': { path: '/v1/chat/completions', body: { model: 'openai:gpt-test', messages: [{ role: 'user', content: 'x' }] } },
  'Responses API': { path: '/v1/responses', body: { model: 'openai:gpt-test', input: 'x' } },
  'Anthropic converted to OpenAI': { path: '/v1/messages', body: { model: 'openai:gpt-test', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] } },
} as const;

interface Trace {
  status: string;
  error_type: string | null;
  error: string | null;
}

async function send(api: keyof typeof APIS, fault: Fault): Promise<{ status: number; text: string; trace: Trace }> {
  gw.fake.script({ fault });
  const { path, body } = APIS[api];
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  await eventually(() => gw.tracker.activeCount === 0);
  const logs = (await (await fetch(`${gw.url}/metrics/logs?limit_traces=1`)).json()) as { traces: Trace[] };
  return { status: res.status, text, trace: logs.traces[0] };
}

/** The last event of an event stream, parsed. */
function lastEvent(text: string): { type?: string; error?: unknown } {
  const data = text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .at(-1);
  return JSON.parse(data!.slice('data: '.length)) as { type?: string; error?: unknown };
}

describe.each(Object.keys(APIS) as (keyof typeof APIS)[])('a stream broken by the upstream, %s', (api) => {
  it.each<Fault>(['reset-after-headers', 'malformed-then-reset', 'reset-mid-stream'])(
    'records %s as a streaming_error and ends the client stream with an error event',
    async (fault) => {
      const { status, text, trace } = await send(api, fault);
      expect(status).toBe(200);
      const last = lastEvent(text);
      expect(last.type === 'error' || last.error !== undefined).toBe(true);
      expect(trace).toMatchObject({ status: 'error', error_type: 'streaming_error' });
    },
  );

  it('records a reset before any answer as upstream_error with 502', async () => {
    const { status, trace } = await send(api, 'reset-before-headers');
    expect(status).toBe(502);
    expect(trace).toMatchObject({ status: 'error', error_type: 'upstream_error' });
  });
});
