/**
 * An OTLP/HTTP sink for the OpenTelemetry bench: reads each export and answers it as SINK_MODE says:
 * `ok` (200, an empty export response), `unavailable` (503) or `hang` (never answers). Counts what
 * it got. Run as a child process; reports its port over IPC.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStats } from './ipc-stats';

const mode = process.env.SINK_MODE ?? 'ok';
let received = 0;
let bytes = 0;

const server = http.createServer((req, res) => {
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    received++;
    if (mode === 'hang') return;
    if (mode === 'unavailable') {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') }).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
serveStats(() => ({ exports: received, bytes }));
process.on('disconnect', () => process.exit(0));
