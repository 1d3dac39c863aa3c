// @ts-check
// The Usage panels: history from the usage store (GET /metrics/usage and /metrics/requests, contract
// section 11), not the live running totals. The store is read once a minute and on demand only: its
// queries scan rows, and better-sqlite3 runs them on the gateway's event loop.
import * as fmt from './format.js';
import { $, badge, chartJs, cssVar, el } from './dom.js';
import { costCol, countCol, errorCount, makeGrid, numCol, renderGrid, requestCols, unpriced } from './grid.js';
import { AuthRequired, endpoint } from './http.js';

/** @typedef {import('./grid.js').Row} Row */
/** @typedef {import('./http.js').Api} Api */

/**
 * A figure a chart can show: how to write its values, and its stacked datasets.
 * @typedef {{ format: (v: number) => string, exact: (v: number) => string, sets: { label: string, cssVar: string, value: (r: Slot) => number }[] }} Figure
 */

/** One hour or day of a chart: its start (Unix seconds) and the sums of its requests. @typedef {{ start: number } & Record<string, number>} Slot */

/** The sums of some usage rows (requests, errors, the four token counts, unpriced_requests, cost_usd). @typedef {Record<string, number>} Totals */

export const USAGE_REFRESH_MS = 60000;
const HOUR_S = 3600;
const DAY_S = 86400;
const HOURS = 24;
const DAYS = 30;
/** The tables' range: the value of the range switch -> the API's relative `from`, and the words for it. */
/** @type {Record<string, { from: string, words: string }>} */
const RANGES = {
  '24h': { from: '-24h', words: 'last 24 hours' },
  '7d': { from: '-7d', words: 'last 7 days' },
  '30d': { from: '-30d', words: 'last 30 days' },
};
/** A session's view covers every stored request of it (the store keeps VDM_STORE_RETENTION_DAYS of rows). */
const SESSION_FROM = '-3650d';
const SESSIONS_SHOWN = 100;
const SESSION_PAGE = 200;

const TOKEN_KEYS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens'];

/**
 * What each chart can show: stacked datasets over the rows of one bucket.
 * @type {Record<string, Figure>}
 */
const FIGURES = {
  requests: {
    format: fmt.compact,
    exact: fmt.num,
    sets: [
      { label: 'Succeeded', cssVar: '--accent', value: (r) => r.requests - r.errors },
      { label: 'Errors', cssVar: '--bad', value: (r) => r.errors },
    ],
  },
  tokens: {
    format: fmt.compact,
    exact: fmt.num,
    sets: [
      { label: 'Input', cssVar: '--tok-input', value: (r) => r.input_tokens },
      { label: 'Output', cssVar: '--tok-output', value: (r) => r.output_tokens },
      { label: 'Cache read', cssVar: '--tok-cache-read', value: (r) => r.cache_read_tokens },
      { label: 'Cache write', cssVar: '--tok-cache-creation', value: (r) => r.cache_creation_tokens },
    ],
  },
  cost: {
    format: fmt.usd,
    exact: (v) => fmt.usdExact(v),
    sets: [{ label: 'Cost', cssVar: '--cost', value: (r) => r.cost_usd }],
  },
};

const hourFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const hourTitleFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
// The store's days are UTC days: label them so, whatever the browser's zone.
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
const dayTitleFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });

/** @param {number} unixS */
const iso = (unixS) => new Date(unixS * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** @param {Row} row */
const tokensOf = (row) => TOKEN_KEYS.reduce((n, k) => n + (Number(row[k]) || 0), 0);

/**
 * Totals of some usage rows; cost added up in nanodollars, as the store sums it, so it stays exact.
 * @param {Row[]} rows
 * @returns {Totals}
 */
function sumRows(rows) {
  const totals = Object.fromEntries(['requests', 'errors', ...TOKEN_KEYS, 'unpriced_requests'].map((k) => [k, rows.reduce((n, r) => n + (Number(r[k]) || 0), 0)]));
  totals.cost_usd = rows.reduce((n, r) => n + Math.round((Number(r.cost_usd) || 0) * 1e9), 0) / 1e9;
  return totals;
}
/**
 * @param {Row} row
 * @returns {Row}
 */
const withTokens = (row) => ({ ...row, tokens: tokensOf(row) });

/**
 * One figure of a totals line, its key in data-sum, the exact value in its tooltip.
 * @param {string} key
 * @param {string} text
 * @param {string} [title]
 */
function sumPart(key, text, title) {
  const span = el('span', '', text);
  span.dataset.sum = key;
  if (title) span.title = title;
  return span;
}

class StoreOff extends Error {
  /** @param {{ message?: string, suggestion?: string }} doc the store's "disabled" document */
  constructor(doc) {
    super(doc.message || 'The usage store is off');
    this.doc = doc;
  }
}

/** The store answered 503 (unreachable) or another error: the panels keep their last data. */
class StoreTrouble extends Error {}

const usageCols = [
  countCol('requests', 'Requests', { col: 'c-req' }),
  countCol('errors', 'Errors', { render: (row) => errorCount(row.errors) }),
  countCol('input_tokens', 'Input'),
  countCol('output_tokens', 'Output', { col: 'c-num-w' }),
  countCol('cache_read_tokens', 'Cache read'),
  countCol('cache_creation_tokens', 'Cache write'),
  countCol('tokens', 'Tokens', { col: 'c-num-w', hint: 'Input + output + cache read + cache write' }),
  costCol(),
  numCol('average_duration_ms', 'Avg duration', (v) => (v ? fmt.duration(v) : '—'), { col: 'c-dur' }),
];

/**
 * Builds the Usage panels over the page's markup. `api` is the page's fetch (key in a header);
 * `onAuthRequired` asks for the key. Returns { refresh(), refreshIfStale(), recolor() }.
 * @param {{ api: Api, onAuthRequired: () => void }} options
 */
export function createUsagePanel({ api, onAuthRequired }) {
  const state = {
    figure: 'requests',
    range: '24h',
    /** The client the charts show, '' for all. */
    client: '',
    /** @type {Slot[] | null} */
    hourly: null,
    /** @type {Slot[] | null} */
    daily: null,
    /** @type {string | null} */
    session: null,
    /** @type {string | null} */
    sessionClient: null,
    /** @type {Row[]} */
    sessionRows: [],
    /** @type {string | null} */
    sessionCursor: null,
    loading: false,
    again: false,
    loadedAt: 0,
    /** @type {Record<string, import('chart.js').Chart<'bar'>>} */
    charts: {},
  };

  const modelsGrid = makeGrid($('#usage-models-grid', HTMLTableElement), [
    { key: 'model', label: 'Model', col: 'c-wide', value: (row) => row.model ?? 'unknown' },
    { key: 'provider', label: 'Provider', col: 'c-provider', render: (row) => badge(row.provider) },
    ...usageCols,
  ], { key: 'cost_usd', dir: -1 });
  modelsGrid.rowAttrs = (row) => ({ provider: row.provider ?? 'unknown', model: row.model ?? 'unknown' });

  const clientsGrid = makeGrid($('#usage-clients-grid', HTMLTableElement), [
    {
      key: 'client', label: 'Client', col: 'c-wide', value: (row) => row.client ?? 'unknown',
      render: (row) => {
        if (row.client === null) return 'unknown';
        const button = el('button', 'link', row.client);
        button.type = 'button';
        button.title = `Chart the usage of client ${row.client}`;
        button.addEventListener('click', () => chartClient(row.client));
        return button;
      },
      title: (row) => row.client ?? 'unknown',
    },
    ...usageCols,
  ], { key: 'cost_usd', dir: -1 });
  clientsGrid.rowAttrs = (row) => ({ client: row.client ?? 'unknown' });

  const usersGrid = makeGrid($('#usage-users-grid', HTMLTableElement), [
    { key: 'user', label: 'User', col: 'c-wide', title: (row) => row.user },
    ...usageCols,
  ], { key: 'cost_usd', dir: -1 });
  usersGrid.rowAttrs = (row) => ({ user: row.user });

  const sessionsGrid = makeGrid($('#usage-sessions-grid', HTMLTableElement), [
    {
      key: 'session', label: 'Session', col: 'c-wide',
      render: (row) => {
        const button = el('button', 'link', row.session);
        button.type = 'button';
        button.title = `Show the requests of session ${row.session}`;
        button.addEventListener('click', () => selectSession(row.session, row.client));
        return button;
      },
      title: (row) => row.session,
    },
    ...usageCols,
  ], { key: 'cost_usd', dir: -1 });
  sessionsGrid.rowAttrs = (row) => ({ session: row.session });

  const sessionGrid = makeGrid($('#session-grid', HTMLTableElement), [
    { key: 'start_time', label: 'Start', col: 'c-time', render: (row) => fmt.when(row.start_time), title: (row) => fmt.fullDate(row.start_time) },
    ...requestCols(),
    costCol({ title: (row) => fmt.usdExact(row.cost_usd) }),
  ], { key: 'start_time', dir: -1 });
  sessionGrid.rowAttrs = (row) => ({ requestId: row.request_id });

  // ---------------------------------------------------------------- fetching

  /**
   * @param {string} path under /metrics/
   * @param {Record<string, string>} params
   * @returns {Promise<any>} the API's document (contract section 11)
   */
  async function getJson(path, params) {
    const response = await api(endpoint(`${path}?${new window.URLSearchParams(params)}`));
    const body = await response.json().catch(() => null);
    if (response.ok && body?.disabled) throw new StoreOff(body);
    if (!response.ok || body === null) throw new StoreTrouble(body?.error?.message ?? body?.message ?? `${path} answered HTTP ${response.status}`);
    return body;
  }

  /** @param {Record<string, string>} params */
  const usage = (params) => getJson('usage', params);

  /** A session belongs to its client: one picked from the Sessions table is read for that client only. */
  /** @param {string} id */
  const ofSession = (id) => (/** @type {Row} */ r) => r.session === id && (!state.sessionClient || r.client === state.sessionClient);

  /**
   * @param {string} id
   * @param {string | null} [cursor]
   * @returns {Promise<{ rows: Row[], cursor: string | null }>}
   */
  async function loadSession(id, cursor) {
    /** @type {Record<string, string>} */
    const params = { session: id, from: SESSION_FROM, limit: String(SESSION_PAGE) };
    if (state.sessionClient) params.client = state.sessionClient;
    if (cursor) params.cursor = cursor;
    const page = await getJson('requests', params);
    // The filter is a case-insensitive glob: keep this session's rows only.
    return { rows: page.requests.filter(ofSession(id)), cursor: page.next_cursor };
  }

  /**
   * A chart's buckets, for every client or the one picked. The client filter is a case-insensitive
   * glob, so a picked client's rows are grouped by client too and only its own are kept.
   * @param {string} from
   * @param {'hour' | 'day'} bucket
   * @returns {Promise<{ rows: Row[], totals: Totals }>}
   */
  async function chartRows(from, bucket) {
    if (!state.client) return usage({ from, group_by: bucket });
    const doc = await usage({ from, group_by: `${bucket},client`, client: state.client });
    const rows = doc.rows.filter((/** @type {Row} */ r) => r.client === state.client);
    return { rows, totals: sumRows(rows) };
  }

  /**
   * @param {string} id
   * @returns {Promise<Row | null>}
   */
  async function sessionTotal(id) {
    /** @type {Record<string, string>} */
    const params = { session: id, from: SESSION_FROM, group_by: 'session' };
    if (state.sessionClient) params.client = state.sessionClient;
    // Grouped by client too: a session typed in, with no client, sums every client's session of that name.
    const rows = (await usage(params)).rows.filter(ofSession(id));
    return rows.length === 0 ? null : rows.length === 1 ? rows[0] : { session: id, ...sumRows(rows) };
  }

  /** Reads everything the panels show; at most one read at a time, a request meanwhile runs once after it. */
  async function refresh() {
    if (state.loading) {
      state.again = true;
      return;
    }
    state.loading = true;
    setBusy(true);
    try {
      const nowS = Math.floor(Date.now() / 1000);
      const hourFrom = (Math.floor(nowS / HOUR_S) - (HOURS - 1)) * HOUR_S;
      const dayFrom = (Math.floor(nowS / DAY_S) - (DAYS - 1)) * DAY_S;
      const range = RANGES[state.range];
      const selected = state.session;
      const now = new Date(nowS * 1000);
      const monthFrom = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / 1000;
      const [hourly, daily, models, clients, sessions, session, users, today, month] = await Promise.all([
        chartRows(iso(hourFrom), 'hour'),
        chartRows(iso(dayFrom), 'day'),
        usage({ from: range.from, group_by: 'provider,model' }),
        usage({ from: range.from, group_by: 'client' }),
        // The top sessions by cost, sorted and cut by the store (one more: the row of requests with no session).
        usage({ from: range.from, group_by: 'session', order: 'cost', limit: String(SESSIONS_SHOWN + 1) }),
        selected === null ? null : Promise.all([sessionTotal(selected), loadSession(selected)]),
        usage({ from: range.from, group_by: 'user', order: 'cost', limit: String(SESSIONS_SHOWN + 1) }),
        usage({ from: iso(Math.floor(nowS / DAY_S) * DAY_S) }),
        usage({ from: iso(monthFrom) }),
      ]);
      state.hourly = buckets(hourly.rows, 'hour', hourFrom, HOUR_S, HOURS);
      state.daily = buckets(daily.rows, 'day', dayFrom, DAY_S, DAYS);
      setOff(null);
      renderCharts();
      renderSums('#usage-hourly', hourly.totals);
      renderSums('#usage-daily', daily.totals);
      for (const node of document.querySelectorAll('.usage-range-words')) node.textContent = range.words;
      renderGrid(modelsGrid, models.rows.map(withTokens));
      renderGrid(clientsGrid, clients.rows.map(withTokens));
      renderClientChoice(clients.rows);
      renderSpend('today', today.totals);
      renderSpend('month', month.totals);
      const topUsers = top(users, 'user');
      renderGrid(usersGrid, topUsers.rows);
      $('#usage-users-count').textContent = topUsers.note;
      const topSessions = top(sessions, 'session');
      renderGrid(sessionsGrid, topSessions.rows);
      $('#usage-sessions-count').textContent = topSessions.note;
      if (session !== null && state.session === selected) applySession(session[0], session[1], false);
      state.loadedAt = Date.now();
      $('#usage-updated').textContent = `Read ${fmt.clock(state.loadedAt)}`;
    } catch (error) {
      readFailed(error);
    } finally {
      state.loading = false;
      setBusy(false);
      if (state.again) {
        state.again = false;
        void refresh();
      }
    }
  }

  /**
   * The named rows that cost most (then the busiest), at most SESSIONS_SHOWN (the store sorts and cuts them), and a note when some are left out.
   * @param {{ rows: Row[], total_rows?: number }} doc
   * @param {string} key
   */
  function top(doc, key) {
    const named = doc.rows.filter((r) => r[key] !== null).map(withTokens);
    const shown = [...named].sort((a, b) => b.cost_usd - a.cost_usd || b.requests - a.requests).slice(0, SESSIONS_SHOWN);
    // total_rows counts the row of requests that named none, when there is one.
    const count = (doc.total_rows ?? doc.rows.length) - (doc.rows.length - named.length);
    return { rows: shown, note: count > shown.length ? `top ${shown.length} of ${fmt.num(count)} by cost` : '' };
  }

  /**
   * What was spent today or this month (UTC), exact in the tooltip; "unpriced" when nothing had a price.
   * @param {'today' | 'month'} which
   * @param {Totals} totals
   */
  function renderSpend(which, totals) {
    const node = $(`#usage-spend [data-spend="${which}"] strong`);
    node.textContent = unpriced(totals) ? 'unpriced' : fmt.usd(totals.cost_usd);
    node.title = unpriced(totals) ? fmt.usdExact(null) : `${fmt.usdExact(totals.cost_usd, totals.unpriced_requests)}; over ${fmt.num(totals.requests)} ${totals.requests === 1 ? 'request' : 'requests'}`;
  }

  /** On (re)start: read again unless the last read is recent, so showing the tab again does not hit the store each time. */
  function refreshIfStale() {
    if (Date.now() - state.loadedAt >= USAGE_REFRESH_MS) void refresh();
  }

  /** The client menu: every client of the tables' range, and the one picked even when it is not among them. */
  /** @param {Row[]} rows */
  function renderClientChoice(rows) {
    const select = $('#usage-client', HTMLSelectElement);
    /** @type {string[]} */
    const names = [...new Set([...rows.map((r) => r.client).filter((c) => c !== null), ...(state.client ? [state.client] : [])])].sort();
    select.replaceChildren(new window.Option('All clients', ''), ...names.map((name) => new window.Option(name, name)));
    select.value = state.client;
  }

  /** @param {string} name */
  function chartClient(name) {
    state.client = name;
    $('#usage-client', HTMLSelectElement).value = name;
    void refresh();
  }

  // ---------------------------------------------------------------- store off or in trouble

  /** @param {{ message?: string, suggestion?: string } | null} doc the store's "disabled" document, null when it is on */
  function setOff(doc) {
    const note = $('#usage-note');
    document.body.dataset.usage = doc ? 'off' : 'on';
    if (!doc) {
      note.hidden = true;
      return;
    }
    note.dataset.kind = 'off';
    note.replaceChildren(el('strong', '', `${doc.message || 'The usage store is off'}.`), ' ', el('span', '', `${doc.suggestion || 'Set VDM_STORE to keep request history'}.`));
    note.hidden = false;
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {};
  }

  /** A read failed: ask for the key, say the store is off, or keep the last data and say why. */
  /** @param {unknown} error */
  function readFailed(error) {
    if (error instanceof AuthRequired) onAuthRequired();
    else if (error instanceof StoreOff) setOff(error.doc);
    else showTrouble(error instanceof StoreTrouble ? error.message : 'The gateway is not reachable');
  }

  /** @param {string} message */
  function showTrouble(message) {
    const note = $('#usage-note');
    note.dataset.kind = 'error';
    note.replaceChildren(el('strong', '', 'Usage history unavailable.'), ' ', el('span', '', `${message}; the panels show the last data read.`));
    note.hidden = false;
  }

  /** @param {boolean} busy */
  function setBusy(busy) {
    const button = $('#usage-refresh', HTMLButtonElement);
    button.disabled = busy;
    button.textContent = busy ? 'Reading…' : 'Refresh';
  }

  // ---------------------------------------------------------------- charts

  /**
   * The API leaves out empty buckets: one slot per hour or day of the range, zeros where it had none.
   * @param {Row[]} rows
   * @param {'hour' | 'day'} key
   * @param {number} fromS
   * @param {number} stepS
   * @param {number} count
   * @returns {Slot[]}
   */
  function buckets(rows, key, fromS, stepS, count) {
    const byStart = new Map(rows.map((r) => [Date.parse(r[key]) / 1000, r]));
    return Array.from({ length: count }, (_, i) => {
      const start = fromS + i * stepS;
      const row = byStart.get(start) ?? {};
      return /** @type {Slot} */ ({ start, ...Object.fromEntries(['requests', 'errors', ...TOKEN_KEYS, 'cost_usd'].map((k) => [k, Number(row[k]) || 0])) });
    });
  }

  function renderCharts() {
    if (!state.hourly || !state.daily) return;
    renderChart('hourly', state.hourly, (b) => hourFmt.format(b.start * 1000), (b) => `${hourTitleFmt.format(b.start * 1000)} (1 hour)`);
    renderChart('daily', state.daily, (b) => dayFmt.format(b.start * 1000), (b) => `${dayTitleFmt.format(b.start * 1000)} (UTC)`);
  }

  /**
   * @param {'hourly' | 'daily'} name
   * @param {Slot[]} slots
   * @param {(slot: Slot) => string} label
   * @param {(slot: Slot) => string} title the tooltip's
   */
  function renderChart(name, slots, label, title) {
    $(`#usage-${name} .chart-empty`).hidden = slots.some((b) => b.requests > 0);
    const Chart = chartJs();
    if (!Chart) return;
    const figure = FIGURES[state.figure];
    const datasets = figure.sets.map((set) => ({
      label: set.label,
      data: slots.map(set.value),
      backgroundColor: cssVar(set.cssVar),
      borderWidth: 0,
      stack: 'one',
    }));
    const labels = slots.map(label);
    const colors = { muted: cssVar('--muted'), border: cssVar('--border') };
    /** @type {import('chart.js').ChartOptions<'bar'>} */
    const options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0, color: colors.muted } },
        y: {
          stacked: true,
          beginAtZero: true,
          grid: { color: colors.border },
          ticks: { maxTicksLimit: 5, color: colors.muted, callback: (value) => figure.format(Number(value)) },
        },
      },
      plugins: {
        legend: {
          display: figure.sets.length > 1,
          position: 'bottom',
          labels: { color: colors.muted, boxWidth: 10, boxHeight: 10 },
        },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? title(slots[items[0].dataIndex]) : ''),
            label: (ctx) => ` ${ctx.dataset.label}: ${figure.exact(ctx.parsed.y ?? 0)}`,
          },
        },
      },
    };
    let chart = state.charts[name];
    if (!chart) {
      chart = new Chart($(`#usage-${name} canvas`, HTMLCanvasElement), { type: 'bar', data: { labels, datasets }, options });
      state.charts[name] = chart;
    } else {
      chart.data.labels = labels;
      chart.data.datasets = datasets;
      chart.options = options;
    }
    chart.update('none');
  }

  /**
   * Totals beside a chart's title: requests, errors, tokens and cost over its whole range, exact in the tooltips.
   * @param {string} selector the chart's box
   * @param {Totals} totals
   */
  function renderSums(selector, totals) {
    const sums = $(`${selector} .usage-sums`);
    const tokens = tokensOf(totals);
    sums.replaceChildren(
      sumPart('requests', `${fmt.compact(totals.requests)} ${totals.requests === 1 ? 'request' : 'requests'}`, fmt.num(totals.requests)),
      sumPart('errors', `${fmt.compact(totals.errors)} ${totals.errors === 1 ? 'error' : 'errors'}`, fmt.num(totals.errors)),
      sumPart('tokens', `${fmt.compact(tokens)} tokens`, fmt.num(tokens)),
      unpriced(totals)
        ? sumPart('cost_usd', 'unpriced', fmt.usdExact(null))
        : sumPart('cost_usd', fmt.usd(totals.cost_usd), fmt.usdExact(totals.cost_usd, totals.unpriced_requests)),
    );
  }

  // ---------------------------------------------------------------- sessions


  /**
   * @param {string} id
   * @param {string | null} [client]
   */
  async function selectSession(id, client = null) {
    const session = id.trim();
    if (!session) return;
    state.session = session;
    state.sessionClient = client;
    state.sessionRows = [];
    state.sessionCursor = null;
    const panel = $('#session-panel');
    panel.hidden = false;
    $('#session-id').textContent = session;
    $('#session-id').title = session;
    $('#session-sums').replaceChildren(el('span', 'subtle', 'reading…'));
    renderGrid(sessionGrid, []);
    try {
      const [total, page] = await Promise.all([sessionTotal(session), loadSession(session)]);
      if (state.session === session) applySession(total, page, false);
    } catch (error) {
      readFailed(error);
    }
    panel.scrollIntoView({ block: 'nearest' });
  }

  async function loadMore() {
    const session = state.session;
    if (session === null || !state.sessionCursor) return;
    try {
      const page = await loadSession(session, state.sessionCursor);
      if (state.session === session) applySession(null, page, true);
    } catch (error) {
      readFailed(error);
    }
  }

  /**
   * @param {Row | null} total the session's sums (null on a page appended)
   * @param {{ rows: Row[], cursor: string | null }} page
   * @param {boolean} append
   */
  function applySession(total, page, append) {
    state.sessionRows = append ? [...state.sessionRows, ...page.rows] : page.rows;
    state.sessionCursor = page.cursor;
    renderGrid(sessionGrid, state.sessionRows);
    // More rows of a page already summed: the totals stay.
    if (!append) renderSessionSums(total);
    const more = $('#session-more-row');
    more.hidden = !state.sessionCursor;
    $('#session-shown').textContent = state.sessionCursor ? `${fmt.num(state.sessionRows.length)} shown, newest first` : '';
  }

  /** @param {Row | null} total */
  function renderSessionSums(total) {
    const sums = $('#session-sums');
    if (!total) {
      sums.replaceChildren(el('span', 'subtle', 'no stored requests'));
      return;
    }
    const clients = [...new Set(state.sessionRows.map((r) => r.client).filter(Boolean))];
    const tokens = tokensOf(total);
    sums.replaceChildren(
      ...(clients.length ? [sumPart('client', clients.join(', '), `client${clients.length > 1 ? 's' : ''} ${clients.join(', ')}`)] : []),
      sumPart('requests', `${fmt.compact(total.requests)} ${total.requests === 1 ? 'request' : 'requests'}`, fmt.num(total.requests)),
      sumPart('tokens', `${fmt.compact(tokens)} tokens`, fmt.num(tokens)),
      sumPart('cost_usd', `total ${fmt.usd(total.cost_usd)}`, fmt.usdExact(total.cost_usd, total.unpriced_requests)),
    );
  }

  function closeSession() {
    state.session = null;
    state.sessionRows = [];
    state.sessionCursor = null;
    $('#session-panel').hidden = true;
  }

  // ---------------------------------------------------------------- controls

  for (const radio of document.querySelectorAll('input[name="usage-figure"]')) {
    if (!(radio instanceof HTMLInputElement)) continue;
    radio.addEventListener('change', () => {
      state.figure = radio.value;
      if (state.hourly) renderCharts();
    });
  }
  const clientSelect = $('#usage-client', HTMLSelectElement);
  clientSelect.addEventListener('change', () => chartClient(clientSelect.value));
  for (const radio of document.querySelectorAll('input[name="usage-range"]')) {
    if (!(radio instanceof HTMLInputElement)) continue;
    radio.addEventListener('change', () => {
      state.range = radio.value;
      void refresh();
    });
  }
  $('#usage-refresh').addEventListener('click', () => void refresh());
  $('#session-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void selectSession($('#session-input', HTMLInputElement).value);
  });
  $('#session-close').addEventListener('click', closeSession);
  $('#session-more').addEventListener('click', () => void loadMore());

  return {
    refresh,
    refreshIfStale,
    recolor: () => {
      if (state.hourly && Object.keys(state.charts).length) renderCharts();
    },
  };
}
