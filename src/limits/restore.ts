import type { Kysely } from 'kysely';
import type { Period } from '../config/limits-file';
import type { StoreSchema } from '../store/schema';
import type { MemoryLedger } from './ledger';
import type { Rules } from './rules';
import { windowOf } from './windows';

/**
 * Seeds the memory ledger with the spend already stored in each budget's current window: one
 * grouped query per period in use, over the stored rows (every instance's: one machine's store is
 * its own), by the start time a settlement counts under. A restart so neither forgets spend nor
 * counts it twice: what was settled before it is exactly what was stored.
 */
export async function restoreWindowSpend(db: Kysely<StoreSchema>, rules: Rules, ledger: MemoryLedger, now: number): Promise<{ nano: number; requests: number }> {
  const periods = new Set<Period>(rules.budgets.map((b) => b.rule.period));
  let nano = 0;
  let requests = 0;
  for (const period of periods) {
    const w = windowOf(period, now);
    const rows = await db
      .selectFrom('usage_requests')
      .select((eb) => ['client', 'user', 'provider', 'model', eb.fn.sum<number | string | bigint>('cost_nano').as('cost'), eb.fn.countAll<number | string | bigint>().as('n')])
      .where('start_time', '>=', w.start / 1000)
      .where('start_time', '<', w.end / 1000)
      .where('cost_nano', 'is not', null)
      .where('provider', 'is not', null)
      .groupBy(['client', 'user', 'provider', 'model'])
      .execute();
    const sums = new Map<string, { claim: Parameters<MemoryLedger['seed']>[0]; spent: number; requests: number }>();
    for (const row of rows) {
      const facts = { client: row.client ?? 'anonymous', user: row.user ?? '', provider: row.provider ?? '', model: row.model ?? '', at: now };
      for (const a of rules.budgetsFor(facts)) {
        if (a.budget!.period !== period) continue;
        let s = sums.get(a.claim.counter);
        if (!s) {
          s = { claim: a.claim, spent: 0, requests: 0 };
          sums.set(a.claim.counter, s);
        }
        s.spent += Number(row.cost);
        s.requests += Number(row.n);
      }
    }
    for (const s of sums.values()) {
      ledger.seed(s.claim, s.spent, s.requests);
      nano += s.spent;
      requests += s.requests;
    }
  }
  return { nano, requests };
}
