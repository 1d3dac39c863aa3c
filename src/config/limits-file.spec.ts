import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './app-config';
import { loadLimitsFile } from './limits-file';

const dir = mkdtempSync(join(tmpdir(), 'vdm-limits-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string): string => {
  const path = join(dir, `limits-${++n}.yaml`);
  writeFileSync(path, text);
  return path;
};

/** The one line start-up prints for a bad file. */
function problemOf(text: string): string {
  const path = file(text);
  try {
    loadConfig({ LOG_LEVEL: 'silent', VDM_STORE: 'none', VDM_LIMITS_FILE: path });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.problems).toHaveLength(1);
    return error.problems[0].replace(path, 'FILE');
  }
  throw new Error('the file was accepted');
}

describe('VDM_LIMITS_FILE', () => {
  it('reads the contract example', () => {
    const path = file(`
budgets:
  - name: search-monthly
    client: team-search
    user: "*"
    provider: "*"
    model: "claude-*"
    usd: 500
    period: month
    shared: false
    alert_at: [0.8, 0.5, 1.0]
limits:
  - client: ci-bot
    requests_per_minute: 60
    tokens_per_minute: 200000
    concurrent: 4
alerts:
  webhook: https://hooks.example.com/llm-budget
`);
    expect(loadLimitsFile(path)).toEqual({
      path,
      budgets: [
        { entry: 0, name: 'search-monthly', client: 'team-search', user: '*', provider: '*', model: 'claude-*', limitNano: 500e9, period: 'month', shared: false, alertAt: [0.5, 0.8, 1] },
      ],
      limits: [{ entry: 0, name: 'limits[0]', client: 'ci-bot', user: undefined, requestsPerMinute: 60, tokensPerMinute: 200000, concurrent: 4 }],
      webhook: 'https://hooks.example.com/llm-budget',
    });
  });

  it('an empty file has no rules', () => {
    expect(loadLimitsFile(file(''))).toMatchObject({ budgets: [], limits: [] });
  });

  it.each([
    ['budgets:\n  - {name: a, usd: 5, period: fortnight}\n', 'budgets[0] (a).period must be one of hour, day, week, month'],
    ['budgets:\n  - {name: a, usd: "5$", period: day}\n', 'budgets[0] (a).usd must be a number of US dollars greater than 0'],
    ['budgets:\n  - {name: a, usd: 0, period: day}\n', 'budgets[0] (a).usd must be a number of US dollars greater than 0'],
    ['budgets:\n  - {name: a, usd: 1, period: day, colour: red}\n', 'budgets[0] (a).colour is not a known field'],
    ['budgets:\n  - {name: a, usd: 1, period: day, alert_at: [0.5, -1]}\n', 'budgets[0] (a).alert_at must be a list of fractions of the limit greater than 0, such as [0.5, 0.8, 1.0]'],
    ['budgets:\n  - {name: a, usd: 1, period: day}\n  - {name: a, usd: 2, period: day}\n', 'budgets[1] (a).name is used by an earlier budget'],
    ['budgets:\n  - {usd: 1, period: day}\n', 'budgets[0].name must be 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit'],
    ['limits:\n  - {client: ci}\n', 'limits[0].requests_per_minute or tokens_per_minute or concurrent must be given'],
    ['limits:\n  - {client: ci, concurrent: 1.5}\n', 'limits[0].concurrent must be a whole number, 1 or more'],
    ['alerts:\n  webhook: ftp://x\n', 'alerts.webhook must be an http(s) URL'],
    ['budget:\n  - {}\n', 'budget is not a known section (budgets, limits, alerts)'],
    ['budgets: [\n', 'the file cannot be read as YAML'],
  ])('%j stops start-up with one line naming the file, entry and field', (text, where) => {
    expect(problemOf(text)).toContain(`Invalid configuration: VDM_LIMITS_FILE="FILE": ${where}`);
  });
});
