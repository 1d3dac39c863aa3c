/** Child processes for the benches: spawned pinned to a CPU with `taskset` when available, each reporting its port over IPC. */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcStats } from './ipc-stats';

export const HAS_TASKSET = ((): boolean => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Pins this process (and the threads it already has) to `cpu`. */
export function pinSelf(cpu: number): boolean {
  if (!HAS_TASKSET) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Child {
  name: string;
  url: string;
  port: number;
  proc: ChildProcess;
  /** The child's `ready` message (its port, and whatever else it reports, such as `startMs`). */
  ready: Record<string, unknown>;
  stats(gc?: boolean): Promise<ProcStats & Record<string, any>>;
  /** Runs a command the child serves (see serveStats); rejects with the child's error. */
  command(name: string): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

let seq = 0;

/** tsc compiles the sources only: the dashboard's files (read at start-up) are linked beside them, as nest-cli copies them into dist/. */
function linkDashboardFiles(): void {
  const compiled = join(__dirname, '..', '..', 'src', 'dashboard', 'public');
  const source = join(__dirname, '..', '..', '..', '..', '..', 'src', 'dashboard', 'public');
  const from = existsSync(join(process.cwd(), 'src', 'dashboard', 'public')) ? join(process.cwd(), 'src', 'dashboard', 'public') : source;
  if (existsSync(compiled) || !existsSync(join(compiled, '..'))) return;
  rmSync(compiled, { force: true }); // a link left dangling by a checkout that is gone
  symlinkSync(from, compiled);
}

/** Forks a compiled script of this directory tree (`rel` relative to bench/) pinned to `cpu`. */
export async function spawnChild(name: string, rel: string, env: Record<string, string>, cpu?: number, profile = false): Promise<Child> {
  const script = join(__dirname, '..', rel);
  if (!existsSync(script)) throw new Error(`missing ${script}: run through npm run bench`);
  linkDashboardFiles();
  const profDir = profile ? process.env.BENCH_PROF_DIR : undefined;
  const proc = fork(script, [], {
    env: { ...process.env, ...env },
    execArgv: ['--expose-gc', '--max-old-space-size=2048', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (cpu !== undefined) pinPid(proc.pid!, cpu);
  const ready = await new Promise<Record<string, unknown> & { port: number }>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
    proc.on('message', (m: { type?: string; port?: number }) => {
      if (m.type === 'ready' && m.port !== undefined) resolve(m as Record<string, unknown> & { port: number });
    });
  });
  const port = ready.port;
  const waiting = new Map<number, (s: any) => void>();
  proc.on('message', (m: { id?: number }) => {
    if (m.id !== undefined) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    ready,
    stats: (gc = false) =>
      new Promise((resolve) => {
        const id = ++seq;
        waiting.set(id, resolve);
        proc.send({ id, gc });
      }),
    command: (command) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, (m: Record<string, any>) => (typeof m.error === 'string' ? reject(new Error(`${name}: ${m.error}`)) : resolve(m)));
        proc.send({ id, command });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.disconnect();
        setTimeout(() => proc.kill('SIGKILL'), 5_000).unref();
      }),
  };
}

export function pinPid(pid: number, cpu: number): void {
  if (!HAS_TASKSET) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    // Pinning is best effort.
  }
}

/**
 * The compiled gateway entry (bench/support/gateway-child.ts). With BENCH_PROF_DIR set, each gateway
 * writes a V8 CPU profile (`<name>.cpuprofile`) there when it stops.
 */
export function spawnGateway(name: string, env: Record<string, string>, cpu?: number): Promise<Child> {
  return spawnChild(name, 'support/gateway-child.js', { LOG_LEVEL: 'silent', LOG_SUMMARY_INTERVAL_REQUESTS: '1000000000', VDM_STORE: 'none', ...env }, cpu, true);
}

export function cpuUs(s: { cpuUserUs: number; cpuSystemUs: number }): number {
  return s.cpuUserUs + s.cpuSystemUs;
}
