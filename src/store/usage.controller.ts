import { Controller, Get, Query, Req, Res, UsePipes } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { callerScope, scopedClientFilter } from '../core/caller';
import { dump } from 'js-yaml';
import { stringify } from 'csv-stringify/sync';
import { STORE_DISABLED } from '../core/disabled';
import { GatewayErrors } from '../core/errors';
import { isoSeconds, ms3 } from '../metrics/calculations/duration';
import { ClientViewRoute } from '../core/route.decorator';
import { MetricsQueryPipe } from '../metrics/dto/metrics-query.pipe';
import { RequestsQuery, UsageQuery } from './dto/usage.query';
import { HISTORY_QUERY_LIMIT_MS } from './database';
import { globMatch, StoreUnavailable, UsageHistory, type UsageDoc } from './usage-history.service';
import { decodeCursor, encodeCursor, parseFilters, parseFormat, parseGroupBy, parseLimit, parseRange, parseStatus, parseUsagePage, type FilterName } from './usage-query';
import { UsageStore } from './usage-store.service';

/** The history API (contract section 11): usage sums and the stored rows. */
@Controller('metrics')
@UsePipes(new MetricsQueryPipe())
export class UsageController {
  constructor(
    private readonly store: UsageStore,
    private readonly history: UsageHistory,
  ) {}

  @Get('usage')
  @ClientViewRoute()
  async usage(@Query() query: UsageQuery, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const format = parseFormat(query.format);
    const filters = parseFilters(query);
    const own = callerScope(request).client;
    // A client key's filter must match its own name (else 403); its own view is then applied exactly.
    if (own !== undefined) filters.client = scopedClientFilter(request, filters.client);
    if (!this.store.enabled) return STORE_DISABLED;
    const range = parseRange(query, Date.now() / 1000);
    const groupBy = parseGroupBy(query.group_by);
    const page = parseUsagePage(query);
    const doc = await this.available(() => this.history.usage(range, groupBy, filters, page, own));
    if (format === 'json') return doc;
    if (format === 'yaml') {
      void reply.type('application/yaml; charset=utf-8');
      return dump(doc, { noRefs: true, lineWidth: -1 });
    }
    void reply.type('text/csv; charset=utf-8');
    return csvOf(doc);
  }

  @Get('requests')
  @ClientViewRoute()
  async requests(@Query() query: RequestsQuery, @Req() request: FastifyRequest): Promise<unknown> {
    const limit = parseLimit(query.limit);
    const cursor = decodeCursor(query.cursor);
    const status = parseStatus(query.status);
    const filters = parseFilters(query);
    const own = callerScope(request).client;
    // A client key's filter must match its own name (else 403); its own view is then applied exactly.
    if (own !== undefined) filters.client = scopedClientFilter(request, filters.client);
    if (!this.store.enabled) return STORE_DISABLED;
    const range = parseRange({ from: query.from ?? '-3650d', to: query.to }, Date.now() / 1000);
    return this.available(async () => {
      const db = this.history.requireDb();
      let q = db.selectFrom('usage_requests').selectAll().where('start_time', '>=', range.from).where('start_time', '<', range.to);
      for (const [name, glob] of Object.entries(filters) as [FilterName, string][]) q = q.where((eb) => globMatch(this.history.engine, eb.ref(name), glob));
      if (own !== undefined) q = q.where('client', '=', own);
      if (status === 'ok') q = q.where('error_type', 'is', null);
      if (status === 'error') q = q.where('error_type', 'is not', null);
      if (cursor !== undefined) q = q.where('id', '<', cursor);
      const rows = await q.orderBy('id', 'desc').limit(limit + 1).execute();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        disabled: false,
        requests: page.map(({ id: _id, row_key: _key, is_streaming, cost_nano, ...row }) => ({
          ...row,
          duration_ms: ms3(Number(row.duration_ms)),
          ttft_ms: row.ttft_ms === null ? null : ms3(Number(row.ttft_ms)),
          upstream_ms: row.upstream_ms === null ? null : ms3(Number(row.upstream_ms)),
          cost_usd: cost_nano === null ? null : Number(cost_nano) / 1e9,
          start: isoSeconds(Number(row.start_time)),
          is_streaming: Number(is_streaming) === 1,
          status: row.error_type === null ? 'ok' : 'error',
        })),
        next_cursor: rows.length > limit && last ? encodeCursor(Number(last.id)) : null,
      };
    });
  }

  private async available<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailable) throw new GatewayErrors.VDM_HISTORY_UNAVAILABLE(error.message);
      // SQLite's read worker past its budget, or PostgreSQL's statement_timeout.
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'VDM_QUERY_TIMEOUT' || code === '57014')
        throw new GatewayErrors.VDM_HISTORY_TIME_LIMIT(HISTORY_QUERY_LIMIT_MS / 1000);
      throw error;
    }
  }
}

function csvOf(doc: UsageDoc): string {
  const sums = Object.keys(doc.totals);
  const columns = [...doc.group_by, ...sums];
  const records = doc.rows.map((r) => columns.map((c) => (r as unknown as Record<string, unknown>)[c] ?? ''));
  // Users, sessions and model names are chosen by clients: a cell starting with =, +, -, @, tab or CR
  // is prefixed with a single quote, so a spreadsheet shows it as text instead of running it (OWASP CSV injection).
  return stringify(records, { header: true, columns, escape_formulas: true });
}
