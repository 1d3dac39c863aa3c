import { request } from 'undici';

/** The largest page the gateway reads from an admin API; a page is a few KiB, a larger one is refused as malformed. */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Pages followed in one report: 90 days of 1-day buckets take a handful; a cursor that never ends is a fault. */
export const MAX_PAGES = 200;
/** The longest `retry-after` honoured (a day): a larger one is read as this. */
const MAX_RETRY_AFTER_MS = 86_400_000;

/** A failed pull of a report: `retryAfterMs` when the admin API said when to come back (429 or 503 with `retry-after`). */
export class AdminApiError extends Error {
  override readonly name = 'AdminApiError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** One page of a report as both providers shape it: `data` (time buckets), `has_more`, `next_page`. */
export interface ReportPage {
  data: unknown[];
  hasMore: boolean;
  nextPage: string | null;
}

/** `retry-after` in seconds or as an HTTP date (RFC 9110 section 10.2.3), in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  const trimmed = text.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/** Reads a page's `data`, `has_more` and `next_page`, the shape both providers document; anything else is malformed. */
export function readPage(body: unknown): ReportPage {
  if (typeof body !== 'object' || body === null) throw new AdminApiError('malformed page: not a JSON object');
  const { data, has_more: hasMore, next_page: nextPage } = body as Record<string, unknown>;
  if (!Array.isArray(data)) throw new AdminApiError('malformed page: no data array');
  if (typeof hasMore !== 'boolean') throw new AdminApiError('malformed page: has_more is not a boolean');
  if (hasMore && (typeof nextPage !== 'string' || nextPage === '' || nextPage.length > 4096)) throw new AdminApiError('malformed page: has_more without a next_page cursor');
  return { data, hasMore, nextPage: hasMore ? (nextPage as string) : null };
}

export interface AdminRequest {
  /** The full URL of the first page, its query built; later pages add `page`. */
  url: URL;
  headers: Record<string, string>;
  /** Cuts each page's call: a hanging admin API fails the pull. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Every page of one report: follows `next_page` (passed back as `page`) while `has_more` is true. Fails
 * on the first status other than 200, a body too large or not the documented shape, a cursor that
 * repeats, or more than MAX_PAGES pages. Redirects are not followed, so the admin key goes to its
 * own API only.
 */
export async function fetchAllPages(req: AdminRequest): Promise<unknown[]> {
  const buckets: unknown[] = [];
  const seen = new Set<string>();
  let page: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const url = new URL(req.url);
    if (page !== undefined) url.searchParams.set('page', page);
    const body = readPage(await getJson(url, req));
    buckets.push(...body.data);
    if (!body.hasMore || body.nextPage === null) return buckets;
    if (seen.has(body.nextPage)) throw new AdminApiError('malformed page: next_page repeats an earlier cursor');
    seen.add(body.nextPage);
    page = body.nextPage;
  }
  throw new AdminApiError(`more than ${MAX_PAGES} pages`);
}

async function getJson(url: URL, req: AdminRequest): Promise<unknown> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal === undefined ? timeout : AbortSignal.any([timeout, req.signal]);
  const where = `${url.pathname}`;
  let res;
  try {
    res = await request(url, { method: 'GET', headers: req.headers, signal });
  } catch (error) {
    if (timeout.aborted) throw new AdminApiError(`${where}: no answer within ${req.timeoutMs / 1000} s`);
    throw new AdminApiError(`${where}: ${(error as Error).message}`);
  }
  try {
    if (res.statusCode !== 200) {
      const text = await readCapped(res.body, 2048).catch(() => '');
      const wait = res.statusCode === 429 || res.statusCode === 503 ? retryAfterMs(res.headers['retry-after'], Date.now()) : undefined;
      throw new AdminApiError(`${where}: HTTP ${res.statusCode}${text ? `: ${text.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`, wait);
    }
    const text = await readCapped(res.body, MAX_PAGE_BYTES);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new AdminApiError(`${where}: malformed page: not JSON`);
    }
  } catch (error) {
    res.body.destroy();
    if (error instanceof AdminApiError) throw error;
    if (timeout.aborted) throw new AdminApiError(`${where}: no answer within ${req.timeoutMs / 1000} s`);
    throw new AdminApiError(`${where}: ${(error as Error).message}`);
  }
}

/** The body as text, refused past `limit` bytes (then the rest is not read). */
async function readCapped(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new AdminApiError(`page larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
