import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeConfig, ManualClock } from '../../test/support/factories';
import { APP_CONFIG } from '../config/app-config';
import { wireRunningTotals } from '../metrics/format/wire';
import { CountTokensCounter } from '../metrics/count-tokens';
import { PrometheusExporter } from '../metrics/prometheus-exporter.service';
import { RejectionCounter } from '../metrics/rejections';
import { CLOCK, TrackerService } from '../metrics/tracker.service';
import { UsageStore } from './usage-store.service';

const dir = mkdtempSync(join(tmpdir(), 'vdm-usage-store-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** UsageStore in Nest's testing module with the real tracker and exporter, on a real SQLite file. */
describe(UsageStore.name, () => {
  const open: TestingModule[] = [];
  afterEach(async () => {
    // close() runs the shutdown hooks: the store writes what is queued, then closes its file.
    for (const moduleRef of open.splice(0)) await moduleRef.close();
  });

  async function start(env: Record<string, string>): Promise<{ store: UsageStore; tracker: TrackerService; moduleRef: TestingModule }> {
    const moduleRef = await Test.createTestingModule({
      providers: [
        UsageStore,
        TrackerService,
        PrometheusExporter,
        RejectionCounter,
        CountTokensCounter,
        { provide: APP_CONFIG, useValue: makeConfig({ OPENAI_API_KEY: 'sk-provider', VDM_INSTANCE_ID: 'gw-unit', VDM_STORE_FLUSH_MS: '60000', ...env }) },
        { provide: CLOCK, useValue: new ManualClock() },
      ],
    }).compile();
    await moduleRef.init();
    open.push(moduleRef);
    return { store: moduleRef.get(UsageStore), tracker: moduleRef.get(TrackerService), moduleRef };
  }

  function finishRequest(tracker: TrackerService, id: string, inputTokens: number): void {
    const metrics = tracker.begin({ requestId: id, requestedModel: 'gpt-4o', api: 'openai_chat', client: 'team-a' });
    metrics.route('openai', 'gpt-4o');
    metrics.usage({ inputTokens, outputTokens: 2 });
    metrics.finalize(200);
  }

  it('writes each request the tracker finishes as one row, and counts it written', async () => {
    const { store, tracker } = await start({ VDM_STORE: `sqlite:${join(dir, 'rows.db')}` });
    finishRequest(tracker, 'r1', 10);
    finishRequest(tracker, 'r2', 20);
    expect(store.rowCounts).toEqual({ written: 0, waiting: 2 });
    await store.flush();
    expect(store.rowCounts).toEqual({ written: 2, waiting: 0 });
    const rows = await store.db!.selectFrom('usage_requests').select(['request_id', 'input_tokens', 'client', 'instance']).orderBy('request_id').execute();
    expect(rows).toEqual([
      { request_id: 'r1', input_tokens: 10, client: 'team-a', instance: 'gw-unit' },
      { request_id: 'r2', input_tokens: 20, client: 'team-a', instance: 'gw-unit' },
    ]);
    expect(store.status).toEqual({ status: 'ok', queued_rows: 0, dropped_rows: 0 });
  });

  it('restores this instance\'s totals into a new tracker on start-up', async () => {
    const file = `sqlite:${join(dir, 'restore.db')}`;
    const first = await start({ VDM_STORE: file });
    finishRequest(first.tracker, 'r1', 10);
    finishRequest(first.tracker, 'r2', 5);
    await first.moduleRef.close();
    open.splice(open.indexOf(first.moduleRef), 1);

    const again = await start({ VDM_STORE: file });
    const totals = wireRunningTotals(again.tracker.runningTotals({}, false));
    expect(totals.summary).toMatchObject({ total_requests: 2, total_input_tokens: 15, total_output_tokens: 4 });
  });

  it('keeps at most VDM_STORE_QUEUE_MAX rows while it cannot write, dropping the oldest, and says it is degraded', async () => {
    const { store, tracker } = await start({ VDM_STORE: 'sqlite:/dev/null/usage.db', VDM_STORE_QUEUE_MAX: '2' });
    for (let i = 0; i < 5; i++) finishRequest(tracker, `r${i}`, i);
    expect(store.status).toMatchObject({ status: 'degraded', queued_rows: 2, dropped_rows: 3 });
  });
});
