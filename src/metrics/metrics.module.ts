import { Module } from '@nestjs/common';
import { ActiveRequestsHub } from './active-requests.hub';
import { MetricsReportService } from './metrics-report.service';
import { MetricsController } from './metrics.controller';
import { PrometheusExporter } from './prometheus-exporter.service';
import { CountTokensCounter } from './count-tokens';
import { RejectionCounter } from './rejections';
import { CLOCK, SYSTEM_CLOCK, TrackerService } from './tracker.service';

@Module({
  controllers: [MetricsController],
  providers: [TrackerService, RejectionCounter, CountTokensCounter, ActiveRequestsHub, MetricsReportService, PrometheusExporter, { provide: CLOCK, useValue: SYSTEM_CLOCK }],
  exports: [TrackerService, RejectionCounter, CountTokensCounter, ActiveRequestsHub, PrometheusExporter, CLOCK],
})
export class MetricsModule {}
