/**
 * Baseline (b): the least a gateway can do. Fastify takes the body as a buffer, undici forwards it
 * to UPSTREAM_URL on a keep-alive pool, and the answer is streamed back with its status and type.
 */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { serveStats } from './support/ipc-stats';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:1';
const agent = new Agent({ keepAliveTimeout: 30_000 });
const app = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

app.post('/v1/*', async (req, reply) => {
  const res = await request(upstream + req.url, {
    method: 'POST',
    body: req.body as Buffer,
    headers: { 'content-type': 'application/json', 'x-api-key': 'x', 'anthropic-version': '2023-06-01' },
    dispatcher: agent,
  });
  const type = res.headers['content-type'];
  return reply.code(res.statusCode).type(typeof type === 'string' ? type : 'application/json').send(res.body);
});

void app.listen({ host: '127.0.0.1', port: 0 }).then(() => {
  process.send?.({ type: 'ready', port: (app.server.address() as AddressInfo).port });
});
serveStats();
process.on('disconnect', () => process.exit(0));
