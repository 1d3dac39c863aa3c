import { createHash, timingSafeEqual } from 'node:crypto';

type Headers = Record<string, string | string[] | undefined>;

/** The header a credential came in. */
export type KeyHeader = 'x-api-key' | 'authorization';

export interface PresentedKey {
  header: KeyHeader;
  key: string;
}

function bearer(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  return m ? m[1] : undefined;
}

/** Every key a client presented: `x-api-key`, then `Authorization: Bearer <key>`. */
export function presentedKeys(headers: Headers): PresentedKey[] {
  const keys: PresentedKey[] = [];
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.length > 0) keys.push({ header: 'x-api-key', key: x });
  const b = bearer(headers.authorization);
  if (b !== undefined) keys.push({ header: 'authorization', key: b });
  return keys;
}

/** The key a client presented: `x-api-key`, or `Authorization: Bearer <key>`. */
export function presentedKey(headers: Headers): string | undefined {
  return presentedKeys(headers)[0]?.key;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
export function keysMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The sha256 of a key: what named client keys are stored and compared as. */
export function keyDigest(key: string): Buffer {
  return digest(key);
}

/** Constant-time: both sides are 32-byte digests. */
export function digestMatches(presented: string, expectedSha256: Buffer): boolean {
  return expectedSha256.length === 32 && timingSafeEqual(digest(presented), expectedSha256);
}
