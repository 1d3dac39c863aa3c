import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireBinary } from './require-binary';
import { CHILD_TIMEOUT_MS, runVitest } from './vitest-child';

const SUITES = ['test/e2e/prometheus.e2e.spec.ts', 'test/browser/dashboard.browser.spec.ts'];
const NEEDS = [
  'needs the `prometheus` binary (Debian package prometheus); apt-get install -y prometheus',
  'needs the `chromium` binary (Debian package chromium); apt-get install -y chromium',
];

/** A PATH with node on it and nothing else, as on a machine without the Debian packages. */
const bareBin = mkdtempSync(join(tmpdir(), 'vdm-bare-path-'));
symlinkSync(process.execPath, join(bareBin, 'node'));
afterAll(() => rmSync(bareBin, { recursive: true, force: true }));

function bareEnv(ci: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bareBin };
  delete env.CHROMIUM_PATH;
  delete env.CI;
  if (ci !== undefined) env.CI = ci;
  return env;
}

describe(requireBinary.name, () => {
  it('finds a program on PATH or in the extra directories', () => {
    const nodeDir = dirname(process.execPath);
    expect(requireBinary('node', 'nodejs', { env: { PATH: nodeDir } })).toBe(join(nodeDir, 'node'));
    expect(requireBinary('node', 'nodejs', { env: { PATH: bareBin, CI: 'true' }, dirs: [nodeDir] })).toBe(join(bareBin, 'node'));
    expect(requireBinary('node', 'nodejs', { env: { PATH: '/nonexistent', CI: 'true' }, dirs: [nodeDir] })).toBe(join(nodeDir, 'node'));
  });

  it('without the programs, skips their suites with one line naming the Debian package', async () => {
    const run = await runVitest(SUITES, bareEnv(undefined));
    for (const need of NEEDS) expect(run.output.split('\n')).toContain(`skipped: ${need}`);
    expect(run.summary).toMatch(/^0 passed, 0 failed, [1-9]\d* skipped$/);
    expect(run.code).toBe(0);
  }, CHILD_TIMEOUT_MS + 20_000);

  it('under CI=true, fails those suites instead: CI must run them', async () => {
    const run = await runVitest(SUITES, bareEnv('true'));
    for (const need of NEEDS) expect(run.output).toContain(`CI must run this suite, but it ${need}`);
    expect(run.summary).toBe('0 passed, 2 failed, 0 skipped');
    expect(run.code).toBe(1);
  }, CHILD_TIMEOUT_MS + 20_000);
});
