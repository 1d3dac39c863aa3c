import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { UsageHistory } from './usage-history.service';
import { UsageStore } from './usage-store.service';
import { UsageController } from './usage.controller';

@Module({
  imports: [MetricsModule],
  controllers: [UsageController],
  providers: [UsageStore, UsageHistory],
  exports: [UsageStore],
})
export class StoreModule {}
