import { describe, expect, it } from 'vitest';
import { ModelCap, OTHER_MODEL } from './model-cap';

describe(ModelCap.name, () => {
  it('admits the first models of each provider up to the cap, then folds and counts every later request', () => {
    const sut = new ModelCap(2);
    expect(['a', 'b', 'c', 'a', 'd', 'c'].map((m) => sut.admit('p', m))).toEqual(['a', 'b', OTHER_MODEL, 'a', OTHER_MODEL, OTHER_MODEL]);
    expect(sut.admit('q', 'c')).toBe('c');
    expect(sut.foldedRequests).toEqual(new Map([['p', 3], ['q', 0]]));
  });

  it('peeks where a request would count without taking a place', () => {
    const sut = new ModelCap(1);
    expect(sut.peek('p', 'a')).toBe('a');
    expect(sut.peek('p', 'b')).toBe('b');
    sut.admit('p', 'b');
    expect([sut.peek('p', 'a'), sut.peek('p', 'b')]).toEqual([OTHER_MODEL, 'b']);
    expect(sut.foldedRequests.get('p')).toBe(0);
  });
});
