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
 * Whether this machine lets the tests mount a small tmpfs (root with CAP_SYS_ADMIN). When it cannot,
 * the suite is skipped with one line saying so. Unlike a missing Debian package, which CI installs,
 * the privilege is the machine's (a container may withhold it even from root), so CI skips too.
 */
export function canMountSmallFilesystem(): boolean {
  try {
    unmount(mount(64 * 1024));
    return true;
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    console.warn(`skipped: needs to mount a small tmpfs (root with CAP_SYS_ADMIN), which this machine does not allow: ${why}`);
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
