import { BadRequestException, Controller, Get, Query, Res, ServiceUnavailableException, UsePipes } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { dump } from 'js-yaml';
import { stringify } from 'csv-stringify/sync';
import { Glob } from '../core/glob';
import { AdminRoute } from '../core/route.decorator';
import { STORE_DISABLED, type DisabledDoc } from '../core/disabled';
import { MetricsQueryPipe } from '../metrics/dto/metrics-query.pipe';
import { parseFilters, parseFormat, parseRange } from '../store/usage-query';
import { UsageStore } from '../store/usage-store.service';
import { ReconciliationQuery } from './dto/reconciliation.query';
import type { ReconciliationRow } from './compare';
import { Reconciler, type ReconciliationDoc } from './reconciler.service';
import { DAY_S } from './reports';

/** No provider has `{NAME}_ADMIN_KEY`. */
export const RECONCILIATION_DISABLED: Readonly<DisabledDoc> = Object.freeze({
  disabled: true,
  message: 'Reconciliation with provider billing is off: no provider has an admin key',
  suggestion: 'Set {NAME}_ADMIN_KEY (an OpenAI or Anthropic admin key) for an OpenAI- or Anthropic-format provider, with a usage store (VDM_STORE)',
});

/** The widest range one answer covers. */
const MAX_DAYS = 366;

const SIDES = ['provider_report', 'gateway'] as const;
const FIELDS = ['requests', 'input_tokens', 'cache_read_tokens', 'cache_write_tokens', 'output_tokens', 'cost_usd'] as const;

/** GET /metrics/reconciliation (contract section 16): the providers' billing against the gateway's accounting, per provider, UTC day and model. */
@Controller('metrics')
@UsePipes(new MetricsQueryPipe())
export class ReconciliationController {
  constructor(
    private readonly reconciler: Reconciler,
    private readonly store: UsageStore,
  ) {}

  @Get('reconciliation')
  @AdminRoute()
  async reconciliation(@Query() query: ReconciliationQuery, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const format = parseFormat(query.format);
    const filters = parseFilters({ provider: query.provider, model: query.model });
    if (!this.store.enabled) return STORE_DISABLED;
    if (!this.reconciler.enabled) return RECONCILIATION_DISABLED;
    const nowS = Date.now() / 1000;
    // By default the days a pull covers: today and the VDM_RECONCILE_DAYS - 1 before it.
    const defaultFrom = Math.min(Math.floor(nowS / DAY_S) * DAY_S - (this.reconciler.days - 1) * DAY_S, nowS - 1);
    const range = parseRange({ from: query.from ?? new Date(defaultFrom * 1000).toISOString(), to: query.to }, nowS);
    // Whole UTC days: the day `from` falls in, up to the day `to` falls in.
    const days = { from: Math.floor(range.from / DAY_S) * DAY_S, to: Math.ceil(range.to / DAY_S) * DAY_S };
    if (days.to - days.from > MAX_DAYS * DAY_S) throw new BadRequestException(`from and to may span at most ${MAX_DAYS} days`);
    let doc: ReconciliationDoc;
    try {
      doc = await this.reconciler.compare(days);
    } catch (error) {
      throw new ServiceUnavailableException(`the usage store could not answer: ${(error as Error).message}`);
    }
    const provider = filters.provider === undefined ? undefined : new Glob(filters.provider);
    const model = filters.model === undefined ? undefined : new Glob(filters.model);
    const keep = (r: ReconciliationRow): boolean =>
      (provider === undefined || provider.test(r.provider)) && (model === undefined || model.test(r.model) || (r.provider_model !== undefined && model.test(r.provider_model)));
    doc = {
      ...doc,
      providers: doc.providers.filter((p) => provider === undefined || provider.test(p.provider)),
      rows: doc.rows.filter(keep),
      unattributed_costs: doc.unattributed_costs.filter((u) => provider === undefined || provider.test(u.provider)),
    };
    if (format === 'json') return doc;
    if (format === 'yaml') {
      void reply.type('application/yaml; charset=utf-8');
      return dump(doc, { noRefs: true, lineWidth: -1 });
    }
    void reply.type('text/csv; charset=utf-8');
    return csvOf(doc.rows);
  }
}

/** One line per row: the keys, then each side's counts, then each delta (absolute and ratio). */
function csvOf(rows: readonly ReconciliationRow[]): string {
  const columns = [
    'provider',
    'day',
    'model',
    'provider_model',
    'status',
    'effective_rate',
    ...SIDES.flatMap((side) => FIELDS.map((f) => `${side}_${f}`)),
    'gateway_estimated_requests',
    'gateway_unpriced_requests',
    ...FIELDS.flatMap((f) => [`delta_${f}`, `delta_${f}_ratio`]),
  ];
  const records = rows.map((r) => [
    r.provider,
    r.day,
    r.model,
    r.provider_model ?? '',
    r.status,
    r.effective_rate ?? '',
    ...SIDES.flatMap((side) => FIELDS.map((f) => r[side][f] ?? '')),
    r.gateway.estimated_requests,
    r.gateway.unpriced_requests,
    ...FIELDS.flatMap((f) => [r.delta[f].absolute ?? '', r.delta[f].ratio ?? '']),
  ]);
  // Model names come from clients and providers: a cell starting with =, +, -, @ is quoted as text (OWASP CSV injection).
  return stringify(records, { header: true, columns, escape_formulas: true });
}
