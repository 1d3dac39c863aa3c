import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { BudgetsController } from './budgets.controller';
import { LimitsService } from './limits.service';

@Module({
  imports: [MetricsModule, StoreModule],
  controllers: [BudgetsController],
  providers: [LimitsService],
  exports: [LimitsService],
})
export class LimitsModule {}
