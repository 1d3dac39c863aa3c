import { Controller, Get, Headers, Query, Res, Sse, type MessageEvent } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';
import { ActiveRequestsHub } from './active-requests.hub';
import { LogsQuery } from './dto/logs.query';
import { RunningTotalsQuery } from './dto/running-totals.query';
import { MetricsReportService, type ActiveRequestsDoc, type LogsDoc } from './metrics-report.service';
import { PrometheusExporter } from './prometheus-exporter.service';

@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly reports: MetricsReportService,
    private readonly hub: ActiveRequestsHub,
    private readonly prometheus: PrometheusExporter,
  ) {}

  /** Prometheus text, or OpenMetrics when the scraper asks for it. */
  @Get()
  async prometheusMetrics(
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const report = await this.prometheus.render(accept);
    void reply.type(report.contentType);
    return report.body;
  }

  @Get('running-totals')
  runningTotals(
    @Query() query: RunningTotalsQuery,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): string {
    const report = this.reports.runningTotals(query, accept);
    void reply.type(report.contentType);
    return report.body;
  }

  @Get('active-requests')
  activeRequests(): ActiveRequestsDoc {
    return this.reports.activeRequests();
  }

  @Sse('active-requests/stream')
  activeRequestsStream(): Observable<MessageEvent> {
    return this.hub.connect();
  }

  @Get('logs')
  logs(@Query() query: LogsQuery): LogsDoc {
    return this.reports.logs(query);
  }
}
