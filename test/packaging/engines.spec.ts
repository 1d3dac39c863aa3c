import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

/** The oldest Node the project supports, and the newest CI runs (.ci/run: Node 20 and 24). */
const SUPPORTED = [semver.minVersion(pkg.engines.node)!.version, '24.0.0'];

describe('package-lock.json', () => {
  it('supports Node 20.19 as its oldest version', () => {
    expect(SUPPORTED[0]).toBe('20.19.0');
  });

  it.each(SUPPORTED)('installs on Node %s without an engine warning', (node) => {
    const mismatches = Object.entries(lock.packages)
      .map(([path, entry]) => ({ path, version: entry.version, range: Array.isArray(entry.engines) ? undefined : entry.engines?.node }))
      .filter(({ range }) => range !== undefined && !semver.satisfies(node, range, { includePrerelease: true }))
      .map(({ path, version, range }) => `${path || 'the project'}@${version} wants node ${range}`);
    expect(mismatches).toEqual([]);
  });
});
