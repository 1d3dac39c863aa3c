import { Controller, Get } from '@nestjs/common';
import { PublicRoute } from '../core/route.decorator';
import { TrackerService } from '../metrics/tracker.service';
import { UsageStore, type StoreStatus } from '../store/usage-store.service';
import { Reconciler, type ProviderPullState, type ReconciliationHealth } from '../reconciliation/reconciler.service';

@Controller()
export class HealthController {
  constructor(
    private readonly tracker: TrackerService,
    private readonly store: UsageStore,
    private readonly reconciler: Reconciler,
  ) {}

  @Get('health')
  @PublicRoute()
  health(): {
    status: 'ok';
    active_requests: number;
    uptime_s: number;
    store: { status: StoreStatus; queued_rows: number; error?: string };
    reconciliation?: { status: ReconciliationHealth; error?: string; providers?: ProviderPullState[] };
  } {
    // A failing store, or a failing billing report, degrades history or reconciliation, never serving: the gateway stays `ok`.
    const { status, queued_rows, error } = this.store.status;
    const reconciliation = this.reconciler.health;
    const failed = reconciliation.providers?.find((p) => p.error !== undefined);
    return {
      status: 'ok',
      active_requests: this.tracker.activeCount,
      uptime_s: Math.round(process.uptime()),
      store: { status, queued_rows, ...(error === undefined ? {} : { error }) },
      ...(reconciliation.status === 'disabled' ? {} : { reconciliation: { ...reconciliation, ...(failed ? { error: `${failed.provider}: ${failed.error}` } : {}) } }),
    };
  }
}
