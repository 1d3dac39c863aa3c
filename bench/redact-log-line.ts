/**
 * What masking every log line costs: the per-request `request completed` line through pino, without the
 * line hook, with the pattern rules only, and with 4 and 100 configured secrets. Run after
 * `tsc -p bench/tsconfig.run.json`: `node node_modules/.cache/vdm-bench/bench/redact-log-line.js`.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { REDACTED, Redactor } from '../src/core/redact';
import { createLogging, REDACT_PATHS } from '../src/logging/logger';

const LINES = 20_000;
const ROUNDS = 9;
const discard = { write: (): void => undefined };
const secrets = (n: number): string[] => Array.from({ length: n }, () => `sk-${randomBytes(24).toString('hex')}`);

const completed = {
  provider: 'anthropic',
  model: 'claude-sonnet-4-5-20250929',
  status: 200,
  streaming: true,
  duration_ms: 1234,
  input_tokens: 472,
  output_tokens: 118,
  error_type: undefined,
  client_key: 'sha256:1a2b3c4d',
};

/** ns per line of one round of `LINES` lines. */
function round(log: pino.Logger): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < LINES; i++) log.info(completed, 'request completed');
  return Number(process.hrtime.bigint() - start) / LINES;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const config = { logLevel: 'info', logPretty: false } as const;
const variants: [string, pino.Logger][] = [
  ['pino, redact paths, no line hook', pino({ level: 'info', base: undefined, redact: { paths: REDACT_PATHS, censor: REDACTED } }, discard)],
  ['createLogging, pattern rules only', createLogging(config, discard, new Redactor([])).pino],
  ['createLogging, 4 secrets', createLogging(config, discard, new Redactor(secrets(4))).pino],
  ['createLogging, 100 secrets', createLogging(config, discard, new Redactor(secrets(100))).pino],
];
// Variants alternate within each round, so machine noise hits them alike.
const logs = variants.map(([, logger]) => logger.child({ reqId: 'a1b2c3d4-e5f6-4789-abcd-0123456789ef' }));
const times: number[][] = variants.map(() => []);
for (let r = 0; r < ROUNDS + 1; r++) {
  // The first round warms up the JIT and is not counted.
  logs.forEach((log, i) => (r === 0 ? round(log) : times[i].push(round(log))));
}
const base = median(times[0]);
variants.forEach(([name], i) => {
  const ns = median(times[i]);
  process.stdout.write(`${name.padEnd(36)} ${ns.toFixed(0).padStart(6)} ns/line  (+${(ns - base).toFixed(0)} ns)\n`);
});
