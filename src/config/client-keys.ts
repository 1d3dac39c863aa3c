import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { MAX_KEY_LENGTH } from '../core/client-key';
import { isRecord } from '../core/json';
import { ROLES, type Role } from '../core/route-facts';
import { ConfigError } from './config-error';

/** A named client key from VDM_CLIENT_KEYS_FILE; `sha256` is what a presented key's digest must equal. */
export interface ClientKey {
  name: string;
  /** `role:` in the file; `client` when not given (contract section 13). */
  role: Role;
  /** The key itself when the file gives it (a secret to redact); absent for `key_sha256` entries. */
  key?: string;
  sha256: Buffer;
}

/** Names the gateway gives clients itself, so a configured one would be ambiguous. */
const RESERVED = new Set(['default', 'anonymous', 'other']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/i;


/** Reads and validates VDM_CLIENT_KEYS_FILE; a problem throws one line naming the file, the entry and the field. */
export function loadClientKeys(file: string): ClientKey[] {
  const fail = (where: string, what: string): never => {
    throw new ConfigError([`Invalid configuration: VDM_CLIENT_KEYS_FILE=${JSON.stringify(file)}: ${where}${what}`]);
  };
  let doc: unknown;
  try {
    doc = load(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return fail('', `cannot be read as YAML (${reason})`);
  }
  if (!isRecord(doc) || !Array.isArray(doc.clients)) return fail('', 'must be a YAML mapping with a `clients` list');
  const keys: ClientKey[] = [];
  const names = new Set<string>();
  const digests = new Set<string>();
  doc.clients.forEach((entry: unknown, i) => {
    const at = `clients[${i}]`;
    if (!isRecord(entry)) return fail(`${at}: `, 'must be a mapping with `name` and `key` or `key_sha256`');
    const { name, key, key_sha256: keySha256 } = entry;
    if (typeof name !== 'string' || !NAME.test(name)) {
      return fail(`${at}.name: `, 'must be 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit');
    }
    const where = `${at} (${name}).`;
    if (RESERVED.has(name.toLowerCase())) return fail(where + 'name: ', `${name} is reserved (default, anonymous, other)`);
    // Names are matched without regard to ASCII case in filters, so two that differ only in case would be one.
    if (names.has(name.toLowerCase())) return fail(where + 'name: ', 'is used by an earlier entry');
    const unknown = Object.keys(entry).find((k) => !['name', 'key', 'key_sha256', 'role'].includes(k));
    if (unknown !== undefined) return fail(where + unknown + ': ', 'is not a known field (name, key, key_sha256, role)');
    const role = entry.role ?? 'client';
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return fail(where + 'role: ', `must be one of ${ROLES.join(', ')}`);
    if ((key === undefined) === (keySha256 === undefined)) return fail(where + 'key: ', 'give exactly one of key or key_sha256');
    let client: ClientKey;
    if (key !== undefined) {
      if (typeof key !== 'string' || key.length < 8 || key.length > MAX_KEY_LENGTH) {
        return fail(where + 'key: ', `must be a string of 8 to ${MAX_KEY_LENGTH} characters`);
      }
      client = { name, role: role as Role, key, sha256: createHash('sha256').update(key).digest() };
    } else {
      if (typeof keySha256 !== 'string' || !HEX64.test(keySha256)) return fail(where + 'key_sha256: ', 'must be 64 hex digits (the sha256 of the key)');
      client = { name, role: role as Role, sha256: Buffer.from(keySha256, 'hex') };
    }
    const digest = client.sha256.toString('hex');
    if (digests.has(digest)) return fail(where + (key !== undefined ? 'key: ' : 'key_sha256: '), 'is the same key as an earlier entry');
    names.add(name.toLowerCase());
    digests.add(digest);
    keys.push(client);
  });
  if (keys.length === 0) return fail('clients: ', 'must list at least one client');
  return keys;
}
