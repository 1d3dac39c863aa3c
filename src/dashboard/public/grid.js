// @ts-check
// Sortable grids shared by the dashboard's panels.
import * as fmt from './format.js';
import { badge, el } from './dom.js';

/** A grid's row: one wire document's fields (docs/metrics-contract.md) as parsed from JSON, or built from them. @typedef {Record<string, any>} Row */

/**
 * One column of a grid.
 * @typedef {object} Column
 * @property {string} key the row's field, and the column's name in data-key / data-col
 * @property {string} label
 * @property {boolean} [num] a number: right-aligned, sorted descending first, marked "zero" when 0
 * @property {string} [col] the class of its col (width)
 * @property {string} [cls] a class on its col, th and tds
 * @property {string} [hint] the header's tooltip
 * @property {(row: Row) => Node | string} [render] the cell's content (its value as text unless given)
 * @property {(row: Row) => unknown} [value] what it sorts by (row[key] unless given)
 * @property {(row: Row) => string} [title] the cell's tooltip
 */

/** The sort of a grid: the column's key, 1 ascending or -1 descending. @typedef {{ key: string, dir: number }} Sort */

/**
 * @typedef {object} Grid
 * @property {HTMLTableElement} table
 * @property {Column[]} columns
 * @property {Sort} sort
 * @property {Row[]} rows the rows last rendered
 * @property {(row: Row) => Record<string, string>} rowAttrs data-* attributes of a row's tr
 */

/**
 * A sortable table: columns {key, label, num?, col?, cls?, render?(row) -> Node|string, value?(row),
 * title?(row) (the cell's tooltip), hint? (the header's)}. `cls` goes on the column's col, th and tds.
 * @param {HTMLTableElement} table
 * @param {Column[]} columns
 * @param {Sort} sort
 * @returns {Grid}
 */
export function makeGrid(table, columns, sort) {
  /** @type {Grid} */
  const grid = { table, columns, sort, rows: [], rowAttrs: () => ({}) };
  const colgroup = el('colgroup');
  for (const column of columns) {
    colgroup.append(el('col', [column.col ?? (column.num ? 'c-num' : 'c-wide'), column.cls].filter(Boolean).join(' ')));
  }
  const head = el('tr');
  for (const column of columns) {
    const th = el('th', [column.num ? 'num' : '', column.cls].filter(Boolean).join(' '));
    th.dataset.key = column.key;
    const button = el('button');
    button.append(el('span', 'label', column.label));
    button.type = 'button';
    if (column.hint) button.title = column.hint;
    button.addEventListener('click', () => {
      grid.sort = grid.sort.key === column.key ? { key: column.key, dir: -grid.sort.dir } : { key: column.key, dir: column.num ? -1 : 1 };
      renderGrid(grid, grid.rows);
    });
    th.append(button);
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  table.replaceChildren(colgroup, thead, el('tbody'));
  return grid;
}

/**
 * @param {Column} column
 * @param {Row} row
 * @returns {unknown}
 */
const valueOf = (column, row) => (column.value ? column.value(row) : row[column.key]);

/**
 * Ascending order of two cell values: numbers by value, anything else as text (digits by number,
 * case and accents ignored); missing values (null, undefined, '') after all others.
 * @param {unknown} a
 * @param {unknown} b
 */
export function compare(a, b) {
  const aMissing = a === null || a === undefined || a === '';
  const bMissing = b === null || b === undefined || b === '';
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * The rows in a grid's order: by the sorted column (the first one if `sort` names none) in its
 * direction, missing values last either way, ties by the first column ascending. A new array.
 * @param {Column[]} columns
 * @param {Sort} sort
 * @param {Row[]} rows
 * @returns {{ column: Column, rows: Row[] }}
 */
export function sortRows(columns, sort, rows) {
  const first = columns[0];
  const column = columns.find((c) => c.key === sort.key) ?? first;
  const sorted = [...rows].sort((x, y) => {
    const a = valueOf(column, x);
    const b = valueOf(column, y);
    const missing = a === null || a === undefined || b === null || b === undefined;
    const primary = missing ? compare(a, b) : sort.dir * compare(a, b);
    return primary || compare(valueOf(first, x), valueOf(first, y));
  });
  return { column, rows: sorted };
}

/**
 * Renders rows into a grid, in its current sort; shows the grid's empty note when there are none.
 * @param {Grid} grid
 * @param {Row[]} rows
 */
export function renderGrid(grid, rows) {
  grid.rows = rows;
  const { column, rows: sorted } = sortRows(grid.columns, grid.sort, rows);
  // makeGrid built the head: one row of header cells.
  for (const th of /** @type {HTMLTableSectionElement} */ (grid.table.tHead).rows[0].cells) {
    th.setAttribute('aria-sort', th.dataset.key === column.key ? (grid.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
  const body = el('tbody');
  for (const row of sorted) {
    const tr = el('tr');
    for (const [name, value] of Object.entries(grid.rowAttrs(row))) tr.dataset[name] = value;
    for (const c of grid.columns) {
      const td = el('td', [c.num ? 'num' : '', c.cls].filter(Boolean).join(' '));
      td.dataset.col = c.key;
      const content = c.render ? c.render(row) : String(valueOf(c, row) ?? '');
      if (typeof content === 'string') td.textContent = content;
      else td.append(content);
      if (c.num && !valueOf(c, row)) td.classList.add('zero');
      if (c.title) td.title = c.title(row);
      else if (typeof content === 'string' && !c.num) td.title = content;
      tr.append(td);
    }
    body.append(tr);
  }
  grid.table.tBodies[0].replaceWith(body);
  /** @type {HTMLElement | null | undefined} */
  const empty = grid.table.parentElement?.querySelector('.grid-empty');
  if (empty) empty.hidden = rows.length > 0;
}

/**
 * A count column: compact past 9,999 ("12.3K") so every grid fits 1024 px, the exact number in the tooltip.
 * @param {string} key
 * @param {string} label
 * @param {Partial<Column>} [extra]
 * @returns {Column}
 */
export const countCol = (key, label, extra = {}) => ({ key, label, num: true, render: (row) => fmt.compact(row[key]), title: (row) => fmt.exact(row[key]), ...extra });
/**
 * A number column, shown by `format`.
 * @param {string} key
 * @param {string} label
 * @param {(value: any) => string} format
 * @param {Partial<Column>} [extra]
 * @returns {Column}
 */
export const numCol = (key, label, format, extra = {}) => ({ key, label, num: true, render: (row) => format(row[key]), ...extra });

/** @param {number} n */
export function errorCount(n) {
  const span = el('span', n ? 'bad' : '', fmt.compact(n));
  return span;
}

/**
 * Rows of requests none of which had a known price: their cost is unknown, not $0.
 * @param {Row} row
 */
export const unpriced = (row) => row.cost_usd === null || (row.requests > 0 && row.unpriced_requests >= row.requests);

/**
 * A request whose counts the gateway estimated (the upstream answered without reporting its usage), in whole or in part.
 * @param {Row} row
 */
export const estimated = (row) => row.usage_source === 'estimated' || row.usage_source === 'partial';

/**
 * Why a row's figures are marked "≈": one estimated request, or how many of a row's requests were.
 * @param {Row} row
 */
function estimateNote(row) {
  if (estimated(row)) return `; ${row.usage_source === 'partial' ? 'partly ' : ''}estimated: the upstream answered without reporting its usage`;
  const n = row.estimated_requests ?? 0;
  return n > 0 ? `; ${fmt.num(n)} ${n === 1 ? 'request' : 'requests'} estimated` : '';
}

/**
 * Marks an estimated request's figure with "≈" (the reason in the tooltip).
 * @param {Row} row
 * @param {string} text
 * @returns {Node | string}
 */
const approx = (row, text) => (estimated(row) ? el('span', 'estimated', `≈${text}`) : text);

/**
 * US dollars, the exact figure (and the unpriced requests left out of it) in the tooltip; "—" when no price was known; "≈" when estimated.
 * @param {Partial<Column>} [extra]
 * @returns {Column}
 */
export const costCol = (extra = {}) => ({
  key: 'cost_usd', label: 'Cost', num: true,
  value: (row) => (unpriced(row) ? null : row.cost_usd),
  render: (row) => (unpriced(row) ? '—' : approx(row, fmt.usd(row.cost_usd))),
  title: (row) => (unpriced(row) ? fmt.usdExact(null) : fmt.usdExact(row.cost_usd, row.unpriced_requests)) + estimateNote(row),
  ...extra,
});

/** @param {Row} row */
export const modelOf = (row) => row.model || row.requested_model || 'unknown';

/**
 * One request's columns, a trace's or a stored row's: status, provider, model, mode, duration, the four token counts.
 * @returns {Column[]}
 */
export const requestCols = () => [
  {
    key: 'status', label: 'Status', col: 'c-num-w',
    render: (row) => el('span', row.status === 'ok' ? 'pill ok' : 'pill error', row.status), title: (row) => row.error_type ?? row.status,
  },
  { key: 'provider', label: 'Provider', col: 'c-provider', render: (row) => badge(row.provider) },
  { key: 'model', label: 'Model', col: 'c-wide', value: modelOf },
  { key: 'is_streaming', label: 'Mode', col: 'c-mode', render: (row) => el('span', row.is_streaming ? 'pill stream' : 'pill', row.is_streaming ? 'stream' : 'sync') },
  numCol('duration_ms', 'Duration', fmt.duration, { col: 'c-dur' }),
  countCol('input_tokens', 'Input', { render: (row) => approx(row, fmt.compact(row.input_tokens)), title: (row) => fmt.exact(row.input_tokens) + estimateNote(row) }),
  countCol('output_tokens', 'Output', { col: 'c-num-w', render: (row) => approx(row, fmt.compact(row.output_tokens)), title: (row) => fmt.exact(row.output_tokens) + estimateNote(row) }),
  countCol('cache_read_tokens', 'Cache read'),
  countCol('cache_creation_tokens', 'Cache write'),
];

/** The client APIs by a short name (the full one in the tooltip). */
/** @type {Record<string, string>} */
const API_NAMES = {
  anthropic_messages: 'messages',
  openai_chat: 'chat',
  openai_responses: 'responses',
  openai_embeddings: 'embeddings',
};
/** @param {string | null | undefined} api */
export const apiName = (api) => (api ? (API_NAMES[api] ?? api) : '—');

/** @returns {Column} */
export const apiCol = () => ({ key: 'api', label: 'API', col: 'c-api', render: (row) => apiName(row.api), title: (row) => row.api ?? 'unknown' });

/**
 * Who sent a request: its client (key name or fingerprint), and the user and session it named ("—" when none).
 * @returns {Column[]}
 */
export const whoCols = () =>
  [
    ['client', 'Client', 'The client key\'s name or fingerprint', 'c-client'],
    ['user', 'User', 'The end user the request named', 'c-who'],
    ['session', 'Session', 'The session the request named', 'c-who'],
  ].map(([key, label, hint, col]) => ({ key, label, col, hint, render: (row) => row[key] ?? '—', title: (row) => row[key] ?? `no ${key}` }));
