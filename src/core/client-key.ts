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

/** The longest key a client may present (and an operator configure); a longer one is refused without being hashed. */
export const MAX_KEY_LENGTH = 512;

/**
 * Configured keys by their sha256: a presented key is hashed once and looked up, whatever the number of keys.
 * The lookup is by digest, which a client cannot steer without the key itself, so its timing tells nothing;
 * the digest found is still compared in constant time.
 */
export class KeyRing<T> {
  private readonly byDigest = new Map<string, { sha256: Buffer; value: T }>();

  /** The first value given for a digest keeps it. */
  add(sha256: Buffer, value: T): void {
    const hex = sha256.toString('hex');
    if (!this.byDigest.has(hex)) this.byDigest.set(hex, { sha256, value });
  }

  get size(): number {
    return this.byDigest.size;
  }

  find(presented: string): T | undefined {
    if (presented.length > MAX_KEY_LENGTH) return undefined;
    const sha256 = digest(presented);
    const hit = this.byDigest.get(sha256.toString('hex'));
    return hit !== undefined && timingSafeEqual(sha256, hit.sha256) ? hit.value : undefined;
  }
}
