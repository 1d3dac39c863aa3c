// @ts-check
// The Reconciliation panel: the providers' own billing reports against the gateway's accounting
// (GET /metrics/reconciliation, contract section 16), per UTC day: bars of the gateway's cost beside
// the provider's, the days outside tolerance drawn in the warning colour, and the rows that differ.
// The panel stays hidden when reconciliation is off, or the key may not read it (admin only).
import * as fmt from './format.js';
import { $, badge, chartJs, cssVar, el } from './dom.js';
import { AuthRequired, endpoint } from './http.js';

/** @typedef {import('./http.js').Api} Api */
/**
 * One side's counts of a row.
 * @typedef {{ requests: number | null, input_tokens: number, cache_read_tokens: number, cache_write_tokens: number, output_tokens: number, cost_usd: number | null }} Side
 */
/**
 * A row of the answer: one provider, UTC day and model.
 * @typedef {{ provider: string, day: string, model: string, provider_model?: string, status: string, effective_rate: number | null, provider_report: Side, gateway: Side, delta: Record<string, { absolute: number | null, ratio: number | null }> }} ReconRow
 */
/** The days charted: one bar pair per day. @typedef {{ day: string, gateway: number, provider: number, drift: boolean }} DayBar */

/** Statuses that are a difference to look at (provider_lag is a report not settled yet). */
const DRIFT = new Set(['unrouted_traffic', 'gateway_over', 'price_drift']);
const STATUS_TEXT = /** @type {Record<string, string>} */ ({
  match: 'match',
  provider_lag: 'provider lag',
  unrouted_traffic: 'unrouted traffic',
  gateway_over: 'gateway over',
  price_drift: 'price drift',
});

/**
 * The days of the rows, in order: each day's summed cost on both sides (tokens where no cost is known), and whether any row differs.
 * @param {ReconRow[]} rows
 * @returns {{ bars: DayBar[], unit: 'usd' | 'tokens' }}
 */
export function dayBars(rows) {
  const priced = rows.some((r) => r.gateway.cost_usd !== null && r.provider_report.cost_usd !== null);
  /** @param {Side} s */
  const tokens = (s) => s.input_tokens + s.cache_read_tokens + s.cache_write_tokens + s.output_tokens;
  /** @type {Map<string, DayBar>} */
  const days = new Map();
  for (const r of rows) {
    const bar = days.get(r.day) ?? { day: r.day, gateway: 0, provider: 0, drift: false };
    bar.gateway += priced ? (r.gateway.cost_usd ?? 0) : tokens(r.gateway);
    bar.provider += priced ? (r.provider_report.cost_usd ?? 0) : tokens(r.provider_report);
    bar.drift ||= DRIFT.has(r.status);
    days.set(r.day, bar);
  }
  return { bars: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)), unit: priced ? 'usd' : 'tokens' };
}

/** @param {number | null} ratio */
const signedPct = (ratio) => (ratio === null ? '—' : `${ratio > 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`);

/**
 * @param {{ api: Api, onAuthRequired: () => void }} deps
 */
export function createReconciliationPanel({ api, onAuthRequired }) {
  const panel = $('#reconciliation');
  /** @type {import('chart.js').Chart<'bar'> | undefined} */
  let chart;
  /** @type {ReconRow[]} */
  let rows = [];

  async function refresh() {
    // /health (public) says whether any provider is reconciled: with none, the panel asks nothing more.
    try {
      const health = await fetch(new window.URL('../health', document.baseURI).toString(), { cache: 'no-store' });
      if (!health.ok || !('reconciliation' in /** @type {Record<string, unknown>} */ (await health.json()))) {
        panel.hidden = true;
        return;
      }
    } catch {
      return;
    }
    let response;
    try {
      response = await api(endpoint('reconciliation?format=json'));
    } catch (error) {
      if (error instanceof AuthRequired) onAuthRequired();
      return;
    }
    // Admin only: a client key's dashboard has no Reconciliation panel.
    if (response.status === 403 || !response.ok) {
      panel.hidden = true;
      return;
    }
    /** @type {{ disabled?: boolean, rows?: ReconRow[], providers?: { provider: string, status: string, error?: string }[], tolerance?: number }} */
    const doc = await response.json();
    if (doc.disabled || !doc.rows) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    rows = doc.rows;
    const failing = (doc.providers ?? []).filter((p) => p.status === 'degraded');
    const note = $('#reconciliation-note');
    note.hidden = failing.length === 0;
    note.textContent = failing.map((p) => `${p.provider}: the billing report could not be read (${p.error ?? 'unknown error'}); the last one read is shown.`).join(' ');
    $('#reconciliation-tolerance').textContent = doc.tolerance === undefined ? '' : `tolerance ${(doc.tolerance * 100).toFixed(1)}%`;
    render();
  }

  function render() {
    const { bars, unit } = dayBars(rows);
    $('#reconciliation .chart-empty').hidden = bars.length > 0;
    const format = unit === 'usd' ? fmt.usd : fmt.compact;
    const Chart = chartJs();
    if (Chart) {
      const colors = { gateway: cssVar('--accent'), provider: cssVar('--muted'), drift: cssVar('--bad'), grid: cssVar('--border'), text: cssVar('--muted') };
      const datasets = [
        { label: unit === 'usd' ? 'Gateway cost' : 'Gateway tokens', data: bars.map((b) => b.gateway), backgroundColor: colors.gateway, borderWidth: 0, maxBarThickness: 40 },
        {
          label: unit === 'usd' ? 'Provider billed' : 'Provider tokens',
          data: bars.map((b) => b.provider),
          // A day outside tolerance: the provider's bar in the warning colour.
          backgroundColor: bars.map((b) => (b.drift ? colors.drift : colors.provider)),
          borderWidth: 0,
          maxBarThickness: 40,
        },
      ];
      /** @type {import('chart.js').ChartOptions<'bar'>} */
      const options = {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { grid: { display: false }, ticks: { color: colors.text } },
          y: { beginAtZero: true, grid: { color: colors.grid }, ticks: { maxTicksLimit: 5, color: colors.text, callback: (v) => format(Number(v)) } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { color: colors.text, boxWidth: 10, boxHeight: 10 } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? `${bars[items[0].dataIndex].day} (UTC)${bars[items[0].dataIndex].drift ? ' · outside tolerance' : ''}` : ''),
              label: (ctx) => ` ${ctx.dataset.label}: ${unit === 'usd' ? fmt.usdExact(ctx.parsed.y ?? 0) : fmt.num(ctx.parsed.y ?? 0)}`,
            },
          },
        },
      };
      const labels = bars.map((b) => b.day.slice(5));
      if (!chart) chart = new Chart($('#reconciliation canvas', HTMLCanvasElement), { type: 'bar', data: { labels, datasets }, options });
      else {
        chart.data.labels = labels;
        chart.data.datasets = datasets;
        chart.options = options;
      }
      chart.update('none');
    }
    renderTable();
  }

  /** The rows that differ first (drift, then lag), then the matches: day, provider, model, status and the deltas. */
  function renderTable() {
    const body = $('#reconciliation-grid tbody');
    const order = (/** @type {ReconRow} */ r) => (DRIFT.has(r.status) ? 0 : r.status === 'provider_lag' ? 1 : 2);
    const shown = [...rows].sort((a, b) => order(a) - order(b) || b.day.localeCompare(a.day)).slice(0, 50);
    body.replaceChildren(
      ...shown.map((r) => {
        const tr = el('tr', DRIFT.has(r.status) ? 'drift' : '');
        const status = el('span', `recon-status recon-${r.status}`, STATUS_TEXT[r.status] ?? r.status);
        const cells = [
          el('td', '', r.day),
          (() => {
            const td = el('td');
            td.append(badge(r.provider));
            return td;
          })(),
          el('td', 'wide', r.provider_model ? `${r.model} (${r.provider_model})` : r.model),
          (() => {
            const td = el('td');
            td.append(status);
            return td;
          })(),
          el('td', 'num', signedPct(r.delta.input_tokens?.ratio ?? null)),
          el('td', 'num', signedPct(r.delta.output_tokens?.ratio ?? null)),
          el('td', 'num', r.gateway.cost_usd === null ? 'unpriced' : fmt.usd(r.gateway.cost_usd)),
          el('td', 'num', r.provider_report.cost_usd === null ? '—' : fmt.usd(r.provider_report.cost_usd)),
          el('td', 'num', r.effective_rate === null ? '—' : r.effective_rate.toFixed(3)),
        ];
        tr.append(...cells);
        return tr;
      }),
    );
    $('#reconciliation .grid-empty').hidden = shown.length > 0;
  }

  return {
    refresh,
    recolor: () => {
      if (rows.length) render();
    },
  };
}
