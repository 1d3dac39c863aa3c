import { Module } from '@nestjs/common';
import { LimitsModule } from '../limits/limits.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RequestOrchestrator } from './request/request-orchestrator.interceptor';
import { GatewayController } from './gateway.controller';
import { ModelsService } from './models.service';
import { ProviderRegistry } from './provider-registry.service';
import { ProxyService } from './proxy.service';
import { UpstreamClient } from './upstream/upstream-client';

@Module({
  imports: [MetricsModule, LimitsModule],
  controllers: [GatewayController],
  providers: [ProviderRegistry, ProxyService, ModelsService, UpstreamClient, RequestOrchestrator],
  exports: [RequestOrchestrator, ProviderRegistry],
})
export class GatewayModule {}
