/**
 * A scriptable fake LLM provider that speaks the real Anthropic Messages API and
 * OpenAI Chat Completions wire formats over real HTTP on 127.0.0.1.
 *
 * Point the gateway's upstream `base_url` at `fake.url` (Anthropic) or
 * `fake.url + '/v1'` (OpenAI-style base URLs that already end in /v1).
 *
 * Routes (the path decides the protocol):
 *   POST /v1/messages                 Anthropic Messages (stream when body.stream === true)
 *   POST /v1/messages/count_tokens    Anthropic token counting -> {"input_tokens": usage.input}
 *   POST /v1/chat/completions         OpenAI Chat Completions (also /chat/completions)
 *   POST /v1/responses                OpenAI Responses API (also /responses), its real event sequence when streaming
 *   POST /v1/embeddings               OpenAI embeddings (also /embeddings)
 *   GET  /v1/models                   model list (also /models); Anthropic format when the request
 *                                     carries `anthropic-version` or `x-api-key`, OpenAI format otherwise
 *
 * Every routed request is recorded and consumes one script (the queue first, then the default).
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Protocol = 'anthropic' | 'openai';
export type Endpoint = 'messages' | 'count_tokens' | 'chat_completions' | 'responses' | 'embeddings' | 'models' | 'unknown';

export type Fault =
  /** TCP RST right after the request body was read; no status line is sent. */
  | 'reset-before-headers'
  /** Headers and the first part of the body (up to the first content delta / half the JSON), then the socket is destroyed (FIN without the terminating chunk). */
  | 'reset-mid-stream'
  /** A 200 and its headers (an event stream for a streaming request), then at once a TCP RST: no body byte. */
  | 'reset-after-headers'
  /** SSE response (even for non-stream requests): events up to the first content delta, then a malformed event and at once a TCP RST (the peer may or may not read that event). */
  | 'malformed-then-reset'
  /** Read the request, never answer. Socket stays open until the client leaves or close(). */
  | 'stall-before-headers'
  /** Headers and the first part of the body, then silence until the client leaves or close(). */
  | 'stall-mid-stream'
  /** SSE response (even for non-stream requests): a first valid event, then a data line with invalid JSON, then end. */
  | 'malformed-sse'
  /** The full response body (JSON or SSE) cut in half, sent chunked and ended cleanly. */
  | 'truncated-json'
  /** SSE response (even for non-stream requests): first content events, then a protocol error event, then end. */
  | 'error-event-mid-stream'
  /** SSE response (even for non-stream requests): a first valid event, then 1 MiB chunks with no line end, up to 32 MiB or until the client leaves. */
  | 'endless-event'
  /** Every event of the stream before the one that reports the final usage (Anthropic message_delta, the OpenAI usage chunk, the Responses terminal event), then silence until the client leaves or close(). */
  | 'stall-before-usage';

export interface ToolCall {
  name: string;
  input: Record<string, unknown>;
}

export interface Usage {
  input: number;
  output: number;
  cacheRead?: number;
  cacheCreation?: number;
  /** Reasoning tokens, part of `output` (OpenAI `reasoning_tokens`). */
  reasoning?: number;
}

/** What to do for one request. */
export interface Script {
  /** Assistant text. Default: DEFAULT_TEXT without toolCalls, no text with toolCalls. */
  text?: string;
  toolCalls?: ToolCall[];
  /** Default: DEFAULT_USAGE. Anthropic input_tokens = input; OpenAI prompt_tokens = input + cacheRead. */
  usage?: Usage;
  /** Protocol-native value. Default end_turn/stop, or tool_use/tool_calls when toolCalls are given. */
  stopReason?: string;
  /** >= 400: answer with this status and a protocol error body (ignored when `fault` is set); < 400: status of the normal answer. */
  status?: number;
  /** Error `type`, default derived from the status (Anthropic) or status/`errorCode` (OpenAI). */
  errorType?: string;
  errorMessage?: string;
  /** OpenAI error `code`; default derived from the status. */
  errorCode?: string | null;
  fault?: Fault;
  /** Pause between stream events. */
  chunkDelayMs?: number;
  /** Do not start answering until this resolves (the request is already recorded). */
  holdUntil?: Promise<void>;
  /** Streams: awaited after each event is written, before the next (a test paces the stream by what it sees). */
  afterEvent?: (wire: string, index: number) => Promise<void>;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  /** Responses API: end with `response.incomplete` and this reason (e.g. `max_output_tokens`). */
  incompleteReason?: string;
  /** Responses API: end with `response.failed` carrying this error (`errorMessage` is its message). */
  failedCode?: string;
  /** The service tier the answer reports (`service_tier`, Anthropic `usage.service_tier`); default `default` (OpenAI) or `standard` (Anthropic); null leaves it out. */
  serviceTier?: string | null;
  /** Answer without any usage: no `usage` object in a JSON answer, none in any stream event (OpenAI: no usage chunk even when asked). */
  omitUsage?: boolean;
}

export type ScriptSource = Script | ((req: RecordedRequest) => Script);

export interface RecordedRequest {
  /** Position in `fake.requests`. */
  index: number;
  protocol: Protocol;
  endpoint: Endpoint;
  method: string;
  /** Path without query string, e.g. /v1/messages. */
  path: string;
  /** Raw request target including any query string. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON of arbitrary shape (undefined for an empty body); `any` so tests can read fields freely. */
  body: any;
  rawBody: string;
  /** The client (gateway) closed the connection before the response was complete. */
  aborted: boolean;
}

export const DEFAULT_TEXT = 'Hello from the fake upstream.';
export const DEFAULT_USAGE: Readonly<Required<Usage>> = {
  input: 10,
  output: 5,
  cacheRead: 0,
  cacheCreation: 0,
  reasoning: 0,
};

const ANTHROPIC_ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const OPENAI_ERRORS: Readonly<Record<number, { type: string; code: string | null }>> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: null },
  503: { type: 'server_error', code: 'service_unavailable' },
};

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomId(prefix: string, length: number): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += BASE62[b % BASE62.length];
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Split text into word-ish deltas without losing characters. */
function splitText(text: string): string[] {
  return text.split(/(?=\s)/).filter((piece) => piece.length > 0);
}

/** Split a JSON string into `parts` roughly equal, non-empty pieces. */
function splitJson(json: string, parts = 4): string[] {
  const size = Math.max(1, Math.ceil(json.length / parts));
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += size) pieces.push(json.slice(i, i + size));
  return pieces;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A resolved script with all defaults applied. */
interface Plan {
  text: string;
  includeText: boolean;
  toolCalls: ToolCall[];
  usage: Required<Usage>;
  stopReason: string | undefined;
  script: Script;
}

function plan(script: Script): Plan {
  const toolCalls = script.toolCalls ?? [];
  const text = script.text ?? (toolCalls.length > 0 ? '' : DEFAULT_TEXT);
  return {
    text,
    includeText: text !== '' || toolCalls.length === 0,
    toolCalls,
    usage: { ...DEFAULT_USAGE, ...script.usage },
    stopReason: script.stopReason,
    script,
  };
}

/** One SSE event, already serialised. `content` marks events that carry generated content, `usage` the one that reports the final usage. */
interface SseEvent {
  wire: string;
  content: boolean;
  usage?: boolean;
}

function anthropicEvent(name: string, data: unknown, content = false): SseEvent {
  return { wire: `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, content };
}

function openaiEvent(data: unknown, content = false): SseEvent {
  return { wire: `data: ${JSON.stringify(data)}\n\n`, content };
}

interface Body {
  contentType: string;
  /** Full body for JSON responses. */
  json?: string;
  /** Events for SSE responses. */
  events?: SseEvent[];
  /** A Responses API stream: its error and malformed events take that API's shape. */
  responses?: boolean;
}

// ---------------------------------------------------------------- Anthropic

/** The `service_tier` field an answer carries: the script's, else the protocol's standard name; none for null. */
function serviceTierField(p: Plan, standard: string): { service_tier?: string } {
  const tier = p.script.serviceTier === undefined ? standard : p.script.serviceTier;
  return tier === null ? {} : { service_tier: tier };
}

function anthropicUsage(p: Plan, outputTokens: number): Record<string, unknown> {
  const u = p.usage;
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheCreation,
    cache_read_input_tokens: u.cacheRead,
    cache_creation: { ephemeral_5m_input_tokens: u.cacheCreation, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    ...serviceTierField(p, 'standard'),
  };
}

function anthropicMessage(
  p: Plan,
  model: string,
): { id: string; body: Record<string, unknown>; toolIds: string[] } {
  const id = randomId('msg_01', 22);
  const toolIds = p.toolCalls.map(() => randomId('toolu_01', 22));
  const content: Record<string, unknown>[] = [];
  if (p.includeText) content.push({ type: 'text', text: p.text });
  p.toolCalls.forEach((call, i) =>
    content.push({ type: 'tool_use', id: toolIds[i], name: call.name, input: call.input }),
  );
  const body = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: p.stopReason ?? (p.toolCalls.length > 0 ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    ...(p.script.omitUsage ? {} : { usage: anthropicUsage(p, p.usage.output) }),
  };
  return { id, body, toolIds };
}

function anthropicStream(p: Plan, model: string): SseEvent[] {
  const { body, toolIds } = anthropicMessage(p, model);
  const events: SseEvent[] = [];
  events.push(
    anthropicEvent('message_start', {
      type: 'message_start',
      message: {
        ...body,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(p.script.omitUsage ? {} : { usage: anthropicUsage(p, 1) }),
      },
    }),
  );
  let index = 0;
  let pinged = false;
  const ping = (): void => {
    if (!pinged) events.push(anthropicEvent('ping', { type: 'ping' }));
    pinged = true;
  };
  if (p.includeText) {
    events.push(
      anthropicEvent('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      }),
    );
    ping();
    for (const piece of splitText(p.text)) {
      events.push(
        anthropicEvent(
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } },
          true,
        ),
      );
    }
    events.push(anthropicEvent('content_block_stop', { type: 'content_block_stop', index }));
    index++;
  }
  p.toolCalls.forEach((call, i) => {
    events.push(
      anthropicEvent('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: toolIds[i], name: call.name, input: {} },
      }),
    );
    ping();
    // The real API opens every tool input with an empty partial_json.
    for (const piece of ['', ...splitJson(JSON.stringify(call.input))]) {
      events.push(
        anthropicEvent(
          'content_block_delta',
          { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } },
          piece !== '',
        ),
      );
    }
    events.push(anthropicEvent('content_block_stop', { type: 'content_block_stop', index }));
    index++;
  });
  events.push({
    ...anthropicEvent('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: body.stop_reason, stop_sequence: null },
      ...(p.script.omitUsage ? {} : { usage: { output_tokens: p.usage.output } }),
    }),
    usage: true,
  });
  events.push(anthropicEvent('message_stop', { type: 'message_stop' }));
  return events;
}

function anthropicErrorBody(status: number, script: Script, requestId: string): Record<string, unknown> {
  const type =
    script.errorType ??
    ANTHROPIC_ERROR_TYPES[status] ??
    (status >= 500 ? 'api_error' : 'invalid_request_error');
  return {
    type: 'error',
    error: { type, message: script.errorMessage ?? `Fake upstream ${type} (HTTP ${status})` },
    request_id: requestId,
  };
}

// ------------------------------------------------------------------- OpenAI

function openaiUsage(u: Required<Usage>): Record<string, unknown> {
  const prompt = u.input + u.cacheRead;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiFinish(p: Plan): string {
  return p.stopReason ?? (p.toolCalls.length > 0 ? 'tool_calls' : 'stop');
}

function openaiCompletion(p: Plan, model: string): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: p.includeText ? p.text : null,
    refusal: null,
    annotations: [],
  };
  if (p.toolCalls.length > 0) {
    message.tool_calls = p.toolCalls.map((call) => ({
      id: randomId('call_', 24),
      type: 'function',
      function: { name: call.name, arguments: JSON.stringify(call.input) },
    }));
  }
  return {
    id: randomId('chatcmpl-', 29),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openaiFinish(p) }],
    ...(p.script.omitUsage ? {} : { usage: openaiUsage(p.usage) }),
    ...serviceTierField(p, 'default'),
    system_fingerprint: 'fp_fake',
  };
}

function openaiStream(p: Plan, model: string, askedUsage: boolean): SseEvent[] {
  const includeUsage = askedUsage && p.script.omitUsage !== true;
  const base = {
    id: randomId('chatcmpl-', 29),
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    ...serviceTierField(p, 'default'),
    system_fingerprint: 'fp_fake',
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const events: SseEvent[] = [openaiEvent(chunk({ role: 'assistant', content: '', refusal: null }))];
  if (p.includeText) {
    for (const piece of splitText(p.text)) events.push(openaiEvent(chunk({ content: piece }), true));
  }
  p.toolCalls.forEach((call, index) => {
    events.push(
      openaiEvent(
        chunk({
          tool_calls: [
            {
              index,
              id: randomId('call_', 24),
              type: 'function',
              function: { name: call.name, arguments: '' },
            },
          ],
        }),
        true,
      ),
    );
    for (const piece of splitJson(JSON.stringify(call.input))) {
      events.push(openaiEvent(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }), true));
    }
  });
  events.push(openaiEvent(chunk({}, openaiFinish(p))));
  if (includeUsage) events.push({ ...openaiEvent({ ...base, choices: [], usage: openaiUsage(p.usage) }), usage: true });
  events.push({ wire: 'data: [DONE]\n\n', content: false, usage: !includeUsage });
  return events;
}

function openaiErrorBody(status: number, script: Script): Record<string, unknown> {
  const known = OPENAI_ERRORS[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
  };
  const type = script.errorType ?? known.type;
  return {
    error: {
      message: script.errorMessage ?? `Fake upstream ${type} (HTTP ${status})`,
      type,
      param: null,
      code: script.errorCode !== undefined ? script.errorCode : known.code,
    },
  };
}

// ------------------------------------------------------------ Responses API

function responsesUsageOf(u: Required<Usage>): Record<string, unknown> {
  const input = u.input + u.cacheRead;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheRead },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning },
    total_tokens: input + u.output,
  };
}

type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

function responseObject(
  id: string,
  body: Record<string, unknown>,
  model: string,
  status: ResponseStatus,
  output: unknown[],
  p: Plan,
): Record<string, unknown> {
  const finished = status !== 'in_progress';
  return {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status,
    background: false,
    error: status === 'failed' ? { code: p.script.failedCode, message: p.script.errorMessage ?? 'The model failed' } : null,
    incomplete_details: status === 'incomplete' ? { reason: p.script.incompleteReason } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    ...serviceTierField(p, 'default'),
    store: body.store ?? true,
    temperature: 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_p: 1,
    truncation: 'disabled',
    usage: finished && p.script.omitUsage !== true ? responsesUsageOf(p.usage) : null,
    user: null,
    metadata: {},
  };
}

function responsesStatus(p: Plan): ResponseStatus {
  if (p.script.failedCode !== undefined) return 'failed';
  return p.script.incompleteReason !== undefined ? 'incomplete' : 'completed';
}

/** The output items, each in its in-progress (added) and finished (done) form, with the deltas between. */
interface OutputItem {
  added: Record<string, unknown>;
  done: Record<string, unknown>;
  /** Events between added and done, given the item's output index and the next sequence number. */
  between: (index: number, seq: () => number) => SseEvent[];
}

function responsesEvent(type: string, data: Record<string, unknown>, content = false): SseEvent {
  return { wire: `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`, content };
}

function outputItems(p: Plan): OutputItem[] {
  const items: OutputItem[] = [];
  if (p.usage.reasoning > 0) {
    const reasoning = { id: randomId('rs_', 48), type: 'reasoning', summary: [] };
    items.push({ added: reasoning, done: reasoning, between: () => [] });
  }
  if (p.includeText) {
    const id = randomId('msg_', 48);
    const part = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text });
    const message = (status: string, content: unknown[]) => ({ id, type: 'message', status, content, role: 'assistant' });
    items.push({
      added: message('in_progress', []),
      done: message(p.script.incompleteReason !== undefined ? 'incomplete' : 'completed', [part(p.text)]),
      between: (index, seq) => [
        responsesEvent('response.content_part.added', { sequence_number: seq(), item_id: id, output_index: index, content_index: 0, part: part('') }),
        ...splitText(p.text).map((delta) =>
          responsesEvent('response.output_text.delta', { sequence_number: seq(), item_id: id, output_index: index, content_index: 0, delta, logprobs: [] }, true),
        ),
        responsesEvent('response.output_text.done', { sequence_number: seq(), item_id: id, output_index: index, content_index: 0, text: p.text, logprobs: [] }),
        responsesEvent('response.content_part.done', { sequence_number: seq(), item_id: id, output_index: index, content_index: 0, part: part(p.text) }),
      ],
    });
  }
  for (const call of p.toolCalls) {
    const id = randomId('fc_', 48);
    const args = JSON.stringify(call.input);
    const item = (status: string, argumentsText: string) => ({ id, type: 'function_call', status, arguments: argumentsText, call_id: randomId('call_', 24), name: call.name });
    const added = item('in_progress', '');
    items.push({
      added,
      done: { ...added, status: 'completed', arguments: args },
      between: (index, seq) => [
        ...splitJson(args).map((delta) =>
          responsesEvent('response.function_call_arguments.delta', { sequence_number: seq(), item_id: id, output_index: index, delta }, true),
        ),
        responsesEvent('response.function_call_arguments.done', { sequence_number: seq(), item_id: id, output_index: index, name: call.name, arguments: args }),
      ],
    });
  }
  return items;
}

function responsesAnswer(p: Plan, body: Record<string, unknown>, model: string): Record<string, unknown> {
  return responseObject(randomId('resp_', 48), body, model, responsesStatus(p), outputItems(p).map((item) => item.done), p);
}

function responsesStream(p: Plan, body: Record<string, unknown>, model: string): SseEvent[] {
  const id = randomId('resp_', 48);
  let n = 0;
  const seq = (): number => n++;
  const items = outputItems(p);
  const events: SseEvent[] = [
    responsesEvent('response.created', { sequence_number: seq(), response: responseObject(id, body, model, 'in_progress', [], p) }),
    responsesEvent('response.in_progress', { sequence_number: seq(), response: responseObject(id, body, model, 'in_progress', [], p) }),
  ];
  items.forEach((item, index) => {
    events.push(responsesEvent('response.output_item.added', { sequence_number: seq(), output_index: index, item: item.added }));
    events.push(...item.between(index, seq));
    events.push(responsesEvent('response.output_item.done', { sequence_number: seq(), output_index: index, item: item.done }));
  });
  const status = responsesStatus(p);
  events.push({ ...responsesEvent(`response.${status}`, { sequence_number: seq(), response: responseObject(id, body, model, status, items.map((item) => item.done), p) }), usage: true });
  return events;
}

function embeddingsAnswer(p: Plan, body: Record<string, unknown>, model: string): Record<string, unknown> {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  return {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.0023064255, -0.009327292, 0.015797347] })),
    model,
    ...(p.script.omitUsage ? {} : { usage: { prompt_tokens: p.usage.input, total_tokens: p.usage.input } }),
  };
}

// ------------------------------------------------------------------- server

function route(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
): { protocol: Protocol; endpoint: Endpoint } {
  const looksAnthropic = headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined;
  if (method === 'POST' && path === '/v1/messages') return { protocol: 'anthropic', endpoint: 'messages' };
  if (method === 'POST' && path === '/v1/messages/count_tokens')
    return { protocol: 'anthropic', endpoint: 'count_tokens' };
  if (method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
    return { protocol: 'openai', endpoint: 'chat_completions' };
  }
  if (method === 'POST' && (path === '/v1/responses' || path === '/responses')) return { protocol: 'openai', endpoint: 'responses' };
  if (method === 'POST' && (path === '/v1/embeddings' || path === '/embeddings')) return { protocol: 'openai', endpoint: 'embeddings' };
  if (method === 'GET' && (path === '/v1/models' || path === '/models')) {
    return { protocol: looksAnthropic ? 'anthropic' : 'openai', endpoint: 'models' };
  }
  return {
    protocol: looksAnthropic || path.startsWith('/v1/messages') ? 'anthropic' : 'openai',
    endpoint: 'unknown',
  };
}

export class FakeUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];

  private defaultScript: ScriptSource = {};
  private readonly queue: ScriptSource[] = [];
  /** Open sockets, each with a promise that settles on its 'close' event. */
  private readonly sockets = new Map<Socket, Promise<void>>();
  private readonly closedByFake = new WeakSet<Socket>();
  private readonly closedSignals = new Map<number, Deferred>();
  private readonly onSocketClose = new WeakMap<Socket, (() => void)[]>();
  private readonly requestWaiters: { n: number; resolve: () => void }[] = [];
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly shutdown = deferred();
  private closing = false;

  private constructor(private readonly server: http.Server) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    server.on('connection', (socket: Socket) => {
      socket.on('error', () => undefined);
      const gone = new Promise<void>((resolve) => {
        socket.on('close', () => {
          this.sockets.delete(socket);
          for (const callback of this.onSocketClose.get(socket) ?? []) callback();
          this.onSocketClose.delete(socket);
          resolve();
        });
      });
      this.sockets.set(socket, gone);
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug in the fake itself: answer loudly rather than hang the test.
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(599, { 'content-type': 'text/plain' });
          res.end(
            `fake upstream crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          );
        } else {
          res.destroy();
        }
      });
    });
  }

  static async start(): Promise<FakeUpstream> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FakeUpstream(server);
  }

  /** Set the default script used once the queue is empty. */
  script(next: ScriptSource): void {
    this.defaultScript = next;
  }

  /** Scripts consumed in order by the next requests, before the default. */
  enqueue(...scripts: ScriptSource[]): void {
    this.queue.push(...scripts);
  }

  /** Resolves once at least `n` requests have been recorded. */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.requestWaiters.push({ n, resolve }));
  }

  /**
   * Resolves when the TCP connection that carried request `i` has closed (for any reason; check
   * `requests[i].aborted` to know whether the client left before the response was complete).
   * A keep-alive connection whose response completed stays open until the client drops it or close().
   */
  closed(i: number): Promise<void> {
    return this.closedSignal(i).promise;
  }

  openConnections(): number {
    return this.sockets.size;
  }

  /** Destroys every socket, cancels every timer and stops listening. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.shutdown.resolve();
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
    const socketsClosed = [...this.sockets.values()];
    for (const socket of this.sockets.keys()) {
      this.closedByFake.add(socket);
      socket.destroy();
    }
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await Promise.all([serverClosed, ...socketsClosed]);
  }

  // ---------------------------------------------------------------- internals

  private closedSignal(i: number): Deferred {
    let signal = this.closedSignals.get(i);
    if (!signal) {
      signal = deferred();
      this.closedSignals.set(i, signal);
    }
    return signal;
  }

  private nextScript(req: RecordedRequest): Script {
    const source = this.queue.shift() ?? this.defaultScript;
    return typeof source === 'function' ? source(req) : source;
  }

  private delay(ms: number): Promise<void> {
    if (ms <= 0 || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.timers.set(timer, resolve);
    });
  }

  private async readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const socket = req.socket;
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const { protocol, endpoint } = route(method, path, req.headers);

    let rawBody: string;
    try {
      rawBody = await this.readBody(req);
    } catch {
      return; // client went away while sending the body
    }
    let body: unknown = undefined;
    let badJson = false;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody) as unknown;
      } catch {
        badJson = true;
      }
    }

    const recorded: RecordedRequest = {
      index: this.requests.length,
      protocol,
      endpoint,
      method,
      path,
      url: rawUrl,
      headers: req.headers,
      body,
      rawBody,
      aborted: false,
    };
    this.requests.push(recorded);
    const signal = this.closedSignal(recorded.index);
    const markAborted = (): void => {
      if (!res.writableEnded && !this.closedByFake.has(socket)) recorded.aborted = true;
    };
    res.on('close', markAborted);
    const onSocketClose = (): void => {
      markAborted();
      signal.resolve();
    };
    if (socket.destroyed) onSocketClose();
    else {
      const callbacks = this.onSocketClose.get(socket) ?? [];
      callbacks.push(onSocketClose);
      this.onSocketClose.set(socket, callbacks);
    }
    for (let i = this.requestWaiters.length - 1; i >= 0; i--) {
      const waiter = this.requestWaiters[i];
      if (this.requests.length >= waiter.n) {
        this.requestWaiters.splice(i, 1);
        waiter.resolve();
      }
    }

    const requestId =
      protocol === 'anthropic' ? randomId('req_011', 21) : `req_${randomBytes(16).toString('hex')}`;
    const baseHeaders: Record<string, string> =
      protocol === 'anthropic'
        ? { 'request-id': requestId }
        : { 'x-request-id': requestId, 'openai-version': '2020-10-01', 'openai-processing-ms': '1' };

    if (endpoint === 'unknown') {
      this.sendError(
        res,
        protocol,
        404,
        { errorMessage: `Not found: ${method} ${path}` },
        baseHeaders,
        requestId,
      );
      return;
    }
    if (badJson || (method === 'POST' && !isRecord(body))) {
      this.sendError(
        res,
        protocol,
        400,
        { errorMessage: 'Request body is not a JSON object' },
        baseHeaders,
        requestId,
      );
      return;
    }

    const script = this.nextScript(recorded);
    const headers = { ...baseHeaders, ...script.headers };
    if (script.holdUntil) await Promise.race([script.holdUntil, this.shutdown.promise]);
    if (this.gone(res)) return;

    if (script.fault === 'reset-before-headers') {
      this.reset(socket);
      return;
    }
    if (script.fault === 'stall-before-headers') return;
    if (script.fault === undefined && script.status !== undefined && script.status >= 400) {
      this.sendError(res, protocol, script.status, script, headers, requestId);
      return;
    }

    const response = this.buildBody(protocol, endpoint, isRecord(body) ? body : {}, script);
    await this.send(res, socket, protocol, response, script, headers);
  }

  private buildBody(
    protocol: Protocol,
    endpoint: Endpoint,
    body: Record<string, unknown>,
    script: Script,
  ): Body {
    const p = plan(script);
    const model = typeof body.model === 'string' ? body.model : 'unknown-model';
    const forceSse =
      script.fault === 'malformed-sse' || script.fault === 'malformed-then-reset' || script.fault === 'error-event-mid-stream' || script.fault === 'endless-event';
    const stream = body.stream === true || forceSse;
    const sse = 'text/event-stream; charset=utf-8';
    const json = 'application/json';

    switch (endpoint) {
      case 'messages':
        return stream
          ? { contentType: sse, events: anthropicStream(p, model) }
          : { contentType: json, json: JSON.stringify(anthropicMessage(p, model).body) };
      case 'chat_completions': {
        const options = body.stream_options;
        const includeUsage = isRecord(options) && options.include_usage === true;
        return stream
          ? { contentType: sse, events: openaiStream(p, model, includeUsage) }
          : { contentType: json, json: JSON.stringify(openaiCompletion(p, model)) };
      }
      case 'responses':
        return stream
          ? { contentType: sse, events: responsesStream(p, body, model), responses: true }
          : { contentType: json, json: JSON.stringify(responsesAnswer(p, body, model)) };
      case 'embeddings':
        return { contentType: json, json: JSON.stringify(embeddingsAnswer(p, body, model)) };
      case 'count_tokens':
        return { contentType: json, json: JSON.stringify({ input_tokens: p.usage.input }) };
      case 'models': {
        const ids = ['fake-model-1', 'fake-model-2'];
        const payload =
          protocol === 'anthropic'
            ? {
                data: ids.map((id) => ({
                  type: 'model',
                  id,
                  display_name: id,
                  created_at: '2025-01-01T00:00:00Z',
                })),
                has_more: false,
                first_id: ids[0],
                last_id: ids[ids.length - 1],
              }
            : {
                object: 'list',
                data: ids.map((id) => ({ id, object: 'model', created: 1735689600, owned_by: 'fake' })),
              };
        return { contentType: json, json: JSON.stringify(payload) };
      }
      case 'unknown':
        return { contentType: json, json: '{}' };
    }
  }

  private async send(
    res: http.ServerResponse,
    socket: Socket,
    protocol: Protocol,
    response: Body,
    script: Script,
    headers: Record<string, string>,
  ): Promise<void> {
    const fault = script.fault;
    const status = script.status !== undefined && script.status < 400 ? script.status : 200;

    // Non-streaming JSON body.
    if (response.json !== undefined) {
      const json = response.json;
      if (fault === undefined || fault === 'reset-before-headers' || fault === 'stall-before-headers') {
        res.writeHead(status, {
          'content-type': response.contentType,
          'content-length': String(Buffer.byteLength(json)),
          ...headers,
        });
        res.end(json);
        return;
      }
      // Faulty bodies go out chunked (no content-length) so the framing itself stays valid.
      res.writeHead(status, { 'content-type': response.contentType, ...headers });
      const half = json.slice(0, Math.floor(json.length / 2));
      switch (fault) {
        case 'truncated-json':
          res.end(half); // ended cleanly: valid HTTP framing, invalid JSON
          return;
        case 'reset-mid-stream':
          await this.write(res, half);
          this.abortMidBody(socket);
          return;
        case 'reset-after-headers':
          res.flushHeaders();
          this.reset(socket);
          return;
        case 'stall-mid-stream':
        case 'stall-before-usage':
          await this.write(res, half);
          return;
        case 'malformed-sse':
        case 'malformed-then-reset':
        case 'error-event-mid-stream':
        case 'endless-event':
          res.end(json); // unreachable: these faults always produce an SSE body
          return;
      }
    }

    res.writeHead(status, { 'content-type': response.contentType, 'cache-control': 'no-cache', ...headers });
    res.flushHeaders();
    if (fault === 'reset-after-headers') {
      // The headers were handed to the kernel before the RST, so the peer reads them; nothing else.
      this.reset(socket);
      return;
    }

    // SSE body.
    const events = response.events ?? [];
    const firstContent = events.findIndex((e) => e.content);
    const cut = firstContent >= 0 ? firstContent + 1 : Math.ceil(events.length / 2);
    let toSend: string[];
    switch (fault) {
      case 'truncated-json': {
        const all = events.map((e) => e.wire).join('');
        toSend = [all.slice(0, Math.floor(all.length / 2))];
        break;
      }
      case 'malformed-sse':
      case 'malformed-then-reset': {
        const bad = response.responses
          ? 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"oops\n\n'
          : protocol === 'anthropic'
            ? 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"oops\n\n'
            : 'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops\n\n';
        toSend = fault === 'malformed-sse' ? [events[0]?.wire ?? '', bad] : [...events.slice(0, cut).map((e) => e.wire), bad];
        break;
      }
      case 'error-event-mid-stream': {
        const type = script.errorType ?? (protocol === 'anthropic' ? 'overloaded_error' : 'server_error');
        const message = script.errorMessage ?? 'Overloaded';
        const error = response.responses
          ? responsesEvent('error', { code: script.errorCode ?? type, message, param: null, sequence_number: cut })
          : protocol === 'anthropic'
            ? anthropicEvent('error', { type: 'error', error: { type, message } })
            : openaiEvent({ error: { message, type, param: null, code: script.errorCode ?? null } });
        toSend = [...events.slice(0, cut).map((e) => e.wire), error.wire];
        break;
      }
      case 'reset-mid-stream':
      case 'stall-mid-stream':
        toSend = events.slice(0, cut).map((e) => e.wire);
        break;
      case 'stall-before-usage': {
        const usageAt = events.findIndex((e) => e.usage === true);
        toSend = events.slice(0, usageAt < 0 ? events.length : usageAt).map((e) => e.wire);
        break;
      }
      case 'endless-event': {
        const mib = 'x'.repeat(1024 * 1024);
        toSend = [events[0]?.wire ?? '', `data: {"never":"${mib}`, ...Array.from({ length: 31 }, () => mib)];
        break;
      }
      case 'reset-before-headers':
      case 'stall-before-headers':
      case undefined:
        toSend = events.map((e) => e.wire);
        break;
    }

    for (let i = 0; i < toSend.length; i++) {
      if (i > 0) await this.delay(script.chunkDelayMs ?? 0);
      if (this.gone(res)) return;
      if (fault === 'malformed-then-reset' && i === toSend.length - 1) {
        // Not awaited: the RST follows the malformed event at once.
        res.write(toSend[i] ?? '');
        this.reset(socket);
        return;
      }
      await this.write(res, toSend[i] ?? '');
      if (script.afterEvent) await Promise.race([script.afterEvent(toSend[i] ?? '', i), this.shutdown.promise]);
    }
    if (this.gone(res) || fault === 'stall-mid-stream' || fault === 'stall-before-usage') return;
    if (fault === 'reset-mid-stream') {
      this.abortMidBody(socket);
      return;
    }
    res.end();
  }

  private sendError(
    res: http.ServerResponse,
    protocol: Protocol,
    status: number,
    script: Script,
    headers: Record<string, string>,
    requestId: string,
  ): void {
    const body =
      protocol === 'anthropic'
        ? anthropicErrorBody(status, script, requestId)
        : openaiErrorBody(status, script);
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(json)),
      ...headers,
    });
    res.end(json);
  }

  private reset(socket: Socket): void {
    if (socket.destroyed) return;
    this.closedByFake.add(socket);
    socket.resetAndDestroy();
  }

  /** Write and wait until the data has been handed to the kernel (or the response died). */
  private write(res: http.ServerResponse, data: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.gone(res)) {
        resolve();
        return;
      }
      res.write(data, () => resolve());
    });
  }

  /**
   * Kill the connection after part of the body was sent. A plain destroy (FIN, no terminating
   * chunk) rather than an RST, so the client reliably receives the partial body before the error.
   */
  private abortMidBody(socket: Socket): void {
    if (socket.destroyed) return;
    this.closedByFake.add(socket);
    socket.destroy();
  }

  private gone(res: http.ServerResponse): boolean {
    return this.closing || res.destroyed;
  }
}
