/**
 * Answers a parent's `{ id, gc? }` messages with this process's CPU time, memory and open handles,
 * and `{ id, command }` messages by running that command and replying with what it returns.
 */
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

export type Commands = Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>>;

export function serveStats(extra: () => Record<string, unknown> = () => ({}), commands: Commands = {}): void {
  process.on('message', (message: { id: number; gc?: boolean; command?: string }) => {
    if (message.command === undefined) {
      process.send?.({ ...procStats(message.id, message.gc === true), ...extra() });
      return;
    }
    const run = commands[message.command];
    if (run === undefined) {
      process.send?.({ id: message.id, error: `unknown command ${message.command}` });
      return;
    }
    Promise.resolve()
      .then(run)
      .then(
        (result) => process.send?.({ ...result, id: message.id }),
        (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
  });
}
