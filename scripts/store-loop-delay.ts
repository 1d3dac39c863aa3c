/**
 * Event-loop delay while the usage store writes about RATE rows a second (default 2000, for
 * SECONDS, default 20, after 3 s of warm-up). Finished requests go to the tracker through its one
 * API (begin, usage, finalize), as the request path sends them, with no HTTP in between, so what
 * is measured is the store's share; `VDM_STORE=none` gives the feed's own share for comparison.
 *
 *   npx tsc -p scripts/tsconfig.run.json && node node_modules/.cache/vdm-scripts/scripts/store-loop-delay.js [RATE] [SECONDS]
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '../src/app.factory';
import { loadConfig } from '../src/config/app-config';
import { TrackerService } from '../src/metrics/tracker.service';
import { UsageStore } from '../src/store/usage-store.service';

const TICK_MS = 10;

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 2000);
  const seconds = Number(process.argv[3] ?? 20);
  const dir = mkdtempSync(join(tmpdir(), 'vdm-loop-delay-'));
  const store = process.env.VDM_STORE ?? `sqlite:${join(dir, 'usage.db')}`;
  const app = await createApp(loadConfig({ LOG_LEVEL: 'error', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000', VDM_STORE: store, VDM_INSTANCE_ID: 'loop-delay' }));
  await app.init();
  const tracker = app.get(TrackerService);
  let sent = 0;
  const began = performance.now();
  const feed = setInterval(() => {
    // As many as the rate asks for by now, so a late tick catches up.
    const due = Math.floor(((performance.now() - began) * rate) / 1000);
    while (sent < due) {
      const n = sent++;
      const handle = tracker.begin({
        requestId: `r-${n}`,
        provider: 'demo',
        resolvedModel: `model-${n % 7}`,
        requestedModel: 'sonnet',
        api: 'anthropic_messages',
        client: `client-${n % 5}`,
        user: `user-${n % 50}`,
        session: `session-${n % 200}`,
        isStreaming: n % 2 === 0,
        messageCount: 3,
        requestSize: 1200,
      });
      handle.usage({ inputTokens: 1000 + (n % 100), outputTokens: 200, cacheReadTokens: 50 });
      if (n % 20 === 0) handle.fail('rate_limit', 'slow down');
      handle.finalize();
    }
  }, TICK_MS);

  await sleep(3000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const from = sent;
  delay.enable();
  await sleep(seconds * 1000);
  delay.disable();
  const rows = sent - from;
  clearInterval(feed);
  const status = app.get(UsageStore).status;
  await app.close();
  rmSync(dir, { recursive: true, force: true });
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  console.log(
    `store ${store.startsWith('sqlite:') ? 'sqlite' : store}: ${Math.round(rows / seconds)} rows/s for ${seconds} s; ` +
      `event-loop delay p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, p99.9 ${ms(delay.percentile(99.9))} ms, max ${ms(delay.max)} ms; ` +
      `store ${status.status}, ${status.queued_rows} queued at the end`,
  );
}

void main();
