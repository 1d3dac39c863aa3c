import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClientKeys } from './client-keys';

const dir = mkdtempSync(join(tmpdir(), 'vdm-keys-'));
function file(text: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe(loadClientKeys.name, () => {
  it('reads plain keys and key_sha256 entries', () => {
    const hash = createHash('sha256').update('sk-hashed-key').digest('hex');
    const sut = loadClientKeys(file(`clients:\n  - name: team-a\n    key: sk-plain-key\n  - name: team-b\n    key_sha256: ${hash.toUpperCase()}\n`));
    expect(sut.map((c) => [c.name, c.key, c.sha256.toString('hex')])).toEqual([
      ['team-a', 'sk-plain-key', createHash('sha256').update('sk-plain-key').digest('hex')],
      ['team-b', undefined, hash],
    ]);
  });

  it('reads each key\'s role, client when not given', () => {
    const sut = loadClientKeys(file('clients:\n  - name: a\n    key: sk-key-aaaa\n  - name: b\n    key: sk-key-bbbb\n    role: admin\n  - name: c\n    key: sk-key-cccc\n    role: scrape\n'));
    expect(sut.map((c) => [c.name, c.role])).toEqual([['a', 'client'], ['b', 'admin'], ['c', 'scrape']]);
  });

  it.each([
    ['clients:\n  - name: a\n    key: sk-plain-key\n    role: owner', ': clients[0] (a).role: must be one of admin, client, scrape'],
    ['clients:\n  - name: a\n    key: sk-plain-key\n    role: [admin]', ': clients[0] (a).role: must be one of admin, client, scrape'],
    ['clients:\n  - name: team-a\n    key: sk-plain-key\n  - name: TEAM-A\n    key: sk-other-key', ': clients[1] (TEAM-A).name: is used by an earlier entry'],
    ['clients: {}', ': must be a YAML mapping with a `clients` list'],
    ['clients: []', ': clients: must list at least one client'],
    ['clients:\n  - name: ""\n    key: sk-plain-key', ': clients[0].name: must be 1-64 letters'],
    ['clients:\n  - name: default\n    key: sk-plain-key', ': clients[0] (default).name: default is reserved'],
    ['clients:\n  - name: a\n    key: sk-plain-key\n  - name: a\n    key: sk-other-key', ': clients[1] (a).name: is used by an earlier entry'],
    ['clients:\n  - name: a\n    key: sk-plain-key\n    keys: x', ': clients[0] (a).keys: is not a known field'],
    ['clients:\n  - name: a', ': clients[0] (a).key: give exactly one of key or key_sha256'],
    ['clients:\n  - name: a\n    key: short', ': clients[0] (a).key: must be a string of 8 to 512 characters'],
    [`clients:\n  - name: a\n    key: ${'k'.repeat(513)}`, ': clients[0] (a).key: must be a string of 8 to 512 characters'],
    ['clients:\n  - name: a\n    key: sk-plain-key\n  - name: b\n    key: sk-plain-key', ': clients[1] (b).key: is the same key as an earlier entry'],
    ['clients: [a', ': cannot be read as YAML'],
  ])('refuses %j with one line naming the file, entry and field', (text, message) => {
    const path = file(text);
    expect(() => loadClientKeys(path)).toThrow(`Invalid configuration: VDM_CLIENT_KEYS_FILE=${JSON.stringify(path)}${message}`);
  });
});
