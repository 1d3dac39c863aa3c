import { describe, expect, it } from 'vitest';
import { makeRecord } from '../../../test/support/factories';
import { recordOf, rowOf } from '../../store/rows';
import { ROLLUP_SUMS } from '../../store/schema';
import { addRecord, addTotals, newTotals } from '../calculations/accumulation';
import { ms3 } from '../calculations/duration';
import { addToDistributions, newDistributions } from '../calculations/distributions';
import { wireSection } from '../format/wire';
import { usd } from '../pricing/cost';
import { COUNTED_FIELDS, TOKEN_FIELDS, TOKEN_TYPES } from './counted-fields';
import type { RequestRecord } from './request-record';

/** The loops kept spelled out for speed, held to the table: a field added to it and missed in one fails here. */

const RECORD_FIELDS = COUNTED_FIELDS.filter((f) => 'record' in f);

/** A finished record whose every counted field has its own value (7, 8, 9, ...). */
function distinctRecord(): RequestRecord {
  const record = makeRecord({ durationMs: 100 });
  RECORD_FIELDS.forEach((f, i) => ((record as unknown as Record<string, number>)[f.record] = 7 + i));
  return record;
}

describe('COUNTED_FIELDS', () => {
  it('names each field, wire key, column and token type once', () => {
    for (const key of ['name', 'wire', 'column', 'label'] as const) {
      const values = COUNTED_FIELDS.map((f) => f[key]);
      expect(new Set(values).size).toBe(values.length);
    }
    expect(new Set(TOKEN_TYPES).size).toBe(TOKEN_TYPES.length);
  });

  it('is what Totals holds and what the rollup tables sum', () => {
    expect(Object.keys(newTotals())).toEqual(COUNTED_FIELDS.map((f) => f.name));
    expect(ROLLUP_SUMS).toEqual(COUNTED_FIELDS.map((f) => f.column));
  });

  it('addRecord adds each record count into its field', () => {
    const record = distinctRecord();
    const sut = newTotals();
    addRecord(sut, record);
    for (const f of RECORD_FIELDS) expect([f.name, sut[f.name]]).toEqual([f.name, (record as unknown as Record<string, number>)[f.record]]);
  });

  it('addTotals adds every field', () => {
    const source = newTotals();
    COUNTED_FIELDS.forEach((f, i) => (source[f.name] = 3 + i));
    const sut = newTotals();
    addTotals(sut, source);
    for (const f of COUNTED_FIELDS) expect([f.name, sut[f.name]]).toEqual([f.name, source[f.name]]);
  });

  it('wireSection shows every field under its wire name, in its unit, and the averages besides', () => {
    const t = newTotals();
    COUNTED_FIELDS.forEach((f, i) => (t[f.name] = 1000 + i + 0.25));
    const wire = wireSection(t) as unknown as Record<string, number>;
    const shown = { count: (v: number) => v, ms: ms3, nanodollars: usd };
    for (const f of COUNTED_FIELDS) expect([f.wire, wire[f.wire]]).toEqual([f.wire, shown[f.unit](t[f.name])]);
    expect(Object.keys(wire).sort()).toEqual([...COUNTED_FIELDS.map((f) => f.wire), 'average_duration_ms', 'average_ttft_ms', 'average_overhead_ms'].sort());
  });

  it('addToDistributions observes each token type from its record count', () => {
    const record = distinctRecord();
    const d = newDistributions();
    addToDistributions(d, record);
    expect(Object.keys(d.tokens).sort()).toEqual([...TOKEN_TYPES].sort());
    for (const f of TOKEN_FIELDS) expect([f.tokenType, d.tokens[f.tokenType].sum]).toEqual([f.tokenType, record[f.record]]);
  });

  it('rowOf stores each record count in the column of its name, and recordOf reads it back', () => {
    const record = distinctRecord();
    const row = rowOf(record, 'instance', 'key') as unknown as Record<string, number>;
    const back = recordOf({ id: 1, ...row } as unknown as Parameters<typeof recordOf>[0]) as unknown as Record<string, number>;
    for (const f of RECORD_FIELDS) {
      expect([f.column, row[f.column]]).toEqual([f.column, (record as unknown as Record<string, number>)[f.record]]);
      expect([f.record, back[f.record]]).toEqual([f.record, row[f.column]]);
    }
  });
});
