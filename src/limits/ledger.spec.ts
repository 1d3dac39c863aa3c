import { describe, expect, it } from 'vitest';
import { type Claim, MemoryLedger } from './ledger';

const HOUR = 3_600_000;
const usd = (limit: number, amount: number, counter = 'budget:a'): Claim => ({ counter, kind: 'usd', windowStart: 0, windowEnd: HOUR, limit, amount });
const slot = (limit: number): Claim => ({ counter: 'conc:a', kind: 'concurrent', windowStart: 0, windowEnd: 0, limit, amount: 1 });

function clock(start = 1000): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

describe('MemoryLedger', () => {
  it('reserves every claim or none, and counts the refusal on the claim that did not fit', async () => {
    const ledger = new MemoryLedger(clock().now);
    expect((await ledger.reserve("r1", [usd(100, 60), slot(2)], 60_000)).ok).toBe(true);
    const refused = await ledger.reserve('r2', [slot(2), usd(100, 60)], 60_000);
    expect(refused).toEqual({ ok: false, refused: usd(100, 60), spent: 0, reserved: 60 });
    // The slot claimed before the refusal was not taken.
    expect(ledger.peek('conc:a', 0)).toMatchObject({ reserved: 1, refused: 0 });
    expect(ledger.peek('budget:a', 0)).toMatchObject({ reserved: 60, refused: 1 });
  });

  it('settles once: the reservation is replaced by the real amount, the excess is overshoot', async () => {
    const ledger = new MemoryLedger(clock().now);
    const r = await ledger.reserve('r1', [usd(100, 40), slot(1)], 60_000);
    if (!r.ok) throw new Error('refused');
    await ledger.settle(r.id, new Map([['budget:a', 55]]));
    await ledger.settle(r.id, new Map([['budget:a', 55]]));
    expect(ledger.peek('budget:a', 0)).toMatchObject({ spent: 55, reserved: 0, requests: 1, overshoot: 15 });
    expect(ledger.peek('conc:a', 0)?.reserved ?? 0).toBe(0);
    expect(ledger.holding).toBe(0);
    // 55 spent: 45 left, so 46 does not fit and 45 does.
    expect((await ledger.reserve('r2', [usd(100, 46)], 60_000)).ok).toBe(false);
    expect((await ledger.reserve('r3', [usd(100, 45)], 60_000)).ok).toBe(true);
  });

  it('gives back a reservation whose lease ran out, and drops windows that ended', async () => {
    const c = clock();
    const ledger = new MemoryLedger(c.now);
    expect((await ledger.reserve('r1', [usd(100, 100)], 5_000)).ok).toBe(true);
    expect((await ledger.reserve('r2', [usd(100, 1)], 5_000)).ok).toBe(false);
    c.set(1000 + 5_000);
    expect((await ledger.reserve('r3', [usd(100, 100)], 5_000)).ok).toBe(true);
    c.set(HOUR + 10_000);
    expect(await ledger.read()).toEqual([]);
  });

  it('seeds restored spend into the current window only', () => {
    const c = clock(HOUR + 1);
    const ledger = new MemoryLedger(c.now);
    ledger.seed({ counter: 'budget:a', kind: 'usd', windowStart: 0, windowEnd: HOUR, limit: 100 }, 70, 3);
    ledger.seed({ counter: 'budget:a', kind: 'usd', windowStart: HOUR, windowEnd: 2 * HOUR, limit: 100 }, 30, 2);
    expect(ledger.readNow()).toEqual([
      { counter: 'budget:a', kind: 'usd', windowStart: HOUR, windowEnd: 2 * HOUR, limit: 100, spent: 30, reserved: 0, requests: 2, refused: 0, overshoot: 0 },
    ]);
  });
});

describe('MemoryLedger leases', () => {
  it('a settlement after the lease ran out still counts its spend, as overshoot', async () => {
    const c = clock();
    const ledger = new MemoryLedger(c.now);
    const r = await ledger.reserve('r1', [usd(100, 50)], 5_000);
    if (!r.ok) throw new Error('refused');
    c.set(1000 + 5_000);
    expect(ledger.readNow()[0]).toMatchObject({ reserved: 0, spent: 0 });
    await ledger.settle(r.id, new Map([['budget:a', 30]]));
    expect(ledger.readNow()[0]).toMatchObject({ reserved: 0, spent: 30, overshoot: 30, requests: 1 });
  });
});

describe('MemoryLedger bound', () => {
  it('starts no counter past its bound, and has room again once a window ends', async () => {
    const c = clock();
    const ledger = new MemoryLedger(c.now, 2);
    const ids: string[] = [];
    for (const counter of ['budget:u1', 'budget:u2']) {
      const r = await ledger.reserve(counter, [usd(100, 1, counter)], 60_000);
      if (!r.ok) throw new Error('refused');
      ids.push(r.id);
    }
    expect(await ledger.reserve('r3', [usd(100, 1, 'budget:u3')], 60_000)).toMatchObject({ ok: false, full: true });
    // A counter that exists still reserves.
    expect((await ledger.reserve('r4', [usd(100, 1, 'budget:u1')], 3 * HOUR)).ok).toBe(true);
    for (const id of ids) await ledger.settle(id, new Map());
    c.set(HOUR + 1000);
    const next = { ...usd(100, 1, 'budget:u3'), windowStart: HOUR, windowEnd: 2 * HOUR };
    // u1's window still holds r4's reservation; u2's ended and was dropped: room for one.
    expect((await ledger.reserve('r5', [next], 60_000)).ok).toBe(true);
    expect(await ledger.reserve('r6', [{ ...next, counter: 'budget:u4' }], 60_000)).toMatchObject({ ok: false, full: true });
  });
});
