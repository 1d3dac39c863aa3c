import { describe, expect, it } from 'vitest';
import type { BudgetRule } from '../config/limits-file';
import { BudgetAlerts } from './alerts';
import type { CounterState } from './ledger';

const rule = { entry: 0, name: 'team', limitNano: 100, period: 'month', shared: true, alertAt: [0.1, 0.5] } as unknown as BudgetRule;
const name = { kind: 'budget' as const, rule: 'team', client: '*', user: '*' };
const state = (spent: number): CounterState => ({ counter: 'b', kind: 'usd', windowStart: 0, windowEnd: 0, limit: 100, spent, reserved: 0, requests: 1, refused: 0, overshoot: 0 });
const fired = async (alerts: BudgetAlerts): Promise<string[]> =>
  (await alerts.metric.get()).values.filter((v) => v.value > 0).map((v) => `${String(v.labels.threshold)}x${v.value}`);

describe('budget alerts of a shared ledger', () => {
  it('fire the thresholds each settlement crossed, when the answers of settlements arrive out of their order', async () => {
    const alerts = new BudgetAlerts(undefined);
    // The settlement from 12 to 60 is answered before the one from 5 to 12 that crossed 10%.
    alerts.crossed(state(60), 12, name, rule);
    alerts.crossed(state(12), 5, name, rule);
    alerts.crossed(state(61), 60, name, rule);
    expect((await fired(alerts)).sort()).toEqual(['0.1x1', '0.5x1']);
    alerts.close();
  });
});
