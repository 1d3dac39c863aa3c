import { describe, expect, it } from 'vitest';
import { keyDigest, KeyRing, MAX_KEY_LENGTH, presentedKeys } from './client-key';

describe(KeyRing.name, () => {
  it('finds each of 100,000 keys by its digest, and no other key', () => {
    const sut = new KeyRing<string>();
    for (let i = 0; i < 100_000; i++) sut.add(keyDigest(`sk-key-${i}`), `team-${i}`);
    expect(sut.size).toBe(100_000);
    for (const i of [0, 1, 4_242, 99_999]) expect(sut.find(`sk-key-${i}`)).toBe(`team-${i}`);
    expect(sut.find('sk-key-100000')).toBeUndefined();
    expect(sut.find('')).toBeUndefined();
  });

  it('keeps the first name given for a key', () => {
    const sut = new KeyRing<string>();
    sut.add(keyDigest('sk-shared-key'), 'default');
    sut.add(keyDigest('sk-shared-key'), 'team-a');
    expect(sut.find('sk-shared-key')).toBe('default');
  });

  it(`refuses a key longer than ${MAX_KEY_LENGTH} characters even when its digest is known`, () => {
    const long = 'k'.repeat(MAX_KEY_LENGTH + 1);
    const sut = new KeyRing<string>();
    sut.add(keyDigest(long), 'too-long');
    sut.add(keyDigest(long.slice(1)), 'longest');
    expect(sut.find(long)).toBeUndefined();
    expect(sut.find(long.slice(1))).toBe('longest');
  });
});

describe(presentedKeys.name, () => {
  it('reads x-api-key, then the bearer token', () => {
    expect(presentedKeys({ 'x-api-key': 'a-key', authorization: 'Bearer b-key' })).toEqual([
      { header: 'x-api-key', key: 'a-key' },
      { header: 'authorization', key: 'b-key' },
    ]);
  });
});
