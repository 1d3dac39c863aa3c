import { describe, expect, it } from 'vitest';
import { nestedDeeperThan } from './json-body';

function nest(shape: 'array' | 'object', depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = shape === 'array' ? [value] : { a: value };
  return value;
}

describe(nestedDeeperThan.name, () => {
  it.each(['array', 'object'] as const)('counts each %s level, scalars none', (shape) => {
    expect(nestedDeeperThan(nest(shape, 3), 3)).toBe(false);
    expect(nestedDeeperThan(nest(shape, 4), 3)).toBe(true);
    expect(nestedDeeperThan('text', 0)).toBe(false);
    expect(nestedDeeperThan(null, 0)).toBe(false);
  });

  it('finds the deepest branch among wide siblings, mixed arrays and objects', () => {
    const body = { model: 'm', messages: [{ content: [{ input: { a: [1, { b: [] }] } }] }, 'x'], tools: [] };
    expect(nestedDeeperThan(body, 9)).toBe(false);
    expect(nestedDeeperThan(body, 8)).toBe(true);
  });

  it('measures a million levels without a stack overflow', () => {
    expect(nestedDeeperThan(nest('array', 1_000_000), 512)).toBe(true);
    expect(nestedDeeperThan(nest('object', 1_000_000), 512)).toBe(true);
  });
});
