/**
 * The gateway as src/main.ts starts it (same createApp, same config from the environment), plus an
 * IPC channel so a bench can read the process's CPU time, memory and open handles, and force a GC
 * (start it with --expose-gc). Listens on 127.0.0.1 on an ephemeral port and reports it.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { ActiveRequestsHub } from '../../src/metrics/active-requests.hub';
import { TrackerService } from '../../src/metrics/tracker.service';
import { serveStats } from './ipc-stats';

async function main(): Promise<void> {
  const app = await createApp(loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.getHttpServer().address() as AddressInfo;
  const tracker = app.get(TrackerService);
  const hub = app.get(ActiveRequestsHub);
  serveStats(() => ({ active: tracker.activeCount, sseClients: hub.clients, errors: tracker.errorDistribution() }));
  process.on('disconnect', () => {
    void app.close().finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', port });
}

void main().catch((error: unknown) => {
  process.stderr.write(`gateway child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
