import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './require-binary';

/** Debian keeps the server programs under /usr/lib/postgresql/<version>/bin, off PATH. */
function debianDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface PostgresServer {
  url: string;
  stop(): void;
  start(): void;
  close(): void;
}

/** The `initdb` program; undefined (the suite skips) when the package is missing, except under CI=true. */
export function postgresBinary(): string | undefined {
  return requireBinary('initdb', 'postgresql', { dirs: debianDirs() });
}

/**
 * A throwaway PostgreSQL server on a free loopback port, in a temp data directory. The server
 * refuses to run as root, so as root it runs as the `postgres` user the Debian package creates.
 */
export async function startPostgres(initdb: string, { fsync = false }: { fsync?: boolean } = {}): Promise<PostgresServer> {
  const pgCtl = join(initdb, '..', 'pg_ctl');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'vdm-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (bin: string, args: string[]): void => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
    execFileSync(cmd, argv, { stdio: 'pipe' });
  };
  run(initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  // Tests need no durability; a bench measuring commits may ask for it (fsync on: each commit waits for its WAL flush).
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=${fsync ? 'on' : 'off'}`;
  const start = (): void => run(pgCtl, ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  const stop = (): void => run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop,
    close: () => {
      try {
        stop();
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
