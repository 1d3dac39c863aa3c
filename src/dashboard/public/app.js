// @ts-check
// Vandamme Gateway dashboard: plain modern JS, no build step.
// Data: /metrics/running-totals (JSON, completed requests only), /metrics/logs, and the live
// /metrics/active-requests/stream read with fetch so the API key travels in a header, never a URL;
// the Usage panels (usage.js) read the usage store's history.
import * as fmt from './format.js';
import { $, badge, chartJs, cssVar, el } from './dom.js';
import { apiCol, apiName, costCol, countCol, errorCount, makeGrid, modelOf, numCol, renderGrid, requestCols, whoCols } from './grid.js';
import { AuthRequired, createApi, endpoint } from './http.js';
import { createLiveConnection, followVisibility, LIVE_TIMING } from './live.js';
import { createUsagePanel, USAGE_REFRESH_MS } from './usage.js';
import { createReconciliationPanel } from './reconciliation.js';
import { createBudgetsPanel } from './budgets.js';

/** @typedef {import('./grid.js').Row} Row */
/** @typedef {import('./live.js').LiveStatus} LiveStatus */
/** The status pill's states: the live connection's, and the page's own. @typedef {LiveStatus | 'paused' | 'disabled' | 'locked'} ConnState */

/**
 * An active request on the page: its latest row, its elapsed time at `at` (performance.now()) and its tr.
 * @typedef {{ row: Row, baseMs: number, at: number, tr: HTMLTableRowElement }} ActiveEntry
 */

const KEY_STORAGE = 'vdm.dashboard.apiKey';
const TICK_STORAGE = 'vdm.dashboard.tickMs';
const DEFAULT_TICK_MS = 2000;
const POLL_MS = LIVE_TIMING.pollMs;
/** Totals and logs also refresh on every change of the active set; this is the safety net. */
const REFRESH_MS = 10000;

const TOTALS_URL = endpoint('running-totals?format=json&include_active=false');
/** The recent grid starts short, so the usage panels below stay near the top; "Show more" adds pages. */
const TRACES_FIRST = 20;
const TRACES_PAGE = 100;
const MAX_TRACES = 2000;
const logsUrl = () => endpoint(`logs?limit_errors=25&limit_traces=${state.tracesLimit}`);
const ACTIVE_URL = endpoint('active-requests');
const STREAM_URL = endpoint('active-requests/stream');

const TOKEN_KINDS = [
  { key: 'total_input_tokens', label: 'Input', cssVar: '--tok-input' },
  { key: 'total_output_tokens', label: 'Output', cssVar: '--tok-output' },
  { key: 'total_cache_read_tokens', label: 'Cache read', cssVar: '--tok-cache-read' },
  { key: 'total_cache_creation_tokens', label: 'Cache creation', cssVar: '--tok-cache-creation' },
];

/**
 * @param {'sessionStorage' | 'localStorage'} name
 * @returns {Storage | undefined}
 */
function storageOf(name) {
  try {
    return window[name];
  } catch {
    return undefined; // storage blocked: the page still works, it just asks again
  }
}
const session = storageOf('sessionStorage');
const local = storageOf('localStorage');

const state = {
  key: session?.getItem(KEY_STORAGE) ?? '',
  /** Whether a run is under way (live connection, timers); false while paused or locked. */
  running: false,
  /** @type {Map<string, ActiveEntry>} request_id -> its entry */
  active: new Map(),
  mode: 'total',
  /** @type {any} the running totals document (contract: /metrics/running-totals) */
  totals: null,
  /** @type {any} the logs document (contract: /metrics/logs) */
  logs: null,
  /** Recent requests shown, and asked of the gateway (one more than shown tells whether there are more). */
  tracesShown: TRACES_FIRST,
  tracesLimit: TRACES_FIRST + 1,
  disabled: false,
  locked: false,
  tickMs: Number(local?.getItem(TICK_STORAGE)) || DEFAULT_TICK_MS,
  /** @type {ReturnType<typeof setTimeout>[]} */
  timers: [],
  refreshing: false,
  refreshAgain: false,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  refreshTimeout: undefined,
  /** @type {import('chart.js').Chart<'doughnut'> | null} */
  chart: null,
};

// ------------------------------------------------------------------ HTTP

const api = createApi(() => state.key);

// ------------------------------------------------------------------ status and notices

/** @type {Record<ConnState, string>} */
const LIVE_HINTS = {
  connecting: 'connecting…',
  live: 'live',
  polling: `polled every ${POLL_MS / 1000} s`,
  reconnecting: 'stale: reconnecting',
  paused: 'paused',
  disabled: 'metrics off',
  locked: 'needs the API key',
};

/**
 * @param {ConnState} kind
 * @param {string} text
 */
function setStatus(kind, text) {
  const node = $('#conn-status');
  node.dataset.state = kind;
  node.textContent = text;
  document.body.dataset.conn = kind;
  const hint = LIVE_HINTS[kind];
  $('#active-hint').textContent = hint;
  $('[data-metric="in_flight"] .sub').textContent = hint;
}

function markUpdated() {
  $('#updated').textContent = `Updated ${fmt.clock(Date.now())}`;
}

/**
 * @param {'disabled' | 'stream-off'} kind
 * @param {string} title
 * @param {string} text
 */
function showNotice(kind, title, text) {
  const node = $('#notice');
  node.dataset.kind = kind;
  $('#notice-title').textContent = title;
  $('#notice-text').textContent = text;
  node.hidden = false;
}

/** @param {'disabled' | 'stream-off'} [kind] only that notice; any when not given */
function hideNotice(kind) {
  const node = $('#notice');
  if (kind === undefined || node.dataset.kind === kind) node.hidden = true;
}

/** @param {{ message?: string, suggestion?: string } | undefined} doc the gateway's "disabled" document */
function metricsDisabled(doc) {
  state.disabled = true;
  stopRun();
  clearActive();
  setStatus('disabled', 'Metrics disabled');
  showNotice(
    'disabled',
    `${doc?.message || 'Request metrics are disabled'}.`,
    `${doc?.suggestion || 'Set LOG_REQUEST_METRICS=true to enable them'}. The gateway still proxies requests; there is just nothing to show.`,
  );
  // Look again now and then: a restarted gateway may have metrics back on.
  state.timers.push(setTimeout(() => void refreshNow(), REFRESH_MS * 3));
}

// ------------------------------------------------------------------ run control

function stopRun() {
  live.stop();
  state.running = false;
  for (const timer of state.timers) {
    clearTimeout(timer);
    clearInterval(timer);
  }
  state.timers = [];
  clearTimeout(state.refreshTimeout);
}

/** (Re)starts everything: a full resync of totals and logs, then the live stream. */
function start() {
  stopRun();
  if (state.locked || document.hidden) return;
  state.running = true;
  state.disabled = false;
  void refreshNow();
  live.start();
  usage.refreshIfStale();
  void reconciliation.refresh();
  void budgets.refresh();
  state.timers.push(setInterval(tick, state.tickMs));
  state.timers.push(setInterval(() => void refreshNow(), REFRESH_MS));
  state.timers.push(setInterval(() => void usage.refresh(), USAGE_REFRESH_MS));
  state.timers.push(setInterval(() => void reconciliation.refresh(), USAGE_REFRESH_MS));
  state.timers.push(setInterval(() => void budgets.refresh(), REFRESH_MS));
}

function pause() {
  stopRun();
  if (!state.locked && !state.disabled) setStatus('paused', 'Paused (tab hidden)');
}

// ------------------------------------------------------------------ live stream

const live = createLiveConnection({
  api,
  streamUrl: STREAM_URL,
  activeUrl: ACTIVE_URL,
  on: {
    status: (kind, text) => {
      if (kind === 'live') hideNotice('stream-off');
      setStatus(kind, text);
    },
    update: (doc, first) => {
      applyActive(doc);
      // A new connection may follow a restart or a gap: resync the totals too.
      if (first) scheduleRefresh(0);
    },
    heartbeat: markUpdated,
    streamOff: (message) => showNotice('stream-off', 'Live stream unavailable.', `${message}. Polling every ${POLL_MS / 1000} s instead.`),
    disabled: metricsDisabled,
    authRequired: requireKey,
  },
});

// ------------------------------------------------------------------ active requests grid

/** The active grid's columns, in the order of its header: [key, class]. */
const ACTIVE_COLUMNS = [
  ['provider'], ['api'], ['model'], ['client'], ['user'], ['session'], ['mode', 'col-lg'], ['duration', 'num'], ['input_tokens', 'num'],
  ['output_tokens', 'num'], ['cache_read_tokens', 'num col-lg'], ['cache_creation_tokens', 'num col-xl'], ['tool_calls', 'num col-xl'],
  ['message_count', 'num col-xl'], ['request_size', 'num col-xl'], ['cost_usd', 'num'],
];

/**
 * Each active row's cells by column key.
 * @type {WeakMap<HTMLTableRowElement, Record<string, HTMLTableCellElement>>}
 */
const entryCells = new WeakMap();

/**
 * The cells buildActiveRow made for a row.
 * @param {HTMLTableRowElement} tr
 */
const cellsOf = (tr) => /** @type {Record<string, HTMLTableCellElement>} */ (entryCells.get(tr));

/** @param {Row} row */
function buildActiveRow(row) {
  const tr = el('tr', 'row-new');
  tr.dataset.requestId = row.request_id;
  tr.dataset.provider = row.provider ?? '';
  /** @type {Record<string, HTMLTableCellElement>} */
  const cells = {};
  for (const [col, cls] of ACTIVE_COLUMNS) {
    const td = el('td', cls);
    td.dataset.col = col;
    tr.append(td);
    cells[col] = td;
  }
  entryCells.set(tr, cells);
  cells.provider.append(badge(row.provider));
  cells.api.textContent = apiName(row.api);
  cells.api.title = row.api ?? 'unknown';
  const model = row.resolved_model || row.model || row.requested_model || 'unknown';
  cells.model.textContent = model;
  cells.model.title = row.requested_model && row.requested_model !== model ? `${model} (requested as ${row.requested_model})` : model;
  for (const key of ['client', 'user', 'session']) {
    cells[key].textContent = row[key] ?? '—';
    cells[key].title = row[key] ?? `no ${key}`;
  }
  cells.mode.append(el('span', row.is_streaming ? 'pill stream' : 'pill', row.is_streaming ? 'stream' : 'sync'));
  cells.duration.title = `started ${fmt.fullDate(row.start_time)}`;
  tr.addEventListener('animationend', () => tr.classList.remove('row-new'), { once: true });
  return tr;
}

/**
 * @param {HTMLElement} td
 * @param {string} text
 */
function setText(td, text) {
  if (td.textContent !== text) td.textContent = text;
}

/**
 * @param {HTMLElement} td
 * @param {string} title
 */
function setTitle(td, title) {
  if (td.title !== title) td.title = title;
}

/**
 * @param {HTMLElement} td
 * @param {number} value
 */
function setCount(td, value) {
  setText(td, fmt.compact(value));
  setTitle(td, fmt.exact(value));
  td.classList.toggle('zero', !value);
}

/**
 * @param {HTMLElement} td
 * @param {Row} row
 */
function setOutput(td, row) {
  const output = fmt.outputProgress(row);
  setText(td, output.text);
  setTitle(td, output.title);
  td.classList.toggle('estimate', output.estimate);
  td.classList.toggle('zero', !output.estimate && !row.output_tokens);
}

/** @param {ActiveEntry} entry */
function updateActiveRow(entry) {
  const { row, tr } = entry;
  const cells = cellsOf(tr);
  setCount(cells.input_tokens, row.input_tokens);
  setOutput(cells.output_tokens, row);
  setCount(cells.cache_read_tokens, row.cache_read_tokens);
  setCount(cells.cache_creation_tokens, row.cache_creation_tokens);
  setCount(cells.tool_calls, row.tool_calls);
  setCount(cells.message_count, row.message_count);
  setText(cells.request_size, fmt.bytes(row.request_size));
  setText(cells.cost_usd, fmt.usd(row.cost_usd));
  setTitle(cells.cost_usd, fmt.usdExact(row.cost_usd));
  setText(cells.duration, fmt.elapsed(elapsedOf(entry)));
}

/** @param {ActiveEntry} entry */
const elapsedOf = (entry) => entry.baseMs + (performance.now() - entry.at);

/** @param {any} doc the active requests document (contract: /metrics/active-requests) */
function applyActive(doc) {
  /** @type {Row[]} */
  const rows = Array.isArray(doc.active_requests) ? doc.active_requests : [];
  const tbody = $('#active-grid tbody');
  const now = performance.now();
  const seen = new Set();
  let changed = false;
  let progressed = false;
  for (const row of rows) {
    seen.add(row.request_id);
    // Durations tick on the client from the server's elapsed time: no clock skew between the two.
    const baseMs = Number(row.duration_ms) || Math.max(0, (Number(doc.timestamp) - Number(row.start_time)) * 1000) || 0;
    let entry = state.active.get(row.request_id);
    if (!entry) {
      entry = { row, baseMs, at: now, tr: buildActiveRow(row) };
      state.active.set(row.request_id, entry);
      changed = true;
    } else {
      if (countsOf(entry.row) !== countsOf(row)) progressed = true;
      Object.assign(entry, { row, baseMs, at: now });
    }
    updateActiveRow(entry);
  }
  for (const [id, entry] of state.active) {
    if (!seen.has(id)) {
      entry.tr.remove();
      state.active.delete(id);
      changed = true;
    }
  }
  // Newest first, as the server orders them; only rows out of place move.
  rows.forEach((row, i) => {
    const tr = /** @type {ActiveEntry} */ (state.active.get(row.request_id)).tr;
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
  renderActiveCount();
  markUpdated();
  // A request that ends lands in the totals and the logs: fetch them now. An update that changes
  // nothing visible is a request that started and ended within one coalesced push: fetch too.
  if (changed || !progressed) scheduleRefresh(100);
}

/** @param {Row} row */
const countsOf = (row) =>
  `${row.input_tokens}/${row.output_tokens}/${row.output_chars}/${row.cache_read_tokens}/${row.cache_creation_tokens}/${row.tool_calls}/${row.cost_usd}`;

function clearActive() {
  for (const entry of state.active.values()) entry.tr.remove();
  state.active.clear();
  renderActiveCount();
}

function renderActiveCount() {
  const n = state.active.size;
  $('#active-count').textContent = String(n);
  $('#active-empty').hidden = n > 0;
  $('[data-metric="in_flight"] .value').textContent = state.disabled ? '—' : fmt.num(n);
}

function tick() {
  for (const entry of state.active.values()) setText(cellsOf(entry.tr).duration, fmt.elapsed(elapsedOf(entry)));
  renderLastAccess();
}

// ------------------------------------------------------------------ totals and logs

/** @param {number} delayMs */
function scheduleRefresh(delayMs) {
  clearTimeout(state.refreshTimeout);
  state.refreshTimeout = setTimeout(() => void refreshNow(), delayMs);
}

async function refreshNow() {
  if (state.locked) return;
  if (state.refreshing) {
    state.refreshAgain = true;
    return;
  }
  state.refreshing = true;
  try {
    const [totalsResponse, logsResponse] = await Promise.all([api(TOTALS_URL), api(logsUrl())]);
    if (!totalsResponse.ok) throw new Error(`running-totals answered HTTP ${totalsResponse.status}`);
    const totals = await totalsResponse.json();
    if (totals.disabled) {
      if (!state.disabled) metricsDisabled(totals);
      return;
    }
    if (state.disabled) {
      hideNotice('disabled');
      start();
    }
    state.totals = totals;
    if (logsResponse.ok) state.logs = await logsResponse.json();
    renderTotals();
    renderLogs();
    markUpdated();
  } catch (error) {
    // Another read may have been refused first and asked already.
    if (error instanceof AuthRequired && !state.locked) requireKey();
    // Otherwise the gateway is unreachable: the status pill already says so; keep the last data.
  } finally {
    state.refreshing = false;
    if (state.refreshAgain) {
      state.refreshAgain = false;
      void refreshNow();
    }
  }
}

/**
 * Fills a card: its value, the line under it, the value's tooltip.
 * @param {string} metric the card's data-metric
 * @param {string} value
 * @param {string} [sub]
 * @param {string} [title]
 */
function card(metric, value, sub, title) {
  const node = $(`[data-metric="${metric}"]`);
  const valueNode = $(`[data-metric="${metric}"] .value`);
  valueNode.textContent = value;
  valueNode.title = title ?? '';
  if (sub !== undefined) $(`[data-metric="${metric}"] .sub`).textContent = sub;
  return node;
}

function renderTotals() {
  const s = state.totals.summary;
  const requests = s.total_requests ?? 0;
  const errors = s.total_errors ?? 0;
  /** @type {number} */
  const tokens = TOKEN_KINDS.reduce((sum, kind) => sum + (s[kind.key] ?? 0), 0);
  card('requests', fmt.compact(requests), 'completed', fmt.num(requests));
  card('errors', fmt.num(errors), `${fmt.percent(requests ? errors / requests : 0)} error rate`).classList.toggle('has-errors', errors > 0);
  const share = (/** @type {number} */ n) => (tokens ? `${fmt.percent(n / tokens)} of tokens` : '\u00a0');
  card('input', fmt.compact(s.total_input_tokens), share(s.total_input_tokens), fmt.num(s.total_input_tokens));
  card('output', fmt.compact(s.total_output_tokens), share(s.total_output_tokens), fmt.num(s.total_output_tokens));
  card('cache_read', fmt.compact(s.total_cache_read_tokens), share(s.total_cache_read_tokens), fmt.num(s.total_cache_read_tokens));
  card('cache_creation', fmt.compact(s.total_cache_creation_tokens), share(s.total_cache_creation_tokens), fmt.num(s.total_cache_creation_tokens));
  const unpriced = s.total_unpriced_requests ?? 0;
  const estimatedRequests = s.total_estimated_requests ?? 0;
  const costNote = [unpriced ? `${fmt.num(unpriced)} unpriced` : '', estimatedRequests ? `${fmt.num(estimatedRequests)} estimated` : ''].filter(Boolean).join(', ');
  const costTitle = fmt.usdExact(s.total_cost_usd ?? 0, unpriced) + (estimatedRequests ? `; ${fmt.num(estimatedRequests)} ${estimatedRequests === 1 ? 'request' : 'requests'} estimated (the upstream answered without reporting its usage)` : '');
  card('cost', fmt.usd(s.total_cost_usd ?? 0), costNote || 'USD, list prices', costTitle);
  // Reasoning tokens are part of output, so they are shown as a share of output, not of all tokens.
  const reasoning = s.total_reasoning_tokens ?? 0;
  card('reasoning', fmt.compact(reasoning), s.total_output_tokens ? `${fmt.percent(reasoning / s.total_output_tokens)} of output` : '\u00a0', fmt.num(reasoning));
  const completed = s.completed_requests ?? requests;
  card('avg_duration', requests ? fmt.duration(s.average_duration_ms) : '—', `over ${fmt.num(completed)} completed`);
  renderLastAccess();
  renderChart(s, tokens);
  renderProviders();
}

function renderLastAccess() {
  const top = state.totals?.summary?.last_accessed?.top;
  const node = $('#last-access');
  node.textContent = `Last request ${top ? fmt.ago(top) : '—'}`;
  node.title = top ? `When the gateway last received a request: ${fmt.fullDate(top)}` : 'No request yet';
}

/**
 * @param {Record<string, number>} summary the running totals' summary
 * @param {number} tokens all four kinds together
 */
function renderChart(summary, tokens) {
  const values = TOKEN_KINDS.map((kind) => summary[kind.key] ?? 0);
  const legend = $('#token-legend');
  legend.replaceChildren(
    ...TOKEN_KINDS.map((kind, i) => {
      const li = el('li');
      const swatch = el('span', 'swatch');
      swatch.style.background = `var(${kind.cssVar})`;
      li.append(swatch, el('span', '', kind.label), el('span', 'num', fmt.num(values[i])), el('span', 'pct', tokens ? fmt.percent(values[i] / tokens) : '—'));
      return li;
    }),
  );
  $('#chart-empty').hidden = tokens > 0;
  const Chart = chartJs();
  if (!Chart) return;
  if (!state.chart) {
    state.chart = new Chart($('#token-chart', HTMLCanvasElement), {
      type: 'doughnut',
      data: {
        labels: TOKEN_KINDS.map((kind) => kind.label),
        datasets: [{ data: values, borderWidth: 2 }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        cutout: '62%',
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => ` ${ctx.label}: ${fmt.num(ctx.parsed)}` } },
        },
      },
    });
    recolorChart();
  } else {
    state.chart.data.datasets[0].data = values;
    state.chart.update('none');
  }
}

function recolorChart() {
  if (!state.chart) return;
  const dataset = state.chart.data.datasets[0];
  dataset.backgroundColor = TOKEN_KINDS.map((kind) => cssVar(kind.cssVar));
  dataset.borderColor = cssVar('--panel');
  state.chart.update('none');
}

// ------------------------------------------------------------------ sortable grids

/** @type {import('./grid.js').Column[]} */
const sectionCols = [
  countCol('requests', 'Requests', { col: 'c-req' }),
  countCol('streaming', 'Stream', { col: 'c-num-w', cls: 'split', hint: 'Streaming requests (all)' }),
  countCol('non_streaming', 'Sync', { cls: 'split', hint: 'Non-streaming requests (all)' }),
  countCol('errors', 'Errors', { render: (row) => errorCount(row.errors) }),
  numCol('error_rate', 'Error rate', fmt.percent),
  countCol('input_tokens', 'Input'),
  countCol('output_tokens', 'Output', { col: 'c-num-w' }),
  countCol('cache_read_tokens', 'Cache read'),
  countCol('cache_creation_tokens', 'Cache write'),
  costCol(),
  numCol('average_duration_ms', 'Avg duration', (v) => (v ? fmt.duration(v) : '—'), { col: 'c-dur' }),
  {
    key: 'last_accessed', label: 'Last access', col: 'c-ago',
    value: (row) => fmt.toDate(row.last_accessed)?.getTime(),
    render: (row) => fmt.ago(row.last_accessed), title: (row) => fmt.fullDate(row.last_accessed),
  },
];

const providersGrid = makeGrid($('#providers-grid', HTMLTableElement), [
  { key: 'provider', label: 'Provider', col: 'c-provider', render: (row) => badge(row.provider) },
  ...sectionCols,
], { key: 'requests', dir: -1 });
providersGrid.rowAttrs = (/** @type {Row} */ row) => ({ provider: row.provider });

const modelsGrid = makeGrid($('#models-grid', HTMLTableElement), [
  { key: 'model', label: 'Model', col: 'c-wide' },
  { key: 'provider', label: 'Provider', col: 'c-provider', render: (row) => badge(row.provider) },
  ...sectionCols,
], { key: 'requests', dir: -1 });
modelsGrid.rowAttrs = (/** @type {Row} */ row) => ({ provider: row.provider, model: row.model });

const clientsGrid = makeGrid($('#clients-grid', HTMLTableElement), [
  { key: 'client', label: 'Client', col: 'c-wide' },
  ...sectionCols,
], { key: 'requests', dir: -1 });
clientsGrid.rowAttrs = (/** @type {Row} */ row) => ({ client: row.client });

/**
 * A grid row of one rollup section (total, streaming or non_streaming) of the running totals.
 * @param {any} section the section shown
 * @param {any} all the rollup, for its streaming and non-streaming request counts
 * @param {Row} extra the row's names (provider, model, client) and last access
 * @returns {Row}
 */
function sectionRow(section, all, extra) {
  const s = section ?? {};
  return {
    ...extra,
    requests: s.requests ?? 0,
    streaming: all.streaming?.requests ?? 0,
    non_streaming: all.non_streaming?.requests ?? 0,
    errors: s.errors ?? 0,
    error_rate: s.requests ? (s.errors ?? 0) / s.requests : 0,
    input_tokens: s.input_tokens ?? 0,
    output_tokens: s.output_tokens ?? 0,
    cache_read_tokens: s.cache_read_tokens ?? 0,
    cache_creation_tokens: s.cache_creation_tokens ?? 0,
    cost_usd: s.cost_usd ?? 0,
    unpriced_requests: s.unpriced_requests ?? 0,
    average_duration_ms: s.average_duration_ms ?? 0,
  };
}

function renderProviders() {
  if (!state.totals) return;
  /** @type {[string, any][]} */
  const providers = Object.entries(state.totals.providers ?? {});
  const providerRows = providers.map(([name, p]) =>
    sectionRow(p.rollup?.[state.mode], p.rollup ?? {}, { provider: name, last_accessed: p.last_accessed }),
  );
  const modelRows = providers.flatMap(([name, p]) =>
    Object.entries(p.models ?? {}).map(([model, m]) => sectionRow(m[state.mode], m, { provider: name, model, last_accessed: m.last_accessed })),
  );
  const keep = state.mode === 'total' ? () => true : (/** @type {Row} */ row) => row.requests > 0;
  renderGrid(providersGrid, providerRows.filter(keep));
  renderGrid(modelsGrid, modelRows.filter(keep));
  const clientRows = Object.entries(state.totals.clients ?? {}).map(([name, /** @type {any} */ c]) =>
    sectionRow(c.rollup?.[state.mode], c.rollup ?? {}, { client: name, last_accessed: c.last_accessed }),
  );
  renderGrid(clientsGrid, clientRows.filter(keep));
}

/** @type {import('./grid.js').Column} */
const timeCol = {
  key: 'ts', label: 'Time', col: 'c-time',
  render: (row) => fmt.clock(row.ts), title: (row) => fmt.fullDate(row.ts),
};

const errorsGrid = makeGrid($('#errors-grid', HTMLTableElement), [
  timeCol,
  { key: 'provider', label: 'Provider', col: 'c-provider', render: (row) => badge(row.provider) },
  { key: 'model', label: 'Model', col: 'c-model', value: modelOf },
  { key: 'error_type', label: 'Type', col: 'c-type', render: (row) => el('span', 'pill error', row.error_type || 'error') },
  { key: 'error', label: 'Message', render: (row) => row.error || '' },
  numCol('duration_ms', 'Duration', fmt.duration, { col: 'c-dur' }),
], { key: 'ts', dir: -1 });
errorsGrid.rowAttrs = (/** @type {Row} */ row) => ({ requestId: row.request_id });

const [statusCol, providerCol, modelCol, modeCol, durationCol, inputCol, outputCol, cacheReadCol, cacheWriteCol] = requestCols();
const tracesGrid = makeGrid($('#traces-grid', HTMLTableElement), [
  { ...timeCol, col: 'c-clock', render: (/** @type {Row} */ row) => fmt.clock24(row.ts) }, statusCol, { ...providerCol, cls: 'col-lg' }, apiCol(),
  { ...modelCol, title: (/** @type {Row} */ row) => `${row.provider ?? 'unknown'}:${modelOf(row)}` }, ...whoCols(),
  { ...modeCol, cls: 'col-lg' }, durationCol, inputCol, outputCol,
  { ...cacheReadCol, cls: 'col-lg' }, { ...cacheWriteCol, cls: 'col-xl' },
  countCol('tool_call_count', 'Tools', { col: 'c-small', cls: 'col-xl' }),
  costCol(),
], { key: 'ts', dir: -1 });
tracesGrid.rowAttrs = (/** @type {Row} */ row) => ({ requestId: row.request_id });

function renderLogs() {
  if (!state.logs) return;
  renderGrid(errorsGrid, state.logs.errors ?? []);
  const traces = state.logs.traces ?? [];
  renderGrid(tracesGrid, traces.slice(0, state.tracesShown));
  // One more is asked than shown: its presence says there is more.
  $('#traces-more-row').hidden = traces.length <= state.tracesShown;
  $('#traces-shown').textContent = traces.length ? `newest ${fmt.num(Math.min(traces.length, state.tracesShown))}` : '';
}

$('#traces-more').addEventListener('click', () => {
  state.tracesShown = Math.min(MAX_TRACES, state.tracesShown + TRACES_PAGE);
  state.tracesLimit = Math.min(MAX_TRACES, state.tracesShown + 1);
  renderLogs();
  scheduleRefresh(0);
});

// ------------------------------------------------------------------ usage history

// Several reads may be refused at once: the first one asks for the key.
const usage = createUsagePanel({
  api,
  onAuthRequired: () => {
    if (!state.locked) requireKey();
  },
});

// The providers' billing against the gateway's accounting, read as often as the usage history.
const reconciliation = createReconciliationPanel({
  api,
  onAuthRequired: () => {
    if (!state.locked) requireKey();
  },
});

// Budgets: spent and reserved against each limit, as often as the totals.
const budgets = createBudgetsPanel({
  api,
  onAuthRequired: () => {
    if (!state.locked) requireKey();
  },
});

// ------------------------------------------------------------------ API key

function requireKey() {
  const dialog = $('#key-dialog', HTMLDialogElement);
  const refused = Boolean(state.key);
  stopRun();
  state.locked = true;
  if (refused) {
    state.key = '';
    session?.removeItem(KEY_STORAGE);
  }
  setStatus('locked', 'API key required');
  $('#key-error').textContent = refused ? 'That key was refused. Check PROXY_API_KEY and try again.' : '';
  $('#forget-key').hidden = true;
  if (!dialog.open) dialog.showModal();
  $('#api-key').focus();
}

$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('#api-key', HTMLInputElement);
  const key = input.value.trim();
  if (!key) return;
  state.key = key;
  session?.setItem(KEY_STORAGE, key);
  input.value = '';
  state.locked = false;
  $('#key-dialog', HTMLDialogElement).close();
  $('#forget-key').hidden = false;
  start();
});

// Without the key there is nothing to show: Escape does not dismiss the dialog.
$('#key-dialog').addEventListener('cancel', (event) => event.preventDefault());

$('#forget-key').addEventListener('click', () => {
  state.key = '';
  session?.removeItem(KEY_STORAGE);
  $('#forget-key').hidden = true;
  start();
});

// ------------------------------------------------------------------ controls and lifecycle

const tickSelect = $('#tick-interval', HTMLSelectElement);
if (![...tickSelect.options].some((o) => Number(o.value) === state.tickMs)) {
  tickSelect.append(new window.Option(`${state.tickMs / 1000} s`, String(state.tickMs)));
}
tickSelect.value = String(state.tickMs);
tickSelect.addEventListener('change', () => {
  state.tickMs = Number(tickSelect.value) || DEFAULT_TICK_MS;
  local?.setItem(TICK_STORAGE, String(state.tickMs));
  if (state.running) start();
});

for (const radio of document.querySelectorAll('input[name="mode"]')) {
  if (!(radio instanceof HTMLInputElement)) continue;
  radio.addEventListener('change', () => {
    state.mode = radio.value;
    renderProviders();
  });
}


window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  recolorChart();
  usage.recolor();
  reconciliation.recolor();
});

$('#forget-key').hidden = !state.key;
renderChart({}, 0);
// Shown again: resync the totals and logs, and take a fresh snapshot from the stream.
followVisibility(document, {
  pause,
  resume: () => {
    if (!state.locked) start();
  },
});
