import http from 'node:http';
import type { AddressInfo } from 'node:net';

const WORDS = (
  'The gateway forwards this request to a simulated model so you can watch metrics move. ' +
  'Tokens stream at a steady pace, usage is reported the way real providers report it, ' +
  'cache reads appear on repeated prompts, and now and then the model decides to call a tool.'
).split(' ');

interface DemoRequest {
  model?: unknown;
  stream?: unknown;
  tools?: unknown;
  max_tokens?: unknown;
  stream_options?: { include_usage?: unknown };
}

interface Answer {
  words: string[];
  tool?: { id: string; name: string; args: string };
  input: number;
  cacheRead: number;
  cacheCreation: number;
}

function toolName(tools: unknown): string | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const t = tools[0] as { name?: unknown; function?: { name?: unknown } };
  const name = t.name ?? t.function?.name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The built-in `demo` provider: a small simulated upstream on a loopback port, reached over real
 * HTTP through the same client code as any provider. Speaks both Anthropic and OpenAI formats.
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
    };
  }

  private json(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
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
}
