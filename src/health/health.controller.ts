import { Controller, Get } from '@nestjs/common';
import { PublicRoute } from '../core/route.decorator';
import { TrackerService } from '../metrics/tracker.service';
import { UsageStore, type StoreStatus } from '../store/usage-store.service';

@Controller()
export class HealthController {
  constructor(
    private readonly tracker: TrackerService,
    private readonly store: UsageStore,
  ) {}

  @Get('health')
  @PublicRoute()
  health(): { status: 'ok'; active_requests: number; uptime_s: number; store: { status: StoreStatus; queued_rows: number; error?: string } } {
    // A failing store degrades history, never serving: the gateway stays `ok`.
    const { status, queued_rows, error } = this.store.status;
    return { status: 'ok', active_requests: this.tracker.activeCount, uptime_s: Math.round(process.uptime()), store: { status, queued_rows, ...(error === undefined ? {} : { error }) } };
  }
}
