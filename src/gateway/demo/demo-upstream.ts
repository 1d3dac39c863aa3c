import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the demo model says: each answer is a run of these words, wrapping around at the end. */
export const DEMO_TEXT =
  'The gateway forwards this request to a simulated model so you can watch metrics move. ' +
  'Tokens stream at a steady pace, usage is reported the way real providers report it, ' +
  'cache reads appear on repeated prompts, and now and then the model decides to call a tool.';
const WORDS = DEMO_TEXT.split(' ');

interface DemoRequest {
  model?: unknown;
  stream?: unknown;
  tools?: unknown;
  max_tokens?: unknown;
  stream_options?: { include_usage?: unknown };
  input?: unknown;
  instructions?: unknown;
  max_output_tokens?: unknown;
  previous_response_id?: unknown;
  store?: unknown;
  dimensions?: unknown;
  encoding_format?: unknown;
}

/** The OpenAI embeddings API's own bounds: at most 2048 inputs a request; the demo caps dimensions too. */
const MAX_EMBEDDING_INPUTS = 2048;
const MAX_EMBEDDING_DIMENSIONS = 1536;
const DEFAULT_EMBEDDING_DIMENSIONS = 256;

interface Answer {
  words: string[];
  tool?: { id: string; name: string; args: string };
  input: number;
  cacheRead: number;
  cacheCreation: number;
  /** Reasoning tokens (reported by the Responses API only), part of the output tokens. */
  reasoning: number;
}

/** The first tool the model can call as a function: Anthropic and Responses tools name it at the top, Chat Completions under `function`. */
function toolName(tools: unknown): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const tool of tools as { type?: unknown; name?: unknown; function?: { name?: unknown } }[]) {
    if (tool === null || typeof tool !== 'object') continue;
    if (tool.type !== undefined && tool.type !== 'function' && tool.type !== 'custom') continue;
    const name = tool.name ?? tool.function?.name;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

/** Tokens of one embeddings input: a string at about four characters a token, or an array of token ids. */
function embeddingTokens(input: unknown): number {
  if (typeof input === 'string') return Math.max(1, Math.ceil(input.length / 4));
  return Array.isArray(input) ? Math.max(1, input.length) : 1;
}

/** A unit vector that depends only on the input, so equal texts get equal embeddings. */
function embeddingOf(input: unknown, dimensions: number): number[] {
  const seed = createHash('sha256').update(JSON.stringify(input) ?? '').digest().readUInt32LE(0);
  const v = Array.from({ length: dimensions }, (_, i) => Math.sin(seed + (i + 1) * 12.9898));
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/**
 * The built-in `demo` provider: a small simulated upstream on a loopback port, reached over real
 * HTTP through the same client code as any provider. Speaks Anthropic Messages, OpenAI Chat Completions,
 * the Responses API and embeddings.
 */
export class DemoUpstream {
  private counter = 0;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly tokenDelayMs: number,
  ) {}

  static async start(tokenDelayMs: number): Promise<DemoUpstream> {
    const server = http.createServer();
    const demo = new DemoUpstream(server, tokenDelayMs);
    server.on('request', (req, res) => demo.handle(req, res));
    server.on('connection', (s) => {
      demo.sockets.add(s);
      s.on('close', () => demo.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return demo;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: DemoRequest = {};
      const raw = Buffer.concat(chunks);
      try {
        body = JSON.parse(raw.toString('utf8')) as DemoRequest;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"invalid JSON"}}');
        return;
      }
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/messages/count_tokens') {
        this.json(res, { input_tokens: Math.max(1, Math.ceil(raw.length / 4)) });
      } else if (path === '/v1/messages') {
        void this.anthropic(res, body, this.answer(body, raw.length));
      } else if (path === '/v1/chat/completions') {
        void this.openai(res, body, this.answer(body, raw.length));
      } else if (path === '/v1/responses') {
        void this.responses(res, body, this.answer(body, raw.length));
      } else if (path === '/v1/embeddings') {
        this.embeddings(res, body);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      }
    });
  }

  private answer(body: DemoRequest, size: number): Answer {
    const n = ++this.counter;
    const length = 12 + (n * 7) % 28;
    const start = (n * 5) % WORDS.length;
    const words = Array.from({ length }, (_, i) => WORDS[(start + i) % WORDS.length]);
    const name = toolName(body.tools);
    const input = Math.max(8, Math.ceil(size / 4));
    return {
      words,
      tool: name && n % 3 === 0 ? { id: `call_demo_${n}`, name, args: JSON.stringify({ query: 'demo' }) } : undefined,
      input,
      cacheRead: n % 2 === 0 ? Math.floor(input * 0.6) : 0,
      cacheCreation: n % 5 === 1 ? Math.floor(input * 0.3) : 0,
      reasoning: 4 + (n * 3) % 20,
    };
  }

  private json(res: http.ServerResponse, body: unknown, status = 200): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private invalid(res: http.ServerResponse, message: string, param: string): void {
    this.json(res, { error: { message, type: 'invalid_request_error', param, code: null } }, 400);
  }

  private pause(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.tokenDelayMs));
  }

  private async anthropic(res: http.ServerResponse, body: DemoRequest, a: Answer): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : 'demo';
    const id = `msg_demo_${this.counter}`;
    const stop = a.tool ? 'tool_use' : 'end_turn';
    const usage = { input_tokens: a.input, cache_read_input_tokens: a.cacheRead, cache_creation_input_tokens: a.cacheCreation };
    const output = a.words.length + (a.tool ? 8 : 0);
    if (body.stream !== true) {
      const content: unknown[] = [{ type: 'text', text: a.words.join(' ') }];
      if (a.tool) content.push({ type: 'tool_use', id: a.tool.id, name: a.tool.name, input: JSON.parse(a.tool.args) as unknown });
      await this.pause();
      this.json(res, { id, type: 'message', role: 'assistant', model, content, stop_reason: stop, stop_sequence: null, usage: { ...usage, output_tokens: output } });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event: string, data: unknown): boolean => !res.destroyed && res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    send('ping', { type: 'ping' });
    for (let i = 0; i < a.words.length; i++) {
      await this.pause();
      if (!send('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: (i ? ' ' : '') + a.words[i] } }) && res.destroyed) return;
    }
    send('content_block_stop', { type: 'content_block_stop', index: 0 });
    if (a.tool) {
      send('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: a.tool.id, name: a.tool.name, input: {} } });
      send('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: a.tool.args } });
      send('content_block_stop', { type: 'content_block_stop', index: 1 });
    }
    send('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: output } });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }

  private async openai(res: http.ServerResponse, body: DemoRequest, a: Answer): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : 'demo';
    const id = `chatcmpl-demo-${this.counter}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = a.tool ? 'tool_calls' : 'stop';
    const output = a.words.length + (a.tool ? 8 : 0);
    const usage = {
      prompt_tokens: a.input + a.cacheRead,
      completion_tokens: output,
      total_tokens: a.input + a.cacheRead + output,
      prompt_tokens_details: { cached_tokens: a.cacheRead },
    };
    const toolCalls = a.tool ? [{ id: a.tool.id, type: 'function', function: { name: a.tool.name, arguments: a.tool.args } }] : undefined;
    if (body.stream !== true) {
      await this.pause();
      this.json(res, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: a.words.join(' '), ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: finish }],
        usage,
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (delta: unknown, finishReason: string | null = null): boolean =>
      !res.destroyed && res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`);
    chunk({ role: 'assistant', content: '' });
    for (let i = 0; i < a.words.length; i++) {
      await this.pause();
      if (!chunk({ content: (i ? ' ' : '') + a.words[i] }) && res.destroyed) return;
    }
    if (a.tool) chunk({ tool_calls: [{ index: 0, id: a.tool.id, type: 'function', function: { name: a.tool.name, arguments: a.tool.args } }] });
    chunk({}, finish);
    if (body.stream_options?.include_usage === true) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }
  /** The Responses API: a reasoning item, the message, now and then a function call, and the usage in `response.completed`. */
  private async responses(res: http.ServerResponse, body: DemoRequest, a: Answer): Promise<void> {
    const model = typeof body.model === 'string' ? body.model : 'demo';
    const n = this.counter;
    const id = `resp_demo_${n}`;
    const text = a.words.join(' ');
    const output = a.words.length + (a.tool ? 8 : 0) + a.reasoning;
    const usage = {
      input_tokens: a.input + a.cacheRead,
      input_tokens_details: { cached_tokens: a.cacheRead },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: a.reasoning },
      total_tokens: a.input + a.cacheRead + output,
    };
    const reasoning = { id: `rs_demo_${n}`, type: 'reasoning', summary: [] };
    const part = (t: string) => ({ type: 'output_text', annotations: [], logprobs: [], text: t });
    const message = (status: string, content: unknown[]) => ({ id: `msg_demo_${n}`, type: 'message', status, content, role: 'assistant' });
    const call = (status: string, args: string) =>
      a.tool ? { id: `fc_demo_${n}`, type: 'function_call', status, arguments: args, call_id: a.tool.id, name: a.tool.name } : undefined;
    const done = [reasoning, message('completed', [part(text)]), ...(a.tool ? [call('completed', a.tool.args)] : [])];
    const response = (status: string, out: unknown[], u: unknown) => ({
      id, object: 'response', created_at: Math.floor(Date.now() / 1000), status, background: false, error: null, incomplete_details: null,
      instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, model, output: out,
      parallel_tool_calls: true, previous_response_id: body.previous_response_id ?? null, reasoning: { effort: null, summary: null },
      service_tier: 'default', store: body.store ?? true, temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' },
      tool_choice: 'auto', tools: Array.isArray(body.tools) ? body.tools : [], top_p: 1, truncation: 'disabled', usage: u, user: null, metadata: {},
    });
    if (body.stream !== true) {
      await this.pause();
      this.json(res, response('completed', done, usage));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let seq = 0;
    const send = (type: string, data: Record<string, unknown>): boolean =>
      !res.destroyed && res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
    send('response.created', { response: response('in_progress', [], null) });
    send('response.in_progress', { response: response('in_progress', [], null) });
    send('response.output_item.added', { output_index: 0, item: reasoning });
    send('response.output_item.done', { output_index: 0, item: reasoning });
    const item = { item_id: `msg_demo_${n}`, output_index: 1, content_index: 0 };
    send('response.output_item.added', { output_index: 1, item: message('in_progress', []) });
    send('response.content_part.added', { ...item, part: part('') });
    for (let i = 0; i < a.words.length; i++) {
      await this.pause();
      if (!send('response.output_text.delta', { ...item, delta: (i ? ' ' : '') + a.words[i], logprobs: [] }) && res.destroyed) return;
    }
    send('response.output_text.done', { ...item, text, logprobs: [] });
    send('response.content_part.done', { ...item, part: part(text) });
    send('response.output_item.done', { output_index: 1, item: done[1] });
    if (a.tool) {
      send('response.output_item.added', { output_index: 2, item: call('in_progress', '') });
      send('response.function_call_arguments.delta', { item_id: `fc_demo_${n}`, output_index: 2, delta: a.tool.args });
      send('response.function_call_arguments.done', { item_id: `fc_demo_${n}`, output_index: 2, name: a.tool.name, arguments: a.tool.args });
      send('response.output_item.done', { output_index: 2, item: done[2] });
    }
    send('response.completed', { response: response('completed', done, usage) });
    res.end();
  }

  /** The embeddings API: one unit vector per input, as floats or base64 little-endian float32 (what the OpenAI SDK asks for). */
  private embeddings(res: http.ServerResponse, body: DemoRequest): void {
    const model = typeof body.model === 'string' ? body.model : 'demo';
    const inputs: unknown[] =
      Array.isArray(body.input) && body.input.length > 0 && typeof body.input[0] !== 'number' ? body.input : [body.input];
    if (body.input === undefined || inputs.length > MAX_EMBEDDING_INPUTS) {
      this.invalid(res, `'input' must be a string or an array of at most ${MAX_EMBEDDING_INPUTS} inputs`, 'input');
      return;
    }
    const dimensions = body.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
    if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBEDDING_DIMENSIONS) {
      this.invalid(res, `'dimensions' must be an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}`, 'dimensions');
      return;
    }
    const base64 = body.encoding_format === 'base64';
    const data = inputs.map((input, index) => {
      const v = embeddingOf(input, dimensions);
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v };
    });
    const tokens = inputs.reduce<number>((sum, input) => sum + embeddingTokens(input), 0);
    this.json(res, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }
}
