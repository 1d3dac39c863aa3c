import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { requireBinary } from './require-binary';

const ROOT = resolve(__dirname, '../..');

/** The suites that run a system program, the constant holding its path, and the line they print without it. */
const SUITES = [
  {
    file: 'test/e2e/prometheus.e2e.spec.ts',
    binding: 'PROMETHEUS',
    binary: 'prometheus',
    need: 'needs the `prometheus` binary (Debian package prometheus); apt-get install -y prometheus',
  },
  {
    file: 'test/browser/dashboard.browser.spec.ts',
    binding: 'CHROMIUM',
    binary: 'chromium',
    need: 'needs the `chromium` binary (Debian package chromium); apt-get install -y chromium',
  },
];

/** A PATH with node on it and nothing else, as on a machine without the Debian packages. */
const bareBin = mkdtempSync(join(tmpdir(), 'vdm-bare-path-'));
symlinkSync(process.execPath, join(bareBin, 'node'));
afterAll(() => rmSync(bareBin, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function bareEnv(ci: string | undefined): NodeJS.ProcessEnv {
  return ci === undefined ? { PATH: bareBin } : { PATH: bareBin, CI: ci };
}

describe(requireBinary.name, () => {
  it('finds a program on PATH or in the extra directories', () => {
    const nodeDir = dirname(process.execPath);
    expect(requireBinary('node', 'nodejs', { env: { PATH: nodeDir } })).toBe(join(nodeDir, 'node'));
    expect(requireBinary('node', 'nodejs', { env: { PATH: bareBin, CI: 'true' }, dirs: [nodeDir] })).toBe(join(bareBin, 'node'));
    expect(requireBinary('node', 'nodejs', { env: { PATH: '/nonexistent', CI: 'true' }, dirs: [nodeDir] })).toBe(join(nodeDir, 'node'));
  });

  it('without the programs, skips their suites with one line naming the Debian package', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    for (const ci of [undefined, '', 'false', '0']) {
      for (const { binary } of SUITES) expect(requireBinary(binary, binary, { env: bareEnv(ci) })).toBeUndefined();
    }
    expect(warn.mock.calls).toEqual(Array.from({ length: 4 }, () => SUITES.map(({ need }) => [`skipped: ${need}`])).flat());
  });

  it('under CI=true, fails those suites instead: CI must run them', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    for (const ci of ['true', 'TRUE', '1']) {
      for (const { binary, need } of SUITES) {
        expect(() => requireBinary(binary, binary, { env: bareEnv(ci) })).toThrow(`CI must run this suite, but it ${need}`);
      }
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it.each(SUITES)('$file looks its program up at load and skips its tests when it is missing', ({ file, binding, binary }) => {
    const text = readFileSync(resolve(ROOT, file), 'utf8');
    expect(text).toMatch(new RegExp(`^const ${binding} = requireBinary\\((?:process\\.env\\.\\w+ \\?\\? )?'${binary}', '${binary}'\\);$`, 'm'));
    expect(text).toMatch(new RegExp(`^describe\\.skipIf\\(${binding} === undefined\\)\\(`, 'm'));
    expect(text.match(/^describe\b/gm)).toHaveLength(1);
  });
});
