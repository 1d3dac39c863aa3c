import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallFilesystem {
  dir: string;
  /** Writes a file until the filesystem has no space left; returns its path. */
  fill(): string;
  unmount(): void;
}

function mount(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'vdm-smallfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0777`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Still in use (a file left open): detach it now, the kernel frees it when the last user goes.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Whether this machine lets the tests mount a small tmpfs (root, or CAP_SYS_ADMIN). When it cannot,
 * the suite is skipped with one line saying so, except under CI=true, where it fails: CI must run it
 * (the same convention as require-binary.ts).
 */
export function canMountSmallFilesystem(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    unmount(mount(64 * 1024));
    return true;
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    const need = `needs to mount a small tmpfs (run as root, or with CAP_SYS_ADMIN): ${why}`;
    if (/^(true|1)$/i.test(env.CI ?? '')) throw new Error(`CI must run this suite, but it ${need}`);
    console.warn(`skipped: ${need}`);
    return false;
  }
}

/** A tmpfs of `bytes` on a fresh temp folder, to fill up and free again. */
export function mountSmallFilesystem(bytes: number): SmallFilesystem {
  const dir = mount(bytes);
  return {
    dir,
    fill: () => {
      const path = join(dir, 'filler');
      const fd = openSync(path, 'a');
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
      return path;
    },
    unmount: () => unmount(dir),
  };
}
