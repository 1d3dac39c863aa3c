import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');

/** The floors, from the ground up: a file may import its own floor or one below, never one above. */
const FLOORS = ['core', 'config', 'logging', 'metrics', 'telemetry', 'store', 'reconciliation', 'limits', 'common', 'gateway', 'dashboard', 'health', 'lifecycle'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** Relative imports of a file, as paths under src/ without the extension. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)].map((m) => relative(SRC, normalize(join(dirname(file), m[1]))));
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [relative(SRC, f).replace(/\.ts$/, ''), imports(f)]));
const floorOf = (path: string): number => FLOORS.indexOf(path.split('/')[0]);

describe('the layout', () => {
  it('imports only run down the floors', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        const [from, to] = [floorOf(file), floorOf(dep)];
        if (from >= 0 && to > from) upward.push(`${file} -> ${dep}`);
      }
    }
    expect(graph.size).toBeGreaterThan(50);
    expect(upward).toEqual([]);
  });

  it('the ground floor imports no feature', () => {
    const out = [...graph].filter(([file]) => file.startsWith('core/')).flatMap(([file, deps]) => deps.filter((d) => !d.startsWith('core/')).map((d) => `${file} -> ${d}`));
    expect(out).toEqual([]);
  });

  it('no files import each other in a circle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      state.set(file, 'open');
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        if (state.get(dep) === 'open') cycles.push([...path.slice(path.indexOf(dep)), dep].join(' -> '));
        else if (!state.has(dep)) visit(dep, [...path, dep]);
      }
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect(cycles).toEqual([]);
  });
});
