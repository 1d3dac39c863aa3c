import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinary, startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import type { Claim } from './ledger';
import { PostgresLedger } from './postgres-ledger';

const initdb = postgresBinary();
const HOUR = 3_600_000;
const LEASE = 60_000;

/** The hour the tests run in (windows read are those not over yet). */
const THIS_HOUR = Math.floor(Date.now() / HOUR) * HOUR;

/** A usd claim on `counter` in the window of `span` ms from `windowStart` (by default long past the test's end). */
const usd = (counter: string, limit: number, amount: number, windowStart = THIS_HOUR, span = 1000 * HOUR): Claim => ({
  counter,
  kind: 'usd',
  windowStart,
  windowEnd: windowStart + span,
  limit,
  amount,
});

describe.skipIf(initdb === undefined)('the PostgreSQL budget ledger', () => {
  let pg: PostgresServer;
  let url: string;
  let admin: Client;
  let n = 0;
  /** A database of its own per test: counters never leak between tests. */
  const freshDb = async (): Promise<string> => {
    const name = `ledger_${++n}`;
    await admin.query(`create database ${name}`);
    return url.replace(/\/postgres$/, `/${name}`);
  };
  const rowsOf = async (db: string, text: string): Promise<Record<string, unknown>[]> => {
    const c = new Client({ connectionString: db });
    await c.connect();
    try {
      return (await c.query(text)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    pg = await startPostgres(initdb!);
    url = pg.url;
    admin = new Client({ connectionString: url });
    await admin.connect();
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    pg?.close();
  });

  it('never reserves past the limit, whatever the number of replicas and connections reserving at once', async () => {
    const db = await freshDb();
    // Three replicas, each with its own pool of 8 connections, on one budget of 1000 taken 7 at a time.
    const replicas = await Promise.all([0, 1, 2].map(() => PostgresLedger.open(db, { sweepMs: 0 })));
    try {
      const answers = await Promise.all(Array.from({ length: 600 }, (_, i) => replicas[i % 3].reserve(`r${i}`, [usd('budget:team', 1000, 7)], LEASE)));
      const granted = answers.filter((a) => a.ok).length;
      expect(granted).toBe(Math.floor(1000 / 7));
      const [state] = await replicas[0].read();
      expect(state).toMatchObject({ counter: 'budget:team', limit: 1000, spent: 0, reserved: granted * 7, refused: 600 - granted });
      const refusal = answers.find((a) => !a.ok);
      expect(refusal).toMatchObject({ ok: false, refused: { counter: 'budget:team' }, spent: 0 });
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('reserves every claim of a request or none, and names the first claim that did not fit', async () => {
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0 });
    try {
      const first = await ledger.reserve('a', [usd('shared', 100, 20), usd('user:ann', 30, 20)], LEASE);
      expect(first).toMatchObject({
        ok: true,
        levels: [
          { counter: 'shared', spent: 0, reserved: 20 },
          { counter: 'user:ann', spent: 0, reserved: 20 },
        ],
      });
      const second = await ledger.reserve('b', [usd('shared', 100, 20), usd('user:ann', 30, 20), usd('model:x', 5, 20)], LEASE);
      expect(second).toEqual({ ok: false, refused: usd('user:ann', 30, 20), spent: 0, reserved: 20 });
      const byCounter = Object.fromEntries((await ledger.read()).map((s) => [s.counter, s]));
      expect(byCounter.shared).toMatchObject({ reserved: 20, refused: 0 });
      expect(byCounter['user:ann']).toMatchObject({ reserved: 20, refused: 1 });
      expect(byCounter['model:x']).toMatchObject({ reserved: 0, refused: 0 });
    } finally {
      await ledger.close();
    }
  });

  it('keeps a shared budget and the per-user budgets in step under concurrent reservations from many connections', async () => {
    const db = await freshDb();
    const replicas = await Promise.all([0, 1, 2].map(() => PostgresLedger.open(db, { sweepMs: 0 })));
    try {
      // Claims listed in varying orders: the rows are locked in key order, so no two reservations deadlock.
      const answers = await Promise.all(
        Array.from({ length: 400 }, (_, i) => {
          const claims = [usd('shared', 2000, 9), usd(`user:${i % 10}`, 100, 9), usd(`model:${i % 3}`, 1000, 9)];
          return replicas[i % 3].reserve(`r${i}`, i % 2 === 0 ? claims : claims.reverse(), LEASE);
        }),
      );
      const granted = answers.filter((a) => a.ok).length;
      const states = await replicas[0].read();
      const sum = (prefix: string): number => states.filter((s) => s.counter.startsWith(prefix)).reduce((t, s) => t + s.reserved, 0);
      // Each user fits 11 reservations of 9 in 100: 110 in all, well inside the shared 2000.
      expect(granted).toBe(110);
      expect(sum('shared')).toBe(granted * 9);
      expect(sum('user:')).toBe(granted * 9);
      expect(sum('model:')).toBe(granted * 9);
      for (const s of states) expect(s.reserved).toBeLessThanOrEqual(s.limit);
      const refused = states.reduce((t, s) => t + s.refused, 0);
      expect(refused).toBe(400 - granted);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('reserves and settles concurrently from three replicas, sweeps running, without a deadlock and with exact sums', async () => {
    const db = await freshDb();
    const replicas = await Promise.all([0, 1, 2].map(() => PostgresLedger.open(db, { sweepMs: 0 })));
    try {
      let spent = 0;
      let sweeping = true;
      const sweeps = (async () => {
        while (sweeping) await replicas[0].sweep();
      })();
      await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const claims = [usd('shared', 10_000_000, 50), usd(`user:${i % 7}`, 10_000_000, 50), usd(`model:${i % 4}`, 10_000_000, 50)];
          const order = i % 3 === 0 ? claims : i % 3 === 1 ? claims.reverse() : [claims[1], claims[2], claims[0]];
          const r = await replicas[i % 3].reserve(`r${i}`, order, LEASE);
          if (!r.ok) throw new Error('refused');
          const actual = 1 + (i % 50);
          spent += actual;
          await replicas[(i + 1) % 3].settle(r.id, new Map(claims.map((c) => [c.counter, actual])));
        }),
      );
      sweeping = false;
      await sweeps;
      const states = await replicas[2].read();
      const sum = (prefix: string): number => states.filter((s) => s.counter.startsWith(prefix)).reduce((t, s) => t + s.spent, 0);
      expect(states.every((s) => s.reserved === 0 && s.overshoot === 0)).toBe(true);
      expect([sum('shared'), sum('user:'), sum('model:')]).toEqual([spent, spent, spent]);
      expect(states.reduce((t, s) => t + s.requests, 0)).toBe(900);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('settles a reservation exactly once, however often and from however many replicas it is settled', async () => {
    const db = await freshDb();
    const a = await PostgresLedger.open(db, { sweepMs: 0 });
    const b = await PostgresLedger.open(db, { sweepMs: 0 });
    try {
      const r = await a.reserve('x', [usd('budget', 1000, 300), { ...usd('tpm', 10_000, 500), kind: 'tokens' }], LEASE);
      if (!r.ok) throw new Error('refused');
      const actual = new Map([
        ['budget', 120],
        ['tpm', 410],
      ]);
      await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).settle(r.id, actual)));
      const byCounter = Object.fromEntries((await a.read()).map((s) => [s.counter, s]));
      expect(byCounter.budget).toMatchObject({ spent: 120, reserved: 0, requests: 1, overshoot: 0 });
      expect(byCounter.tpm).toMatchObject({ spent: 410, reserved: 0, requests: 1, overshoot: 0 });
      expect(await rowsOf(db, 'select * from budget_reservations')).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('answers each settled counter with its spent before, so one settlement alone crosses each threshold', async () => {
    const db = await freshDb();
    const replicas = await Promise.all([0, 1, 2].map(() => PostgresLedger.open(db, { sweepMs: 0 })));
    try {
      const held = await Promise.all(Array.from({ length: 90 }, (_, i) => replicas[i % 3].reserve(`r${i}`, [usd('budget', 100, 1), usd('tpm', 1000, 1)], LEASE)));
      const settled = await Promise.all(
        held.map((r, i) => {
          if (!r.ok) throw new Error('refused');
          return replicas[(i + 1) % 3].settleCounters(r.id, new Map([['budget', 1]]));
        }),
      );
      const budget = settled.flatMap((s) => s.filter((c) => c.state.counter === 'budget'));
      expect(budget).toHaveLength(90);
      for (const c of budget) expect(c.state.spent - c.spentBefore).toBe(1);
      // The spent values before each settlement are 0..89, each once: the row's lock orders them.
      expect(budget.map((c) => c.spentBefore).sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i));
      expect(budget.filter((c) => c.spentBefore < 50 && c.state.spent >= 50)).toHaveLength(1);
      // A counter missing from `actual` settles at 0; a second settlement answers nothing.
      expect(settled[0].find((c) => c.state.counter === 'tpm')).toMatchObject({ spentBefore: 0, state: { spent: 0 } });
      if (!held[0].ok) throw new Error('refused');
      expect(await replicas[0].settleCounters(held[0].id, new Map([['budget', 1]]))).toEqual([]);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it('records what a settlement spends past its reservation as overshoot, per counter', async () => {
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0 });
    try {
      const r = await ledger.reserve('x', [usd('b1', 1000, 300), usd('b2', 1000, 300)], LEASE);
      if (!r.ok) throw new Error('refused');
      await ledger.settle(
        r.id,
        new Map([
          ['b1', 450],
          ['b2', 200],
        ]),
      );
      const byCounter = Object.fromEntries((await ledger.read()).map((s) => [s.counter, s]));
      expect(byCounter.b1).toMatchObject({ spent: 450, reserved: 0, overshoot: 150 });
      expect(byCounter.b2).toMatchObject({ spent: 200, reserved: 0, overshoot: 0 });
    } finally {
      await ledger.close();
    }
  });

  it('gives back a reservation whose holder died once its lease runs out, and purges it later', async () => {
    const db = await freshDb();
    let now = THIS_HOUR + 1000;
    const clock = (): number => now;
    const dead = await PostgresLedger.open(db, { sweepMs: 0, now: clock });
    const alive = await PostgresLedger.open(db, { sweepMs: 0, now: clock, purgeAfterMs: 5000 });
    try {
      const held = await dead.reserve('lost', [usd('budget', 100, 80)], 1000);
      expect(held.ok).toBe(true);
      await dead.close();
      expect((await alive.reserve('early', [usd('budget', 100, 30)], 1000)).ok).toBe(false);

      now += 1000;
      expect((await alive.read())[0]).toMatchObject({ reserved: 0, spent: 0 });
      const after = await alive.reserve('after', [usd('budget', 100, 30)], 1000);
      expect(after.ok).toBe(true);
      expect((await alive.read())[0]).toMatchObject({ reserved: 30, refused: 1 });
      expect(await rowsOf(db, 'select request_id, expired from budget_reservations order by request_id')).toEqual([
        { request_id: 'after', expired: false },
        { request_id: 'lost', expired: true },
      ]);

      // The sweep gives back lapsed reservations on counters no one reserves on.
      const other = await alive.reserve('other', [usd('quiet', 100, 50)], 1000);
      expect(other.ok).toBe(true);
      now += 1000;
      expect(await alive.sweep()).toBe(2);
      expect((await alive.read()).map((s) => [s.counter, s.reserved])).toEqual([
        ['budget', 0],
        ['quiet', 0],
      ]);
      expect(await alive.sweep()).toBe(0);

      expect(await alive.purge()).toBe(0);
      now += 5000;
      expect(await alive.purge()).toBe(3);
      expect(await rowsOf(db, 'select * from budget_reservations')).toEqual([]);
    } finally {
      await alive.close();
    }
  });

  it('adds the spend of a reservation settled after its lease ran out, all of it as overshoot', async () => {
    let now = THIS_HOUR + 1000;
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0, now: () => now });
    try {
      const r = await ledger.reserve('slow', [usd('budget', 100, 60)], 1000);
      if (!r.ok) throw new Error('refused');
      now += 2000;
      expect(await ledger.sweep()).toBe(1);
      await ledger.settle(r.id, new Map([['budget', 40]]));
      expect((await ledger.read())[0]).toMatchObject({ spent: 40, reserved: 0, overshoot: 40, requests: 1 });
    } finally {
      await ledger.close();
    }
  });

  it('keeps a counter per window: a new window starts empty, and only windows not over are read', async () => {
    let now = 10 * HOUR + 5;
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0, now: () => now });
    try {
      const r1 = await ledger.reserve('h10', [usd('hourly', 100, 90, 10 * HOUR, HOUR)], LEASE);
      if (!r1.ok) throw new Error('refused');
      await ledger.settle(r1.id, new Map([['hourly', 90]]));
      expect((await ledger.reserve('h10b', [usd('hourly', 100, 20, 10 * HOUR, HOUR)], LEASE)).ok).toBe(false);
      now = 11 * HOUR + 1;
      const r2 = await ledger.reserve('h11', [usd('hourly', 100, 20, 11 * HOUR, HOUR)], LEASE);
      expect(r2.ok).toBe(true);
      expect(await ledger.read()).toEqual([
        { counter: 'hourly', kind: 'usd', windowStart: 11 * HOUR, windowEnd: 12 * HOUR, limit: 100, spent: 0, reserved: 20, requests: 0, refused: 0, overshoot: 0 },
      ]);
    } finally {
      await ledger.close();
    }
  });

  it('holds concurrency slots without a window and gives them back at settlement, spending nothing', async () => {
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0 });
    try {
      const slot = (id: string): Promise<{ ok: boolean; id?: string }> =>
        ledger.reserve(id, [{ counter: 'conc:ci', kind: 'concurrent', windowStart: 0, windowEnd: 0, limit: 2, amount: 1 }], LEASE);
      const held = await Promise.all([slot('a'), slot('b'), slot('c')]);
      expect(held.filter((h) => h.ok)).toHaveLength(2);
      const first = held.find((h) => h.ok)!;
      await ledger.settle(first.id!, new Map([['conc:ci', 1]]));
      expect((await slot('d')).ok).toBe(true);
      expect((await ledger.read())[0]).toMatchObject({ windowEnd: 0, spent: 0, reserved: 2, refused: 1, requests: 0, overshoot: 0 });
    } finally {
      await ledger.close();
    }
  });

  it('starts without its database: calls fail while it is unreachable and work once it is there', async () => {
    const name = `ledger_late_${++n}`;
    const ledger = new PostgresLedger(url.replace(/\/postgres$/, `/${name}`), { sweepMs: 0 });
    try {
      await expect(ledger.reserve('early', [usd('b', 100, 10)], LEASE)).rejects.toThrow(/does not exist/);
      await admin.query(`create database ${name}`);
      expect((await ledger.reserve('later', [usd('b', 100, 10)], LEASE)).ok).toBe(true);
      expect((await ledger.read())[0]).toMatchObject({ counter: 'b', reserved: 10 });
    } finally {
      await ledger.close();
    }
  });

  it('refuses amounts that are not integers before they reach the database', async () => {
    const ledger = await PostgresLedger.open(await freshDb(), { sweepMs: 0 });
    try {
      await expect(ledger.reserve('x', [usd('b', 100, 1.5)], LEASE)).rejects.toThrow(/non-negative integer/);
      await expect(ledger.settle('x', new Map([['b', 2.5]]))).rejects.toThrow(/non-negative integer/);
    } finally {
      await ledger.close();
    }
  });
});
