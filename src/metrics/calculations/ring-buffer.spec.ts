import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring-buffer';

describe(RingBuffer.name, () => {
  it('keeps the last items, newest first', () => {
    const sut = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) sut.push(i);
    expect(sut.newestFirst()).toEqual([5, 4, 3]);
    expect(sut.newestFirst(2)).toEqual([5, 4]);
    expect(sut.length).toBe(3);
  });
  it('reads a partly filled buffer', () => {
    const sut = new RingBuffer<string>(4);
    sut.push('a');
    sut.push('b');
    expect(sut.newestFirst(10)).toEqual(['b', 'a']);
  });
});
