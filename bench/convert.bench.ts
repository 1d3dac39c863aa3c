/**
 * 5. Stream conversion throughput: one long OpenAI stream of two interleaved tool calls, sent through
 * the gateway (a) converted, to an Anthropic client on /v1/messages, and (b) passed through on
 * /v1/chat/completions. Same upstream bytes both ways, A and B alternating, one request at a time.
 * MB/s is upstream stream bytes over the client's time to the last byte. Gateway on CPU 0, the rest on CPU 1.
 */
import { request } from 'undici';
import { cpuUs, spawnChild, spawnGateway, type Child } from './support/proc';
import { fmt, median, QUICK, table } from './support/stats';

type Mode = 'converted' | 'passthrough';
const MODES: Mode[] = ['converted', 'passthrough'];
const LABEL: Record<Mode, string> = {
  converted: 'a converted (/v1/messages -> openai upstream)',
  passthrough: 'b passthrough (/v1/chat/completions)',
};

export interface ConvertRow {
  mode: Mode;
  round: number;
  mbps: number;
  /** Gateway CPU per MB of upstream stream (ms). */
  cpuMsPerMB: number;
}

export interface ConvertResult {
  deltasPerCall: number;
  streamBytes: number;
  rows: ConvertRow[];
  summary: Record<Mode, { mbps: number; cpuMsPerMB: number }>;
  /** Converted over passthrough throughput. */
  ratio: number;
}

const MESSAGES = [{ role: 'user', content: 'write both files' }];
const BODY: Record<Mode, { path: string; body: string; last: string }> = {
  converted: { path: '/v1/messages', body: JSON.stringify({ model: 'openai:gpt-bench', max_tokens: 16, stream: true, messages: MESSAGES }), last: 'event: message_stop' },
  passthrough: { path: '/v1/chat/completions', body: JSON.stringify({ model: 'openai:gpt-bench', stream: true, messages: MESSAGES }), last: 'data: [DONE]' },
};

/** One request read to its end; returns seconds, or throws when the stream did not end properly. */
async function once(gateway: Child, mode: Mode): Promise<number> {
  const { path, body, last } = BODY[mode];
  const started = performance.now();
  const res = await request(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client', 'anthropic-version': '2023-06-01' },
    body,
  });
  let tail = '';
  for await (const piece of res.body) tail = (tail + (piece as Buffer).toString('latin1')).slice(-256);
  const seconds = (performance.now() - started) / 1000;
  if (res.statusCode !== 200 || !tail.includes(last)) throw new Error(`${mode}: status ${res.statusCode}, stream ended with ${JSON.stringify(tail.slice(-80))}`);
  return seconds;
}

export async function runConvertBench(log: (line: string) => void): Promise<ConvertResult> {
  const deltasPerCall = QUICK ? 5_000 : 20_000;
  const rounds = QUICK ? 3 : 6;
  const perRound = QUICK ? 2 : 3;
  const upstream = await spawnChild('tool-stream-upstream', 'support/tool-stream-upstream.js', { TOOL_STREAM_DELTAS: String(deltasPerCall) }, 1);
  const gateway = await spawnGateway('gateway-convert', { OPENAI_API_KEY: 'x', OPENAI_BASE_URL: `${upstream.url}/v1` }, 0);
  try {
    const streamBytes = Number((await upstream.stats()).streamBytes);
    const MB = streamBytes / 1e6;
    for (const mode of MODES) await once(gateway, mode);
    const rows: ConvertRow[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
        const before = await gateway.stats();
        let seconds = 0;
        for (let i = 0; i < perRound; i++) seconds += await once(gateway, mode);
        const after = await gateway.stats();
        const row: ConvertRow = { mode, round, mbps: (perRound * MB) / seconds, cpuMsPerMB: (cpuUs(after) - cpuUs(before)) / 1000 / (perRound * MB) };
        rows.push(row);
        log(`  ${LABEL[mode].padEnd(46)} round ${round}: ${fmt(row.mbps, 2).padStart(7)} MB/s, gateway cpu ${fmt(row.cpuMsPerMB, 1)} ms/MB`);
      }
    }
    const agg = (mode: Mode) => {
      const rs = rows.filter((r) => r.mode === mode);
      return { mbps: median(rs.map((r) => r.mbps)), cpuMsPerMB: median(rs.map((r) => r.cpuMsPerMB)) };
    };
    const summary = { converted: agg('converted'), passthrough: agg('passthrough') };
    return { deltasPerCall, streamBytes, rows, summary, ratio: summary.converted.mbps / summary.passthrough.mbps };
  } finally {
    await Promise.all([gateway.stop(), upstream.stop()]);
  }
}

export function printConvert(r: ConvertResult): string {
  return [
    `## 5. Stream conversion throughput (2 interleaved tool calls x ${r.deltasPerCall} deltas, ${fmt(r.streamBytes / 1e6, 2)} MB upstream stream; medians over alternating rounds)`,
    table(
      ['variant', 'MB/s', 'gateway cpu ms/MB'],
      MODES.map((mode) => [LABEL[mode], fmt(r.summary[mode].mbps, 2), fmt(r.summary[mode].cpuMsPerMB, 1)]),
    ),
    `converted / passthrough throughput = ${fmt(r.ratio, 3)}`,
  ].join('\n');
}
