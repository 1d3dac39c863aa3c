import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const VITEST = resolve(ROOT, 'node_modules/vitest/vitest.mjs');

export interface VitestRun {
  code: number | null;
  output: string;
  /** The `N passed, N failed, N skipped` line of test/support/summary-reporter.ts. */
  summary: string | undefined;
}

/** Callers give their test more than this, so a hung child is stopped (SIGTERM) before the test times out. */
export const CHILD_TIMEOUT_MS = 100_000;

/** `vitest run` in a child process from the project root, outside the current run (its VITEST_* variables dropped). */
export async function runVitest(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<VitestRun> {
  const childEnv = Object.fromEntries(Object.entries(env).filter(([k]) => !/^(VITEST|TEST$|NODE_ENV$)/.test(k)));
  const child = spawn(process.execPath, [VITEST, 'run', ...args], {
    cwd: ROOT,
    env: { ...childEnv, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: CHILD_TIMEOUT_MS,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('close', resolveExit);
  });
  const summary = output.split('\n').findLast((l) => /^\d+ passed, \d+ failed, \d+ skipped$/.test(l));
  return { code, output, summary };
}
