/**
 * A lean fake Anthropic upstream for throughput benches: fixed, pre-serialised answers, no
 * recording, no scripting. A body containing `hold_ms=N` is answered after N ms, or (N >= 600000)
 * only when GET /__release is called. Run as a child process; reports its port over IPC.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStats } from './ipc-stats';

const MESSAGE = JSON.stringify({
  id: 'msg_01bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-bench',
  content: [{ type: 'text', text: 'Hello from the lean upstream.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 3, output_tokens: 7 },
});

const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const STREAM = [
  event('message_start', {
    type: 'message_start',
    message: { id: 'msg_01bench', type: 'message', role: 'assistant', model: 'claude-bench', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 3, output_tokens: 1 } },
  }),
  event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  ...['Hello', ' from', ' the', ' lean', ' upstream.'].map((text) => event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
  event('content_block_stop', { type: 'content_block_stop', index: 0 }),
  event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }),
  event('message_stop', { type: 'message_stop' }),
].join('');

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(MESSAGE)) };
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'content-length': String(Buffer.byteLength(STREAM)) };
const HOLD = /hold_ms=(\d+)/;
const held = new Set<() => void>();

const server = http.createServer((req, res) => {
  if (req.url === '/__release') {
    const n = held.size;
    for (const answer of held) answer();
    held.clear();
    res.end(String(n));
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const answer = (): void => {
      if (res.destroyed) return;
      if (body.includes('"stream":true')) {
        res.writeHead(200, SSE_HEADERS);
        res.end(STREAM);
      } else {
        res.writeHead(200, JSON_HEADERS);
        res.end(MESSAGE);
      }
    };
    const hold = HOLD.exec(body);
    if (!hold) return answer();
    const ms = Number(hold[1]);
    if (ms >= 600_000) {
      held.add(answer);
      res.on('close', () => held.delete(answer));
    } else setTimeout(answer, ms);
  });
});
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
serveStats(() => ({ held: held.size }));
process.on('disconnect', () => process.exit(0));
