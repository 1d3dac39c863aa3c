/** Answers a parent's `{ id, gc? }` messages with this process's CPU time, memory and open handles. */
export interface ProcStats {
  id: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  rss: number;
  heapUsed: number;
  /** V8 heap committed (used, free and the young generation's semispaces). */
  heapTotal: number;
  /** Memory of C++ objects bound to JS ones, Buffers included. */
  external: number;
  arrayBuffers: number;
  resources: Record<string, number>;
  [extra: string]: unknown;
}

export function procStats(id: number, gcFirst: boolean): ProcStats {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gcFirst && gc) {
    gc();
    gc();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  return { id, cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers, resources };
}

export function serveStats(extra: () => Record<string, unknown> = () => ({})): void {
  process.on('message', (message: { id: number; gc?: boolean }) => {
    process.send?.({ ...procStats(message.id, message.gc === true), ...extra() });
  });
}
