import { Controller, Get, Query, Req, UsePipes } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { callerScope } from '../core/caller';
import { ClientViewRoute } from '../core/route.decorator';
import { MetricsQueryPipe } from '../metrics/dto/metrics-query.pipe';
import { NoQuery } from '../metrics/dto/no.query';
import type { BudgetReport } from './budget-report';
import { LimitsService } from './limits.service';

/**
 * GET /metrics/budgets (contract section 15): every budget and rate limit in force, in its current
 * window. A client key sees its own: its instances, and the shared budgets that cover it.
 */
@Controller('metrics')
@UsePipes(new MetricsQueryPipe())
export class BudgetsController {
  constructor(private readonly limits: LimitsService) {}

  @Get('budgets')
  @ClientViewRoute()
  budgets(@Query() _query: NoQuery, @Req() request: FastifyRequest): Promise<BudgetReport> {
    return this.limits.report(callerScope(request).client);
  }
}
