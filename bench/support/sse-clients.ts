/** Lean SSE clients for the fan-out benches: raw http.get, byte-level scanning, no JSON parsing. */
import * as http from 'node:http';

export interface SseWatcher {
  /** Update events received. */
  updates: number;
  /** Whether the last update had an empty active_requests list. */
  lastEmpty: boolean;
  close(): void;
}

export interface WatchOptions {
  /** Called for each request id (the number after `prefix`) found in an update, with the receive time. */
  onId?: (n: number, at: number) => void;
  prefix?: string;
}

export function watch(url: string, options: WatchOptions = {}): Promise<SseWatcher> {
  const idPattern = options.prefix ? new RegExp(`"request_id":"${options.prefix}(\\d+)"`, 'g') : undefined;
  return new Promise((resolve, reject) => {
    let buffer = '';
    const w: SseWatcher = { updates: 0, lastEmpty: false, close: () => req.destroy() };
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const ev = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!ev.startsWith('event: update') && !ev.includes('\nevent: update')) continue;
          w.updates++;
          w.lastEmpty = ev.includes('"active_requests":[]');
          if (idPattern && options.onId) {
            idPattern.lastIndex = 0;
            for (const m of ev.matchAll(idPattern)) options.onId(Number(m[1]), at);
          }
        }
      });
      res.on('error', () => undefined);
      resolve(w);
    });
    req.on('error', reject);
  });
}

export async function watchMany(url: string, n: number, make: (i: number) => WatchOptions = () => ({})): Promise<SseWatcher[]> {
  const out: SseWatcher[] = [];
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    out.push(...(await Promise.all(Array.from({ length: size }, (_, k) => watch(url, make(i + k))))));
  }
  return out;
}
