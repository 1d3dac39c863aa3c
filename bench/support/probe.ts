import { fork } from 'node:child_process';
import { join } from 'node:path';
import { pinPid } from './proc';

export interface ProbeResult {
  status: number;
  bytes: number;
  ms: number[];
}

/** Sequential GETs of `url` from a fresh child process pinned to `cpu` (see probe-child.ts). */
export function probe(url: string, samples: number, cpu: number): Promise<ProbeResult> {
  const child = fork(join(__dirname, 'probe-child.js'), [], {
    env: { ...process.env, PROBE_URL: url, PROBE_SAMPLES: String(samples) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pinPid(child.pid!, cpu);
  return new Promise((resolve, reject) => {
    child.once('message', (m: ProbeResult & { type: string }) => resolve({ status: m.status, bytes: m.bytes, ms: m.ms }));
    child.once('exit', (code) => reject(new Error(`probe exited (${code}) without a result`)));
  });
}
