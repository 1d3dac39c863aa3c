import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryService } from '../../src/telemetry/telemetry.service';
import { FakeUpstream } from '../fakes/fake-upstream';
import { startApp, type RunningApp } from '../support/app';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { eventually } from '../support/sse-client';

// OpenTelemetry (contract section 17): each proxied request as a GenAI trace, exported over OTLP/HTTP
// in protobuf and in JSON to a loopback receiver that decodes it with the official OTLP definitions.

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

/** Every attribute the contract names; each must be on a successful trace (error.type on a failed one). */
const CONTRACT_ATTRIBUTES = [
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
  'gen_ai.response.model',
  'gen_ai.response.id',
  'gen_ai.request.max_tokens',
  'gen_ai.response.finish_reasons',
  'gen_ai.usage.input_tokens',
  'gen_ai.usage.output_tokens',
  'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.usage.cache_creation.input_tokens',
  'gen_ai.usage.reasoning.output_tokens',
  'gen_ai.conversation.id',
  'user.id',
  'server.address',
  'http.response.status_code',
  'vdm.client',
  'vdm.cost_usd',
  'gen_ai.usage.cost',
  'vdm.usage_source',
  'vdm.api',
  'vdm.request_id',
];

const OTEL_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_METRIC_EXPORT_INTERVAL',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_SERVICE_NAME',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
];

/** The SDK reads its settings from the process environment: set for one app, then cleared. */
function setOtelEnv(vars: Record<string, string>): void {
  for (const name of OTEL_VARIABLES) delete process.env[name];
  Object.assign(process.env, vars);
}

let fake: FakeUpstream;

beforeAll(async () => {
  fake = await FakeUpstream.start();
});
afterAll(async () => {
  await fake.close();
});

const providerEnv = () => ({
  OPENAI_API_KEY: 'sk-openai-upstream',
  OPENAI_BASE_URL: `${fake.url}/v1`,
  ANTHROPIC_API_KEY: 'sk-ant-upstream',
  ANTHROPIC_BASE_URL: fake.url,
  VDM_DEFAULT_PROVIDER: 'openai',
  OPENAI_ALIAS_SONNET: 'gpt-4o',
});

/** A W3C trace context as a client sends it. */
function clientContext(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

interface Case {
  name: string;
  stream: boolean;
  /** Sends one request through the gateway with an official SDK; the prompt carries `secret`. */
  send(gw: RunningApp, headers: Record<string, string>, secret: string): Promise<void>;
  operation: 'chat' | 'embeddings';
  requested: string;
  resolved: string;
  provider: string;
  path: string;
}

const anthropic = (gw: RunningApp) => new Anthropic({ apiKey: 'client', baseURL: gw.url, maxRetries: 0 });
const openai = (gw: RunningApp) => new OpenAI({ apiKey: 'client', baseURL: `${gw.url}/v1`, maxRetries: 0 });

const CASES: Case[] = [
  ...[false, true].map(
    (stream): Case => ({
      name: `Anthropic Messages${stream ? ', streaming' : ''}`,
      stream,
      operation: 'chat',
      requested: 'anthropic:claude-sonnet-4-5',
      resolved: 'claude-sonnet-4-5',
      provider: 'anthropic',
      path: '/v1/messages',
      async send(gw, headers, secret) {
        const params = { model: 'anthropic:claude-sonnet-4-5', max_tokens: 321, messages: [{ role: 'user' as const, content: secret }] };
        if (stream) for await (const _ of anthropic(gw).messages.stream(params, { headers })) void _;
        else await anthropic(gw).messages.create(params, { headers });
      },
    }),
  ),
  ...[false, true].map(
    (stream): Case => ({
      name: `Anthropic client through an OpenAI-format provider${stream ? ', streaming' : ''}`,
      stream,
      operation: 'chat',
      requested: 'sonnet',
      resolved: 'gpt-4o',
      provider: 'openai',
      path: '/v1/chat/completions',
      async send(gw, headers, secret) {
        const params = { model: 'sonnet', max_tokens: 321, messages: [{ role: 'user' as const, content: secret }] };
        if (stream) for await (const _ of anthropic(gw).messages.stream(params, { headers })) void _;
        else await anthropic(gw).messages.create(params, { headers });
      },
    }),
  ),
  ...[false, true].map(
    (stream): Case => ({
      name: `OpenAI Chat Completions${stream ? ', streaming' : ''}`,
      stream,
      operation: 'chat',
      requested: 'gpt-4o-mini',
      resolved: 'gpt-4o-mini',
      provider: 'openai',
      path: '/v1/chat/completions',
      async send(gw, headers, secret) {
        const messages = [{ role: 'user' as const, content: secret }];
        if (stream) {
          const s = await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', max_completion_tokens: 321, messages, stream: true }, { headers });
          for await (const _ of s) void _;
        } else {
          await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', max_completion_tokens: 321, messages }, { headers });
        }
      },
    }),
  ),
  ...[false, true].map(
    (stream): Case => ({
      name: `OpenAI Responses${stream ? ', streaming' : ''}`,
      stream,
      operation: 'chat',
      requested: 'gpt-4o-mini',
      resolved: 'gpt-4o-mini',
      provider: 'openai',
      path: '/v1/responses',
      async send(gw, headers, secret) {
        if (stream) {
          const s = await openai(gw).responses.create({ model: 'gpt-4o-mini', max_output_tokens: 321, input: secret, stream: true }, { headers });
          for await (const _ of s) void _;
        } else {
          await openai(gw).responses.create({ model: 'gpt-4o-mini', max_output_tokens: 321, input: secret }, { headers });
        }
      },
    }),
  ),
  {
    name: 'OpenAI embeddings',
    stream: false,
    operation: 'embeddings',
    requested: 'text-embedding-3-small',
    resolved: 'text-embedding-3-small',
    provider: 'openai',
    path: '/v1/embeddings',
    async send(gw, headers, secret) {
      await openai(gw).embeddings.create({ model: 'text-embedding-3-small', input: secret }, { headers });
    },
  },
];

async function lastTraceOf(gw: RunningApp, requestId: string): Promise<any> {
  let found: any;
  await eventually(async () => {
    const logs = (await (await fetch(`${gw.url}/metrics/logs?limit_traces=200`)).json()) as { traces: any[] };
    found = logs.traces.find((t) => t.request_id === requestId);
    return found !== undefined;
  });
  return found;
}

/** The gateway's two spans of one request, once exported. */
async function spansOf(receiver: OtlpReceiver, gw: RunningApp, requestId: string): Promise<{ server: ReceivedSpan; client?: ReceivedSpan }> {
  await gw.app.get(TelemetryService).flush();
  let server: ReceivedSpan | undefined;
  await eventually(() => {
    server = receiver.spans.find((s) => s.attributes['vdm.request_id'] === requestId);
    return server !== undefined;
  });
  const client = receiver.spans.find((s) => s.parentSpanId === server!.spanId);
  return { server: server!, client };
}

const USAGE = { input: 1200, output: 345, cacheRead: 800, cacheCreation: 0, reasoning: 0 };

describe.each(['http/protobuf', 'http/json'])('OpenTelemetry over OTLP/HTTP (%s)', (protocol) => {
  let receiver: OtlpReceiver;
  let gw: RunningApp;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    setOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_BSP_SCHEDULE_DELAY: '20',
      OTEL_METRIC_EXPORT_INTERVAL: '3600000',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      // As the Langfuse recipe sets it: Basic auth, percent-encoded.
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Basic%20${Buffer.from('pk-lf-1:sk-lf-2').toString('base64')}`,
    });
    gw = await startApp(providerEnv());
  });
  afterAll(async () => {
    await gw.close();
    await receiver.close();
  });

  it.each(CASES)('$name: one trace, continued from the client and carried upstream, with the counted tokens and cost', async (c) => {
    const ctx = clientContext();
    const requestId = `otel-${randomBytes(6).toString('hex')}`;
    const secret = `PROMPT-${randomBytes(8).toString('hex')}`;
    const answer = `ANSWER-${randomBytes(8).toString('hex')}`;
    fake.script({ text: answer, usage: c.operation === 'embeddings' ? { input: 40, output: 0 } : USAGE });
    const before = fake.requests.length;
    await c.send(gw, { traceparent: ctx.traceparent, 'x-request-id': requestId, 'x-vdm-user': 'alice', 'x-vdm-session': 'sess-42' }, secret);
    const trace = await lastTraceOf(gw, requestId);
    const { server, client } = await spansOf(receiver, gw, requestId);

    // The span tree: the client's span, the gateway's SERVER span, its CLIENT span for the upstream call.
    expect(server.kind).toBe(SERVER);
    expect(server.traceId).toBe(ctx.traceId);
    expect(server.parentSpanId).toBe(ctx.spanId);
    expect(server.name).toBe(`${c.operation} ${c.requested}`);
    expect(client).toBeDefined();
    expect(client!.kind).toBe(CLIENT);
    expect(client!.traceId).toBe(ctx.traceId);
    expect(client!.name).toBe(`${c.operation} ${c.resolved}`);
    // The upstream got the gateway's own context (its CLIENT span), not the client's.
    const sent = fake.requests.slice(before).find((r) => r.path === c.path)!;
    expect(sent.headers.traceparent).toBe(`00-${ctx.traceId}-${client!.spanId}-01`);

    const all = { ...server.attributes, ...client!.attributes };
    const expected = CONTRACT_ATTRIBUTES.filter((a) => c.operation === 'chat' || !['gen_ai.response.id', 'gen_ai.request.max_tokens', 'gen_ai.response.finish_reasons'].includes(a));
    expect(expected.filter((a) => all[a] === undefined)).toEqual([]);
    expect(server.resource['service.name']).toBe('vandamme-gateway');
    expect(server.resource['deployment.environment.name']).toBe('test');

    expect(server.attributes).toMatchObject({
      'gen_ai.operation.name': c.operation,
      'gen_ai.provider.name': c.provider,
      'gen_ai.request.model': c.requested,
      'gen_ai.conversation.id': 'sess-42',
      'user.id': 'alice',
      'http.response.status_code': 200,
      'vdm.request_id': requestId,
      'vdm.client': trace.client,
      'vdm.api': trace.api,
      'vdm.usage_source': 'reported',
      'vdm.cost_usd': trace.cost_usd,
    });
    expect(client!.attributes).toMatchObject({
      'gen_ai.operation.name': c.operation,
      'gen_ai.provider.name': c.provider,
      'gen_ai.request.model': c.resolved,
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
      // The conventions count cache reads and writes as input; the record keeps them apart.
      'gen_ai.usage.input_tokens': trace.input_tokens + trace.cache_read_tokens + trace.cache_creation_tokens,
      'gen_ai.usage.output_tokens': trace.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': trace.cache_read_tokens,
      'gen_ai.usage.cache_creation.input_tokens': trace.cache_creation_tokens,
      'gen_ai.usage.reasoning.output_tokens': trace.reasoning_tokens,
      'gen_ai.usage.cost': trace.cost_usd,
    });
    // The usage is on the CLIENT span only, so a backend adding up a trace's generations counts it once.
    expect(Object.keys(server.attributes).filter((k) => k.startsWith('gen_ai.usage.'))).toEqual([]);
    expect(trace.cost_usd).toBeGreaterThan(0);
    if (c.operation === 'chat') {
      expect(all['gen_ai.request.max_tokens']).toBe(321);
      expect(typeof all['gen_ai.response.id']).toBe('string');
      expect((all['gen_ai.response.finish_reasons'] as string[]).length).toBeGreaterThan(0);
      expect(all['gen_ai.usage.input_tokens']).toBe(USAGE.input + USAGE.cacheRead);
    }
    // Time to first token is an event of the upstream call, for streams.
    expect(client!.events.some((e) => e.name === 'gen_ai.first_token')).toBe(c.stream);
    expect(server.status.code ?? 0).not.toBe(ERROR);

    // Exported in the protocol asked for, with the configured headers.
    expect(receiver.bodies.length).toBeGreaterThan(0);
    expect(new Set(receiver.bodies.map((b) => b.authorization))).toEqual(new Set([`Basic ${Buffer.from('pk-lf-1:sk-lf-2').toString('base64')}`]));
    expect(receiver.bodies.every((b) => b.contentType.includes(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf'))).toBe(true);
    // No message content in any byte exported.
    expect(receiver.allBytes.includes(secret)).toBe(false);
    expect(receiver.allBytes.includes(answer)).toBe(false);
  });

  it('an upstream error: both spans carry error.type and an error status', async () => {
    const requestId = `otel-err-${randomBytes(6).toString('hex')}`;
    fake.script({ status: 500, errorMessage: 'boom' });
    await expect(
      openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': requestId } }),
    ).rejects.toThrow();
    const trace = await lastTraceOf(gw, requestId);
    const { server, client } = await spansOf(receiver, gw, requestId);
    expect(trace.error_type).toBeTruthy();
    expect(server.attributes['error.type']).toBe(trace.error_type);
    expect(client!.attributes['error.type']).toBe(trace.error_type);
    expect(server.status.code).toBe(ERROR);
    expect(client!.status.code).toBe(ERROR);
    expect(server.attributes['http.response.status_code']).toBe(500);
    expect(client!.attributes['http.response.status_code']).toBe(500);
    // A trace of its own: without a client traceparent the gateway starts one.
    expect(server.parentSpanId).toBeUndefined();
  });

  it('a request refused before it reaches an upstream: a SERVER span alone, with its error.type', async () => {
    const requestId = `otel-bad-${randomBytes(6).toString('hex')}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: '{"model": 5}' });
    expect(res.status).toBe(400);
    const trace = await lastTraceOf(gw, requestId);
    const { server, client } = await spansOf(receiver, gw, requestId);
    expect(client).toBeUndefined();
    expect(server.attributes['error.type']).toBe(trace.error_type);
    expect(server.attributes['http.response.status_code']).toBe(400);
  });

  it('the GenAI metrics over OTLP equal the gateway accounting', async () => {
    await gw.app.get(TelemetryService).flush();
    const logs = (await (await fetch(`${gw.url}/metrics/logs?limit_traces=200`)).json()) as { traces: any[] };
    const counted = logs.traces.filter((t) => t.provider !== null);
    // Cumulative temporality: the last export holds the totals.
    const latest = (metric: string) => {
      const points = receiver.points.filter((p) => p.metric === metric);
      const lastBatch = new Map<string, (typeof points)[number]>();
      for (const p of points) lastBatch.set(JSON.stringify(p.attributes), p);
      return [...lastBatch.values()];
    };
    const tokens = latest('gen_ai.client.token.usage');
    const sum = (type: string) => tokens.filter((p) => p.attributes['gen_ai.token.type'] === type).reduce((s, p) => s + p.sum!, 0);
    const reported = counted.filter((t) => t.usage_source !== 'none');
    expect(sum('input')).toBe(reported.reduce((s, t) => s + t.input_tokens + t.cache_read_tokens + t.cache_creation_tokens, 0));
    expect(sum('output')).toBe(reported.reduce((s, t) => s + t.output_tokens, 0));
    const durations = latest('gen_ai.client.operation.duration');
    expect(durations.reduce((s, p) => s + p.count!, 0)).toBe(logs.traces.length);
    expect(latest('gen_ai.server.time_to_first_token').reduce((s, p) => s + p.count!, 0)).toBe(logs.traces.filter((t) => t.ttft_ms !== null && t.ttft_ms !== undefined).length);
    const cost = latest('vdm.gen_ai.cost').reduce((s, p) => s + p.value!, 0);
    expect(cost).toBeCloseTo(logs.traces.reduce((s, t) => s + (t.cost_usd ?? 0), 0), 9);
    expect(tokens[0].unit).toBe('{token}');
  });
});

describe('a collector that fails', () => {
  let receiver: OtlpReceiver;
  let gw: RunningApp;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    setOtelEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '10',
      OTEL_BSP_MAX_QUEUE_SIZE: '2',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
      OTEL_EXPORTER_OTLP_TIMEOUT: '300',
      OTEL_METRIC_EXPORT_INTERVAL: '3600000',
    });
    gw = await startApp({ ...providerEnv(), SHUTDOWN_GRACE_SECONDS: '1' });
  });
  afterAll(async () => {
    await gw.close();
    await receiver.close();
  });

  const dropped = async (reason: string): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`vdm_otel_dropped_spans_total{reason="${reason}"}`));
    return line === undefined ? NaN : Number(line.split(' ').at(-1));
  };

  it('answering 503: requests are served, and the spans it refused are counted as dropped', async () => {
    receiver.mode = 'unavailable';
    expect(await dropped('export_failed')).toBe(0);
    fake.script({});
    const answer = await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.choices[0].message.content).toBeTruthy();
    await eventually(async () => (await dropped('export_failed')) >= 2);
  });

  it('hanging: requests are served, and the spans it cannot take are counted as dropped', async () => {
    receiver.mode = 'hang';
    const total = async (): Promise<number> => (await dropped('queue_full')) + (await dropped('export_failed'));
    const before = await total();
    for (let i = 0; i < 3; i++) {
      fake.script({});
      const answer = await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(answer.choices[0].message.content).toBeTruthy();
    }
    // Six spans, a queue of two and a collector that failed: at least four never wait for it.
    await eventually(async () => (await total()) - before >= 4);
    receiver.release();
  });
});

describe('shutdown', () => {
  it('sends the queued spans on close, and a collector that hangs cannot hold the close past the grace period', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      // Only the traces endpoint: no metrics are sent. A schedule delay of an hour: only the close sends.
      setOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '3600000' });
      let gw = await startApp({ ...providerEnv(), SHUTDOWN_GRACE_SECONDS: '1' });
      fake.script({});
      await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'queued-at-close' } });
      await lastTraceOf(gw, 'queued-at-close');
      expect(receiver.spans).toEqual([]);
      await gw.close();
      expect(receiver.spans.filter((s) => s.attributes['vdm.request_id'] === 'queued-at-close').map((s) => s.kind)).toEqual([SERVER]);
      expect(receiver.spans.filter((s) => s.kind === CLIENT)).toHaveLength(1);
      expect(receiver.bodies.every((b) => b.path === '/v1/traces')).toBe(true);

      receiver.mode = 'hang';
      gw = await startApp({ ...providerEnv(), SHUTDOWN_GRACE_SECONDS: '1' });
      fake.script({});
      await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      const bodies = receiver.bodies.length;
      // Resolves although the export never gets an answer (the test's hook timeout is the bound).
      await gw.close();
      expect(receiver.bodies.length).toBeGreaterThan(bodies);
    } finally {
      await receiver.close();
    }
  });
});

describe('metrics only', () => {
  it('with only the metrics endpoint: the GenAI metrics arrive, no span is made, no traceparent goes upstream', async () => {
    const receiver = await OtlpReceiver.start();
    setOtelEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.url}/v1/metrics`, OTEL_METRIC_EXPORT_INTERVAL: '3600000' });
    const gw = await startApp(providerEnv());
    try {
      fake.script({ usage: { input: 70, output: 9 } });
      const before = fake.requests.length;
      await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'metrics-only' } });
      await lastTraceOf(gw, 'metrics-only');
      await gw.app.get(TelemetryService).flush();
      expect(fake.requests.slice(before)[0].headers.traceparent).toBeUndefined();
      const tokens = receiver.points.filter((p) => p.metric === 'gen_ai.client.token.usage');
      expect(tokens.map((p) => [p.attributes['gen_ai.token.type'], p.sum])).toEqual(expect.arrayContaining([['input', 70], ['output', 9]]));
      expect(receiver.bodies.every((b) => b.path === '/v1/metrics')).toBe(true);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).not.toContain('vdm_otel_dropped_spans_total');
    } finally {
      await gw.close();
      await receiver.close();
    }
  });
});

describe('without OTEL_* variables', () => {
  it('is off: no tracing header goes upstream and no dropped-span family is served', async () => {
    setOtelEnv({});
    const gw = await startApp(providerEnv());
    try {
      expect(gw.app.get(TelemetryService).enabled).toBe(false);
      fake.script({});
      const before = fake.requests.length;
      await openai(gw).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: clientContext().traceparent } });
      expect(fake.requests.slice(before)[0].headers.traceparent).toBeUndefined();
      expect(await (await fetch(`${gw.url}/metrics`)).text()).not.toContain('vdm_otel_dropped_spans_total');
    } finally {
      await gw.close();
    }
  });
});
