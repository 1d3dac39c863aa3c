/**
 * 3. SSE fan-out: N clients on /metrics/active-requests/stream while requests start and end at
 * 200/s (80% held 50 ms by the upstream, longer than the 5 ms coalescing window; 20% answered at once).
 * Checks every client saw every held request and ends on the final (empty) state; measures the
 * change-to-receipt delay (send time to first receipt, so an upper bound), the gateway's CPU per
 * update and its memory per client. Gateway pinned to CPU 0; clients, load and upstream on CPU 1.
 */
import { Pool } from 'undici';
import { coalesceWindowMs } from '../src/metrics/active-requests.hub';
import { cpuUs, spawnGateway, type Child } from './support/proc';
import { watchMany, type SseWatcher } from './support/sse-clients';
import { fmt, QUICK, sleep, summarize, table } from './support/stats';

export interface SseLevel {
  clients: number;
  requests: number;
  heldRequests: number;
  updatesPerClientPerSec: number;
  missing: number;
  clientsMissingSome: number;
  clientsLastNotFinal: number;
  delayP50Ms: number;
  delayP99Ms: number;
  gatewayCpuUtil: number;
  gatewayCpuPerUpdateUs: number;
  rssPerClientKb: number;
  heapPerClientKb: number;
}

const RATE = 200;

export async function runSseBench(upstream: Child, log: (line: string) => void): Promise<SseLevel[]> {
  const levels = QUICK ? [0, 1, 100, 1000] : [0, 1, 100, 1000, 10_000];
  const durationS = QUICK ? 2 : 5;
  const gw = await spawnGateway('gateway-sse', { ANTHROPIC_API_KEY: 'x', ANTHROPIC_BASE_URL: upstream.url, VDM_ACTIVE_REQUESTS_SSE_MAX_CLIENTS: '10100' }, 0);
  const pool = new Pool(gw.url, { connections: 64 });
  const out: SseLevel[] = [];
  try {
    for (const [li, n] of levels.entries()) {
      const total = RATE * durationS;
      const prefix = `sse${li}-`;
      const sendAt = new Float64Array(total);
      const held = new Uint8Array(total);
      for (let i = 0; i < total; i++) held[i] = i % 5 === 4 ? 0 : 1;
      const sampleEvery = Math.max(1, Math.floor(n / 50));
      const seen: Uint8Array[] = [];
      const delays: number[] = [];
      const base = await gw.stats(true);
      const clients: SseWatcher[] = await watchMany(`${gw.url}/metrics/active-requests/stream`, n, (i) => {
        const mine = new Uint8Array(total);
        seen.push(mine);
        const sampled = i % sampleEvery === 0;
        return {
          prefix,
          onId: (id, at) => {
            if (id >= total || mine[id] === 1) return;
            mine[id] = 1;
            if (sampled && held[id] === 1) delays.push(at - sendAt[id]);
          },
        };
      });
      await sleep(300);
      const connected = await gw.stats(true);
      const updates0 = clients[0]?.updates ?? 0;
      const t0 = performance.now();
      const before = await gw.stats();
      let sent = 0;
      const pending: Promise<void>[] = [];
      // Held requests outlive the coalescing window at this client count, as the guarantee is stated for them.
      const holdMs = Math.ceil(coalesceWindowMs(n)) + 50;
      while (sent < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE) + 1);
        for (; sent < due; sent++) {
          const i = sent;
          sendAt[i] = performance.now();
          const body = JSON.stringify({ model: 'anthropic:claude-bench', max_tokens: 8, metadata: { user_id: held[i] ? `hold_ms=${holdMs}` : 'now' }, messages: [{ role: 'user', content: 'hi' }] });
          pending.push(
            pool
              .request({ path: '/v1/messages', method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `${prefix}${i}` }, body })
              .then((r) => r.body.text())
              .then(() => undefined, () => undefined),
          );
        }
        await sleep(5);
      }
      await Promise.all(pending);
      const after = await gw.stats();
      const windowS = (performance.now() - t0) / 1000;
      // Let the last update reach everyone.
      for (let tries = 0; tries < 200 && clients.some((c) => !c.lastEmpty); tries++) await sleep(50);
      const updates = (clients[0]?.updates ?? 0) - updates0;
      let missing = 0;
      let clientsMissingSome = 0;
      for (const mine of seen) {
        let m = 0;
        for (let i = 0; i < total; i++) if (held[i] === 1 && mine[i] === 0) m++;
        missing += m;
        if (m > 0) clientsMissingSome++;
      }
      const d = summarize(delays);
      const cpuUtil = (cpuUs(after) - cpuUs(before)) / 1e6 / windowS;
      const level: SseLevel = {
        clients: n,
        requests: total,
        heldRequests: held.reduce((a, b) => a + b, 0),
        updatesPerClientPerSec: n > 0 ? updates / windowS : 0,
        missing,
        clientsMissingSome,
        clientsLastNotFinal: clients.filter((c) => !c.lastEmpty).length,
        delayP50Ms: d.p50,
        delayP99Ms: d.p99,
        gatewayCpuUtil: cpuUtil,
        gatewayCpuPerUpdateUs: updates > 0 ? ((cpuUtil - (out[0]?.gatewayCpuUtil ?? 0)) * windowS * 1e6) / updates : NaN,
        rssPerClientKb: n > 0 ? (connected.rss - base.rss) / n / 1024 : 0,
        heapPerClientKb: n > 0 ? (connected.heapUsed - base.heapUsed) / n / 1024 : 0,
      };
      out.push(level);
      log(`  ${String(n).padStart(5)} clients: ${fmt(level.updatesPerClientPerSec, 1)} updates/s each, missing ${missing} (${clientsMissingSome} clients), last not final ${level.clientsLastNotFinal}, delay p50 ${fmt(d.p50, 1)} p99 ${fmt(d.p99, 1)} ms, gateway ${fmt(cpuUtil * 100, 0)}% core, ${fmt(level.gatewayCpuPerUpdateUs, 0)} us CPU/update (fan-out, over 0 clients), ${fmt(level.rssPerClientKb, 1)} KB RSS/client`);
      for (const c of clients) c.close();
      for (let tries = 0; tries < 200 && (await gw.stats()).sseClients > 0; tries++) await sleep(50);
    }
  } finally {
    await pool.close();
    await gw.stop();
  }
  return out;
}

export function printSse(levels: SseLevel[]): string {
  return [
    '## 3. SSE fan-out (requests start and end at 200/s; delay = request sent -> first update naming it, sampled clients)',
    table(
      ['clients', 'updates/s/client', 'missing (clients)', 'last != final', 'delay p50 ms', 'delay p99 ms', 'gateway CPU', 'fan-out CPU us/update', 'RSS KB/client', 'heap KB/client'],
      levels.map((l) => [l.clients, fmt(l.updatesPerClientPerSec, 1), `${l.missing} (${l.clientsMissingSome})`, l.clientsLastNotFinal, fmt(l.delayP50Ms, 1), fmt(l.delayP99Ms, 1), `${fmt(l.gatewayCpuUtil * 100, 0)}%`, fmt(l.gatewayCpuPerUpdateUs, 0), fmt(l.rssPerClientKb, 1), fmt(l.heapPerClientKb, 1)]),
    ),
  ].join('\n');
}
