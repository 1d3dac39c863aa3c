import { Module, type DynamicModule } from '@nestjs/common';
import { Authenticator } from './common/authenticator';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { HealthController } from './health/health.controller';
import { GracefulShutdown } from './lifecycle/graceful-shutdown';
import type { Redactor } from './core/redact';
import type { LoggingMode } from './logging/logger';
import { LoggingModule } from './logging/logging.module';
import { GatewayModule } from './gateway/gateway.module';
import { MetricsModule } from './metrics/metrics.module';
import { StoreModule } from './store/store.module';
import { TelemetryModule } from './telemetry/telemetry.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logging: LoggingMode, redactor: Redactor): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), LoggingModule.forRoot(logging, redactor), MetricsModule, TelemetryModule, StoreModule, ReconciliationModule, GatewayModule, DashboardModule],
      controllers: [HealthController],
      providers: [Authenticator, GracefulShutdown],
    };
  }
}
