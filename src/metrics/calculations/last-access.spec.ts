import { describe, expect, it } from 'vitest';
import { noteAccess, noteLatest, type LastAccessed } from './hierarchical';

describe(noteLatest.name, () => {
  it('keeps the first time and then only a later one', () => {
    const times = new Map<string, number>();
    noteLatest(times, 'a', 20);
    noteLatest(times, 'a', 10);
    noteLatest(times, 'a', 20);
    expect(times.get('a')).toBe(20);
    noteLatest(times, 'a', 30);
    expect(times.get('a')).toBe(30);
  });
});

describe(noteAccess.name, () => {
  it('notes the time overall, for the provider and for the model key, each when known', () => {
    const la: LastAccessed = { providers: new Map(), models: new Map(), clients: new Map() };
    noteAccess(la, 50, undefined, undefined);
    noteAccess(la, 40, 'openai', undefined);
    noteAccess(la, 30, 'openai', 'openai\u0000gpt-4o');
    noteAccess(la, 45, 'openai', 'openai\u0000gpt-4o');
    expect(la).toEqual({ top: 50, providers: new Map([['openai', 45]]), models: new Map([['openai\u0000gpt-4o', 45]]), clients: new Map() });
  });
});
