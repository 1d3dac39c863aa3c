/**
 * The gateway as src/main.ts starts it (same createApp, same config from the environment), plus an
 * IPC channel so a bench can read the process's CPU time, memory and open handles, and force a GC
 * (start it with --expose-gc). Listens on 127.0.0.1 on an ephemeral port and reports it.
 * Commands: `flush` writes the usage store's queue (UsageStore.flush()) and says how long it took;
 * `event-loop-reset` starts (or restarts) an event-loop delay histogram that the stats then carry.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { ActiveRequestsHub } from '../../src/metrics/active-requests.hub';
import { TrackerService } from '../../src/metrics/tracker.service';
import { UsageStore } from '../../src/store/usage-store.service';
import { serveStats } from './ipc-stats';

/** Event-loop delay in ms from a histogram in ns. */
function delays(h: IntervalHistogram): { p50: number; p99: number; max: number; mean: number; samples: number } {
  const ms = (ns: number): number => ns / 1e6;
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count };
}

async function main(): Promise<void> {
  const started = performance.now();
  const app = await createApp(loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.getHttpServer().address() as AddressInfo;
  const tracker = app.get(TrackerService);
  const hub = app.get(ActiveRequestsHub);
  const store = app.get(UsageStore);
  let eventLoop: IntervalHistogram | undefined;
  serveStats(
    () => ({ active: tracker.activeCount, sseClients: hub.clients, errors: tracker.errorDistribution(), ...(eventLoop ? { eventLoop: delays(eventLoop) } : {}) }),
    {
      flush: async () => {
        const t0 = performance.now();
        await store.flush();
        return { flushMs: performance.now() - t0 };
      },
      'event-loop-reset': () => {
        // 1 ms sampling: the store's batches are a few ms each, which the default 10 ms would blur.
        eventLoop ??= monitorEventLoopDelay({ resolution: 1 });
        eventLoop.enable();
        eventLoop.reset();
        return {};
      },
    },
  );
  process.on('disconnect', () => {
    void app.close().finally(() => process.exit(0));
  });
  process.send?.({ type: 'ready', port, startMs: performance.now() - started });
}

void main().catch((error: unknown) => {
  process.stderr.write(`gateway child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
