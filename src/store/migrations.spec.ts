import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('store migrations', () => {
  it('are frozen literals: they build nothing from the live schema or the counted fields', () => {
    const text = readFileSync(join(__dirname, 'migrations.ts'), 'utf8');
    const imported = [...text.matchAll(/^import[^;]*from '([^']+)'/gm)].map((m) => m[1]);
    expect(imported).toEqual(['kysely']);
  });
});
