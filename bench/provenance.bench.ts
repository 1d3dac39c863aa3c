/**
 * 9. Usage provenance: one streamed request's accounting, in-process, from begin to finalize through its
 * metrics handle (route, the estimator, 120 content deltas, usage, finalize), when the upstream reported
 * its usage and when it did not (the client left before the usage event: the gateway estimates input
 * from the body and output from the relayed text). Plus the bounds: a 1 MB answer and a 1 MB prompt
 * without usage, whose tokenizer work stops at TOKENIZE_CAP_CHARS. Alternating rounds, medians; each
 * ratio is over the reported request of the same run.
 */
import { loadConfig } from '../src/config/app-config';
import { usageEstimator } from '../src/gateway/protocol/usage-estimate';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import { fmt, median, QUICK, table } from './support/stats';

type Case = 'reported' | 'estimated' | 'estimated_1mb_answer' | 'estimated_1mb_prompt';
const CASES: Case[] = ['reported', 'estimated', 'estimated_1mb_answer', 'estimated_1mb_prompt'];
const LABEL: Record<Case, string> = {
  reported: 'usage reported (the usual request)',
  estimated: 'usage missing: estimated (same request)',
  estimated_1mb_answer: 'usage missing, 1 MB answer relayed',
  estimated_1mb_prompt: 'usage missing, 1 MB prompt',
};

export interface ProvenanceRow {
  case: Case;
  usPerRequest: number;
}

export interface ProvenanceResult {
  rows: ProvenanceRow[];
  /** Per case: microseconds over the reported request's. */
  ratio: Record<Case, number>;
}

const SENTENCE = 'The gateway relays every delta to the client and counts the characters it passed on. ';
/** A chat request of about 2 KB: a system prompt and three turns. */
const BODY = {
  model: 'gpt-bench',
  stream: true,
  messages: [
    { role: 'system', content: SENTENCE.repeat(6) },
    { role: 'user', content: SENTENCE.repeat(8) },
    { role: 'assistant', content: SENTENCE.repeat(5) },
    { role: 'user', content: SENTENCE.repeat(4) },
  ],
};
const BIG_BODY = { ...BODY, messages: [...BODY.messages, { role: 'user', content: SENTENCE.repeat(Math.ceil(1_000_000 / SENTENCE.length)) }] };
/** 120 deltas of a word or two, as providers stream them (about 700 characters). */
const DELTAS = Array.from({ length: 120 }, (_, i) => [i % 3 === 0 ? ' relayed' : ' text,']);
const BIG_DELTA = [SENTENCE.repeat(Math.ceil(8_000 / SENTENCE.length))];

let sink = 0;

function one(tracker: TrackerService, which: Case, i: number): void {
  const handle = tracker.begin({ requestId: `b${i}`, api: 'openai_chat', isStreaming: true, client: 'bench' });
  handle.route('openai', 'gpt-4o');
  handle.estimateWith(usageEstimator('openai_chat', which === 'estimated_1mb_prompt' ? BIG_BODY : BODY));
  handle.upstreamAnswered();
  handle.firstToken();
  if (which === 'estimated_1mb_answer') {
    for (let d = 0; d < 125; d++) handle.output(BIG_DELTA);
  } else {
    for (const delta of DELTAS) handle.output(delta);
  }
  if (which === 'reported') handle.usage({ inputTokens: 420, outputTokens: 160 });
  else handle.fail('client_disconnect', 'The client closed the connection before the response was complete');
  handle.upstreamFinished();
  handle.finalize();
  sink += handle.record.outputTokens;
}

function loop(tracker: TrackerService, which: Case, count: number, offset: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) one(tracker, which, offset + i);
  return Number(process.hrtime.bigint() - t0) / 1000 / count;
}

export function runProvenanceBench(): ProvenanceResult {
  const rounds = QUICK ? 3 : 7;
  const perRound: Record<Case, number> = QUICK
    ? { reported: 5_000, estimated: 2_000, estimated_1mb_answer: 50, estimated_1mb_prompt: 50 }
    : { reported: 20_000, estimated: 5_000, estimated_1mb_answer: 200, estimated_1mb_prompt: 200 };
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', OPENAI_API_KEY: 'sk-bench', LOG_SUMMARY_INTERVAL_REQUESTS: '100000000' }) };
  const tracker = new TrackerService(config, SYSTEM_CLOCK);
  let offset = 0;
  // Warm-up, the tokenizer's tables loaded included.
  for (const which of CASES) offset += perRound[which] / 10 + (loop(tracker, which, perRound[which] / 10, offset) && 0);
  const samples = new Map<Case, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 === 0 ? CASES : [...CASES].reverse()) {
      samples.set(which, [...(samples.get(which) ?? []), loop(tracker, which, perRound[which], offset)]);
      offset += perRound[which];
    }
  }
  if (sink === -1) console.log(sink);
  const rows = CASES.map((which) => ({ case: which, usPerRequest: median(samples.get(which)!) }));
  const reported = rows[0].usPerRequest;
  const ratio = Object.fromEntries(rows.map((row) => [row.case, row.usPerRequest / reported])) as Record<Case, number>;
  return { rows, ratio };
}

export function printProvenance(r: ProvenanceResult): string {
  return [
    '## 9. Usage provenance (one streamed request begin to finalize, 120 deltas, in-process, median of alternating rounds)',
    table(
      ['request', 'us per request', 'over reported'],
      r.rows.map((row) => [LABEL[row.case], fmt(row.usPerRequest, 2), fmt(r.ratio[row.case], 2)]),
    ),
  ].join('\n');
}
