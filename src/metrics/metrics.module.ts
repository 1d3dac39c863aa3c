import { Module } from '@nestjs/common';
import { ActiveRequestsHub } from './active-requests.hub';
import { MetricsReportService } from './metrics-report.service';
import { MetricsController } from './metrics.controller';
import { PrometheusExporter } from './prometheus-exporter.service';
import { CLOCK, SYSTEM_CLOCK, TrackerService } from './tracker.service';

@Module({
  controllers: [MetricsController],
  providers: [TrackerService, ActiveRequestsHub, MetricsReportService, PrometheusExporter, { provide: CLOCK, useValue: SYSTEM_CLOCK }],
  exports: [TrackerService, ActiveRequestsHub, CLOCK],
})
export class MetricsModule {}
