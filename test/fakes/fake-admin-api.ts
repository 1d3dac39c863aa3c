/**
 * A fake of the providers' billing report APIs, over real HTTP on 127.0.0.1, speaking the documented shapes:
 *
 * OpenAI (OpenAPI document github.com/openai/openai-openapi, openapi.yaml; point `{NAME}_BILLING_URL` at `url + '/v1'`):
 *   GET /v1/organization/usage/completions   operationId usage-completions: start_time, end_time (Unix s), bucket_width
 *                                            (1d: limit default 7, max 31), group_by (model, ...), api_key_ids, page.
 *                                            `Authorization: Bearer <admin key>` (AdminApiKeyAuth).
 *                                            {object: "page", data: [{object: "bucket", start_time, end_time, results:
 *                                            [organization.usage.completions.result]}], has_more, next_page}
 *   GET /v1/organization/costs               operationId usage-costs: the same, limit 1..180 (default 7), group_by line_item;
 *                                            results [organization.costs.result {amount: {value, currency: "usd"}, line_item}]
 *
 * Anthropic (API reference platform.claude.com/docs/en/api/admin/usage_report/retrieve_messages and .../admin/cost_report;
 * point `{NAME}_BILLING_URL` at `url`):
 *   GET /v1/organizations/usage_report/messages  starting_at, ending_at (RFC 3339), bucket_width (1d: limit default 7,
 *                                            max 31), group_by[] (model, ...), api_key_ids[], page; headers `x-api-key`
 *                                            and `anthropic-version`. {data: [{starting_at, ending_at, results: [{
 *                                            uncached_input_tokens, cache_read_input_tokens, cache_creation:
 *                                            {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}, output_tokens,
 *                                            server_tool_use, model, api_key_id, workspace_id, service_tier,
 *                                            context_window}]}], has_more, next_page}
 *   GET /v1/organizations/cost_report        starting_at, ending_at, bucket_width=1d, group_by[] (description,
 *                                            workspace_id), limit 1..31 (default 7), page. Results {amount (cents as a
 *                                            decimal string: "123.45" is $1.2345), currency: "USD", cost_type, token_type,
 *                                            description, model, service_tier, context_window, workspace_id}; model,
 *                                            token_type and description are null unless grouped by description.
 *
 * Both: one bucket per day of the range, empty ones included; at most `pageBuckets` buckets a page (smaller than any
 * limit, so every report pages), `next_page` an opaque cursor passed back as `page`.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

const DAY_S = 86_400;

/** What the provider billed for one UTC day and model, in the contract's split (input excludes cache reads and writes). */
export interface BilledDay {
  /** Unix seconds of the day's UTC midnight. */
  day: number;
  model: string;
  requests?: number;
  input: number;
  cacheRead?: number;
  /** Anthropic: 5-minute cache writes; OpenAI: all cache writes. */
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  output: number;
  /** Nanodollars, an integer. */
  costNano: number;
  /** The provider key the traffic used (filtered by api_key_ids); default the gateway's. */
  apiKeyId?: string;
}

export type AdminFault =
  /** An error status; `echoKey`: its message repeats the key the request carried, as a careless API might. */
  | { kind: 'status'; status: number; retryAfter?: string; echoKey?: boolean }
  /** Reads the request and never answers (until the client leaves or close()). */
  | { kind: 'hang' }
  /** A 200 whose body is not the documented page: `has_more` true and no cursor. */
  | { kind: 'malformed' }
  /** A 200 whose body is not JSON. */
  | { kind: 'not-json' };

export interface AdminRequest {
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

export class FakeAdminApi {
  readonly url: string;
  readonly requests: AdminRequest[] = [];
  /** Billed days per format. */
  readonly billed: { openai: BilledDay[]; anthropic: BilledDay[] } = { openai: [], anthropic: [] };
  /** Faults consumed by the next requests, in order. */
  readonly faults: AdminFault[] = [];
  pageBuckets = 2;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: http.Server,
    private readonly keys: { openai: string; anthropic: string },
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(keys: { openai: string; anthropic: string }): Promise<FakeAdminApi> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeAdminApi(server, keys);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers });
    const fault = this.faults.shift();
    if (fault?.kind === 'hang') return;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const anthropic = url.pathname.startsWith('/v1/organizations/');
    if (fault?.kind === 'status') {
      const key = String(req.headers['x-api-key'] ?? req.headers.authorization ?? '');
      const message = `fake status ${fault.status}${fault.echoKey ? ` for key ${key}` : ''}`;
      const body = anthropic
        ? { type: 'error', error: { type: fault.status === 429 ? 'rate_limit_error' : 'api_error', message } }
        : { error: { message, type: fault.status === 429 ? 'rate_limit_exceeded' : 'server_error', param: null, code: null } };
      return json(fault.status, body, fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter });
    }
    if (fault?.kind === 'malformed') return json(200, { data: [], has_more: true, next_page: null });
    if (fault?.kind === 'not-json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data": [');
      return;
    }
    try {
      if (anthropic) {
        if (req.headers['x-api-key'] !== this.keys.anthropic) return json(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
        if (req.headers['anthropic-version'] === undefined) return json(400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
        if (url.pathname === '/v1/organizations/usage_report/messages') return json(200, this.anthropicUsage(url.searchParams));
        if (url.pathname === '/v1/organizations/cost_report') return json(200, this.anthropicCosts(url.searchParams));
      } else {
        if (req.headers.authorization !== `Bearer ${this.keys.openai}`) return json(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
        if (url.pathname === '/v1/organization/usage/completions') return json(200, this.openaiUsage(url.searchParams));
        if (url.pathname === '/v1/organization/costs') return json(200, this.openaiCosts(url.searchParams));
      }
      json(404, { error: { message: `no route ${url.pathname}` } });
    } catch (error) {
      json(400, anthropic ? { type: 'error', error: { type: 'invalid_request_error', message: (error as Error).message } } : { error: { message: (error as Error).message, type: 'invalid_request_error', param: null, code: null } });
    }
  }

  /** The days of the range, one bucket each, paged by `page` (an index cursor) and at most min(limit, pageBuckets) a page. */
  private page<T>(from: number, to: number, limit: number, page: string | null, bucket: (day: number) => T): { data: T[]; has_more: boolean; next_page: string | null } {
    const days: number[] = [];
    for (let d = Math.floor(from / DAY_S) * DAY_S; d < to; d += DAY_S) days.push(d);
    const start = page === null ? 0 : Number(Buffer.from(page.replace(/^page_/, ''), 'base64').toString('utf8'));
    if (!Number.isInteger(start) || start < 0 || start > days.length) throw new Error('invalid page');
    const size = Math.min(limit, this.pageBuckets);
    const slice = days.slice(start, start + size);
    const more = start + size < days.length;
    return { data: slice.map(bucket), has_more: more, next_page: more ? `page_${Buffer.from(String(start + size)).toString('base64')}` : null };
  }

  private static limit(q: URLSearchParams, max: number): number {
    const raw = q.get('limit');
    if (raw === null) return 7;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`limit must be from 1 to ${max}`);
    return n;
  }

  private static select(rows: BilledDay[], day: number, keyIds: string[], byModel: boolean): Map<string | null, BilledDay[]> {
    const out = new Map<string | null, BilledDay[]>();
    for (const r of rows) {
      if (r.day !== day || (keyIds.length > 0 && !keyIds.includes(r.apiKeyId ?? 'key_gateway'))) continue;
      const k = byModel ? r.model : null;
      out.set(k, [...(out.get(k) ?? []), r]);
    }
    return out;
  }

  private openaiUsage(q: URLSearchParams): unknown {
    if (q.get('bucket_width') !== '1d') throw new Error('this fake answers bucket_width=1d');
    const from = Number(q.get('start_time'));
    const to = q.get('end_time') === null ? from + 7 * DAY_S : Number(q.get('end_time'));
    const byModel = q.getAll('group_by').includes('model');
    const body = this.page(from, to, FakeAdminApi.limit(q, 31), q.get('page'), (day) => ({
      object: 'bucket',
      start_time: day,
      end_time: day + DAY_S,
      results: [...FakeAdminApi.select(this.billed.openai, day, q.getAll('api_key_ids'), byModel)].map(([model, rows]) => {
        const sum = (f: (r: BilledDay) => number): number => rows.reduce((n, r) => n + f(r), 0);
        const cached = sum((r) => r.cacheRead ?? 0);
        const written = sum((r) => (r.cacheWrite5m ?? 0) + (r.cacheWrite1h ?? 0));
        const uncached = sum((r) => r.input);
        return {
          object: 'organization.usage.completions.result',
          input_tokens: uncached + cached + written,
          input_cached_tokens: cached,
          input_cache_write_tokens: written,
          input_uncached_tokens: uncached,
          output_tokens: sum((r) => r.output),
          input_audio_tokens: 0,
          output_audio_tokens: 0,
          num_model_requests: sum((r) => r.requests ?? 0),
          project_id: null,
          user_id: null,
          api_key_id: null,
          model,
          batch: null,
          service_tier: null,
        };
      }),
    }));
    return { object: 'page', ...body };
  }

  private openaiCosts(q: URLSearchParams): unknown {
    const from = Number(q.get('start_time'));
    const to = q.get('end_time') === null ? from + 7 * DAY_S : Number(q.get('end_time'));
    const byItem = q.getAll('group_by').includes('line_item');
    const body = this.page(from, to, FakeAdminApi.limit(q, 180), q.get('page'), (day) => ({
      object: 'bucket',
      start_time: day,
      end_time: day + DAY_S,
      results: [...FakeAdminApi.select(this.billed.openai, day, q.getAll('api_key_ids'), byItem)].flatMap(([model, rows]) => {
        const nano = rows.reduce((n, r) => n + r.costNano, 0);
        const result = (lineItem: string | null, part: number) => ({ object: 'organization.costs.result', amount: { value: part / 1e9, currency: 'usd' }, line_item: lineItem, project_id: null, quantity: null, quantity_unit: null });
        // Grouped by line item, a model's cost comes as its input and output lines.
        if (model === null) return [result(null, nano)];
        const input = Math.floor(nano / 2);
        return [result(`${model}, input`, input), result(`${model}, output`, nano - input)];
      }),
    }));
    return { object: 'page', ...body };
  }

  private anthropicUsage(q: URLSearchParams): unknown {
    if (q.get('bucket_width') !== '1d') throw new Error('this fake answers bucket_width=1d');
    const from = Date.parse(q.get('starting_at') ?? '') / 1000;
    const to = q.get('ending_at') === null ? from + 7 * DAY_S : Date.parse(q.get('ending_at')!) / 1000;
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error('starting_at and ending_at must be RFC 3339 times');
    const byModel = q.getAll('group_by[]').includes('model');
    return this.page(from, to, FakeAdminApi.limit(q, 31), q.get('page'), (day) => ({
      starting_at: new Date(day * 1000).toISOString().replace('.000Z', 'Z'),
      ending_at: new Date((day + DAY_S) * 1000).toISOString().replace('.000Z', 'Z'),
      results: [...FakeAdminApi.select(this.billed.anthropic, day, q.getAll('api_key_ids[]'), byModel)].map(([model, rows]) => {
        const sum = (f: (r: BilledDay) => number): number => rows.reduce((n, r) => n + f(r), 0);
        return {
          uncached_input_tokens: sum((r) => r.input),
          cache_creation: { ephemeral_5m_input_tokens: sum((r) => r.cacheWrite5m ?? 0), ephemeral_1h_input_tokens: sum((r) => r.cacheWrite1h ?? 0) },
          cache_read_input_tokens: sum((r) => r.cacheRead ?? 0),
          output_tokens: sum((r) => r.output),
          server_tool_use: { web_search_requests: 0 },
          api_key_id: null,
          workspace_id: null,
          model,
          service_tier: null,
          context_window: null,
        };
      }),
    }));
  }

  private anthropicCosts(q: URLSearchParams): unknown {
    const from = Date.parse(q.get('starting_at') ?? '') / 1000;
    const to = q.get('ending_at') === null ? from + 7 * DAY_S : Date.parse(q.get('ending_at')!) / 1000;
    const byDescription = q.getAll('group_by[]').includes('description');
    // Cents as a decimal string, exactly: a nanodollar is 10^-7 cents.
    const cents = (nano: number): string => `${Math.floor(nano / 1e7)}.${String(nano % 1e7).padStart(7, '0')}`;
    return this.page(from, to, FakeAdminApi.limit(q, 31), q.get('page'), (day) => ({
      starting_at: new Date(day * 1000).toISOString().replace('.000Z', 'Z'),
      ending_at: new Date((day + DAY_S) * 1000).toISOString().replace('.000Z', 'Z'),
      // The cost report takes no api_key_ids: it covers the organization.
      results: [...FakeAdminApi.select(this.billed.anthropic, day, [], byDescription)].flatMap(([model, rows]): Record<string, unknown>[] => {
        const nano = rows.reduce((n, r) => n + r.costNano, 0);
        const base = { currency: 'USD', workspace_id: null, context_window: null, inference_geo: null };
        if (model === null) return [{ ...base, amount: cents(nano), cost_type: null, token_type: null, description: null, model: null, service_tier: null }];
        const input = Math.floor(nano / 3);
        const line = (tokenType: string, label: string, part: number) => ({ ...base, amount: cents(part), cost_type: 'tokens', token_type: tokenType, description: `${model} Usage - ${label}`, model, service_tier: 'standard' });
        return [line('uncached_input_tokens', 'Input Tokens', input), line('output_tokens', 'Output Tokens', nano - input)];
      }),
    }));
  }
}
