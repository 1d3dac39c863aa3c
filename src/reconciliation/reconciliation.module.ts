import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { ReconciliationController } from './reconciliation.controller';
import { Reconciler } from './reconciler.service';

/** Reconciliation of the gateway's accounting with the providers' billing reports (contract section 16). */
@Module({
  imports: [MetricsModule, StoreModule],
  controllers: [ReconciliationController],
  providers: [Reconciler],
  exports: [Reconciler],
})
export class ReconciliationModule {}
