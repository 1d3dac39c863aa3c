/**
 * The dashboard grids' order (src/dashboard/public/grid.js): the comparison and the sort, without a
 * DOM. The browser spec (test/browser/dashboard.browser.spec.ts) clicks the headers in chromium.
 */
import { describe, expect, it } from 'vitest';
import { compare, sortRows, type Column, type Row } from '../../src/dashboard/public/grid.js';

describe('compare', () => {
  it('orders numbers by value and text as people read it: digits by number, case and accents ignored', () => {
    expect(compare(2, 10)).toBeLessThan(0);
    expect(compare(10, 2)).toBeGreaterThan(0);
    expect(compare(-1.5, -1.5)).toBe(0);
    expect(compare('model-9', 'model-10')).toBeLessThan(0);
    expect(compare('Claude', 'claude')).toBe(0);
    expect(compare('résumé', 'resume')).toBe(0);
    expect(compare('anthropic', 'openai')).toBeLessThan(0);
  });

  it('puts missing values (null, undefined, empty text) after every other, and level with each other', () => {
    for (const missing of [null, undefined, '']) {
      expect(compare(missing, 0)).toBeGreaterThan(0);
      expect(compare('a', missing)).toBeLessThan(0);
      expect(compare(missing, null)).toBe(0);
    }
  });
});

describe('sortRows', () => {
  const columns: Column[] = [
    { key: 'model', label: 'Model' },
    { key: 'requests', label: 'Requests', num: true },
    { key: 'cost_usd', label: 'Cost', num: true, value: (row) => (row.unpriced ? null : row.cost_usd) },
  ];
  const rows: Row[] = [
    { model: 'b-model', requests: 5, cost_usd: 0.5 },
    { model: 'c-model', requests: null, cost_usd: 1, unpriced: true },
    { model: 'a-model', requests: 10, cost_usd: 0.25 },
    { model: 'A-model-2', requests: 5, cost_usd: 2 },
  ];
  const order = (sort: { key: string; dir: number }): string[] => sortRows(columns, sort, rows).rows.map((r) => r.model);

  it('sorts by the column in its direction, ties by the first column ascending, missing values last both ways', () => {
    expect(order({ key: 'requests', dir: -1 })).toEqual(['a-model', 'A-model-2', 'b-model', 'c-model']);
    expect(order({ key: 'requests', dir: 1 })).toEqual(['A-model-2', 'b-model', 'a-model', 'c-model']);
    expect(order({ key: 'model', dir: -1 })).toEqual(['c-model', 'b-model', 'A-model-2', 'a-model']);
  });

  it("sorts by a column's value() where it has one: an unpriced cost is missing, not $0", () => {
    expect(order({ key: 'cost_usd', dir: 1 })).toEqual(['a-model', 'b-model', 'A-model-2', 'c-model']);
    expect(order({ key: 'cost_usd', dir: -1 })).toEqual(['A-model-2', 'b-model', 'a-model', 'c-model']);
  });

  it('falls back to the first column for an unknown key, and leaves the rows given untouched', () => {
    const before = rows.map((r) => r.model);
    const sorted = sortRows(columns, { key: 'no-such-column', dir: 1 }, rows);
    expect(sorted.column).toBe(columns[0]);
    expect(sorted.rows.map((r) => r.model)).toEqual(['a-model', 'A-model-2', 'b-model', 'c-model']);
    expect(rows.map((r) => r.model)).toEqual(before);
  });
});
