import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { TelemetryService } from './telemetry.service';

/** OpenTelemetry (contract section 17): off unless the standard OTEL_* variables name an OTLP endpoint. */
@Module({
  imports: [MetricsModule],
  providers: [TelemetryService],
  exports: [TelemetryService],
})
export class TelemetryModule {}
