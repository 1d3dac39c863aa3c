import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { UsageStore } from './usage-store.service';

@Module({
  imports: [MetricsModule],
  providers: [UsageStore],
  exports: [UsageStore],
})
export class StoreModule {}
