import { Controller, Get } from '@nestjs/common';
import { PublicRoute } from '../core/route.decorator';
import { TrackerService } from '../metrics/tracker.service';

@Controller()
export class HealthController {
  constructor(private readonly tracker: TrackerService) {}

  @Get('health')
  @PublicRoute()
  health(): { status: 'ok'; active_requests: number; uptime_s: number } {
    return { status: 'ok', active_requests: this.tracker.activeCount, uptime_s: Math.round(process.uptime()) };
  }
}
