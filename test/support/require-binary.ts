import { delimiter } from 'node:path';
import which from 'which';

/**
 * A system program a suite runs for real, looked up on PATH (then in `dirs`). When it is missing the
 * suite is skipped with one line naming the Debian package, except under CI=true, where it fails:
 * CI must run it (.ci/run installs the package). Returns the program's path, undefined to skip.
 */
export function requireBinary(
  binary: string,
  debianPackage: string,
  { dirs = [], env = process.env }: { dirs?: string[]; env?: NodeJS.ProcessEnv } = {},
): string | undefined {
  const found = which.sync(binary, { nothrow: true, path: [env.PATH ?? '', ...dirs].join(delimiter) });
  if (found !== null) return found;
  const need = `needs the \`${binary}\` binary (Debian package ${debianPackage}); apt-get install -y ${debianPackage}`;
  if (/^(true|1)$/i.test(env.CI ?? '')) throw new Error(`CI must run this suite, but it ${need}`);
  console.warn(`skipped: ${need}`);
  return undefined;
}
