// @ts-check
// The Budgets panel (GET /metrics/budgets, contract section 15): each budget's spent and reserved
// against its limit in the current window, what is left, when the window resets, and when the
// window's burn rate would exhaust it. A client key sees its own budgets; with none in force the
// panel stays hidden.
import * as fmt from './format.js';
import { $, el } from './dom.js';
import { AuthRequired, endpoint } from './http.js';

/** @typedef {import('./http.js').Api} Api */
/**
 * One budget instance as the endpoint gives it.
 * @typedef {{ name: string, client: string | null, user: string | null, period: string, window_start: string, window_end: string, limit_usd: number, spent_usd: number, reserved_usd: number, remaining_usd: number, requests: number, refused: number, overshoot_usd: number, forecast: { usd_per_hour: number, exhausted_at: string | null } }} WireBudget
 */

/**
 * The shares of the bar: spent and reserved as fractions of the limit (together at most 1), and whether it is over.
 * @param {WireBudget} b
 */
export function barShares(b) {
  if (!(b.limit_usd > 0)) return { spent: 0, reserved: 0, over: b.spent_usd > 0 };
  const spent = Math.min(1, b.spent_usd / b.limit_usd);
  const reserved = Math.min(1 - spent, b.reserved_usd / b.limit_usd);
  return { spent, reserved, over: b.spent_usd + b.reserved_usd >= b.limit_usd };
}

/**
 * Who a budget instance is for: `client`, `client / user`, or `shared`.
 * @param {WireBudget} b
 */
export function whose(b) {
  if (b.client === null) return 'shared';
  if (b.user === null) return b.client;
  return `${b.client} / ${b.user === '' ? '(no user)' : b.user}`;
}

/**
 * The forecast in words: when the burn rate runs it out within the window, else that it lasts.
 * @param {WireBudget} b
 * @param {Date} [now]
 */
export function forecastText(b, now = new Date()) {
  if (b.forecast.exhausted_at === null) return b.spent_usd > 0 ? 'lasts the window' : '—';
  const at = new Date(b.forecast.exhausted_at);
  return at.getTime() <= now.getTime() ? 'exhausted' : `runs out ${fmt.when(b.forecast.exhausted_at, now)}`;
}

/**
 * @param {{ api: Api, onAuthRequired: () => void }} deps
 */
export function createBudgetsPanel({ api, onAuthRequired }) {
  const panel = $('#budgets');

  async function refresh() {
    let response;
    try {
      response = await api(endpoint('budgets'));
    } catch (error) {
      if (error instanceof AuthRequired) onAuthRequired();
      return;
    }
    if (!response.ok) {
      panel.hidden = true;
      return;
    }
    /** @type {{ budgets?: WireBudget[] }} */
    const doc = await response.json();
    const budgets = doc.budgets ?? [];
    panel.hidden = budgets.length === 0;
    render(budgets);
  }

  /** @param {WireBudget[]} budgets */
  function render(budgets) {
    const body = $('#budgets-grid tbody');
    const rows = budgets.map((b) => {
      const tr = el('tr');
      const name = el('td', '', b.name);
      name.title = `${b.period}: ${b.window_start} to ${b.window_end}`;
      tr.append(name, el('td', '', whose(b)));
      const shares = barShares(b);
      const bar = el('div', `budget-bar${shares.over ? ' over' : ''}`);
      const spent = el('span', 'spent');
      spent.style.width = `${(shares.spent * 100).toFixed(2)}%`;
      const reserved = el('span', 'reserved');
      reserved.style.width = `${(shares.reserved * 100).toFixed(2)}%`;
      bar.append(spent, reserved);
      bar.title = `spent ${fmt.usdExact(b.spent_usd)}, reserved by requests in flight ${fmt.usdExact(b.reserved_usd)}, limit ${fmt.usdExact(b.limit_usd)}`;
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', `${Math.round((shares.spent + shares.reserved) * 100)}% of the limit spent or reserved`);
      const cell = el('td', 'budget-cell');
      cell.append(bar);
      tr.append(cell);
      tr.append(el('td', 'num', `${fmt.usd(b.spent_usd + b.reserved_usd)} / ${fmt.usd(b.limit_usd)}`));
      tr.append(el('td', 'num', fmt.usd(b.remaining_usd)));
      tr.append(el('td', 'num', b.forecast.usd_per_hour > 0 ? `${fmt.usd(b.forecast.usd_per_hour)}/h` : '—'));
      tr.append(el('td', '', forecastText(b)));
      tr.append(el('td', '', fmt.when(b.window_end)));
      tr.append(el('td', 'num', String(b.refused)));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  return { refresh };
}
