/**
 * A fake OpenAI-format upstream for the conversion bench: every POST answers with the same
 * pre-serialised Chat Completions stream, two tool calls whose argument deltas interleave
 * (TOOL_STREAM_DELTAS per call). Run as a child process; reports its port over IPC.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStats } from './ipc-stats';

const DELTAS = Number(process.env.TOOL_STREAM_DELTAS ?? 20_000);
const PIECE = 'lorem ipsum sit ';

const chunk = (delta: unknown, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', model: 'gpt-bench', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const args = (index: number, text: string): string => chunk({ tool_calls: [{ index, function: { arguments: text } }] });

const parts: string[] = [
  chunk({ role: 'assistant', content: null }),
  chunk({ tool_calls: [{ index: 0, id: 'call_0', type: 'function', function: { name: 'write_file', arguments: '{"path":"a.txt","text":"' } }] }),
  chunk({ tool_calls: [{ index: 1, id: 'call_1', type: 'function', function: { name: 'write_file', arguments: '{"path":"b.txt","text":"' } }] }),
];
for (let i = 0; i < DELTAS; i++) parts.push(args(0, PIECE), args(1, PIECE));
parts.push(
  args(0, '"}'),
  args(1, '"}'),
  chunk({}, 'tool_calls'),
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', model: 'gpt-bench', choices: [], usage: { prompt_tokens: 12, completion_tokens: DELTAS * 8 } })}\n\n`,
  'data: [DONE]\n\n',
);
const STREAM = Buffer.from(parts.join(''));
const HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'content-length': String(STREAM.length) };

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, HEADERS);
    res.end(STREAM);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
serveStats(() => ({ streamBytes: STREAM.length }));
process.on('disconnect', () => process.exit(0));
