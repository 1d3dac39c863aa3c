/**
 * 7. Key lookup: the authentication hook deciding one request, in-process, with 1 configured key and with
 * 100,000 (VDM_CLIENT_KEYS_FILE), for an accepted key, a refused pair of wrong keys in both headers, and a
 * refused pair of 4 KB keys. Alternating rounds, medians; the ratio is 100,000 keys over 1 key.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticator } from '../src/common/authenticator';
import { loadConfig } from '../src/config/app-config';
import type { ClientKey } from '../src/config/client-keys';
import { keyDigest } from '../src/core/client-key';
import { ROUTE_FACTS_KEY } from '../src/core/route-facts';
import { RejectionCounter } from '../src/metrics/rejections';
import { SYSTEM_CLOCK, TrackerService } from '../src/metrics/tracker.service';
import { fmt, median, QUICK, table } from './support/stats';

type Case = 'accepted' | 'refused' | 'refused_4kb';
const CASES: Case[] = ['accepted', 'refused', 'refused_4kb'];
const LABEL: Record<Case, string> = {
  accepted: 'accepted key (x-api-key)',
  refused: 'refused: two wrong 40-char keys',
  refused_4kb: 'refused: two 4 KB keys',
};
const SIZES = [1, 100_000];

export interface KeysRow {
  keys: number;
  case: Case;
  usPerRequest: number;
}

export interface KeysResult {
  rows: KeysRow[];
  /** Per case: microseconds at 100,000 keys over microseconds at 1 key. */
  ratio: Record<Case, number>;
}

const ROUTE = { [ROUTE_FACTS_KEY]: { access: 'key', errors: 'anthropic', api: 'anthropic_messages', roles: ['admin', 'client'] } };
const keyOf = (i: number): string => `sk-bench-client-key-${String(i).padStart(8, '0')}-0123456789`;

function authenticator(n: number): Authenticator {
  const clientKeys: ClientKey[] = Array.from({ length: n }, (_, i) => ({ name: `team-${i}`, role: 'client' as const, sha256: keyDigest(keyOf(i)) }));
  const config = { ...loadConfig({ LOG_LEVEL: 'silent' }), clientKeys };
  return new Authenticator(config, new RejectionCounter(), new TrackerService(config, SYSTEM_CLOCK));
}

function headersFor(which: Case, n: number, i: number): Record<string, string> {
  if (which === 'accepted') return { 'x-api-key': keyOf(i % n) };
  if (which === 'refused') return { 'x-api-key': `sk-wrong-${i}-0123456789012345678901234`, authorization: `Bearer sk-wrong-${i}-0123456789012345678901234` };
  const big = `${i}`.padEnd(4096, 'k');
  return { 'x-api-key': big, authorization: `Bearer ${big}` };
}

let sink = 0;
const reply = { code: () => reply, header: () => reply, send: () => reply } as unknown as FastifyReply;

function loop(auth: Authenticator, which: Case, n: number, count: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const request = { routeOptions: { config: ROUTE }, headers: headersFor(which, n, i) } as unknown as FastifyRequest;
    if (auth.refused(request, reply)) sink++;
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / count;
}

export function runKeysBench(): KeysResult {
  const rounds = QUICK ? 3 : 7;
  const perRound = QUICK ? 20_000 : 100_000;
  const auths = new Map(SIZES.map((n) => [n, authenticator(n)]));
  for (const [n, auth] of auths) for (const which of CASES) loop(auth, which, n, 5_000);
  const samples = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 === 0 ? SIZES : [...SIZES].reverse()) {
      for (const which of CASES) {
        const us = loop(auths.get(n)!, which, n, perRound);
        samples.set(`${n}/${which}`, [...(samples.get(`${n}/${which}`) ?? []), us]);
      }
    }
  }
  if (sink === -1) console.log(sink);
  const rows = SIZES.flatMap((n) => CASES.map((which) => ({ keys: n, case: which, usPerRequest: median(samples.get(`${n}/${which}`)!) })));
  const us = (n: number, which: Case): number => rows.find((row) => row.keys === n && row.case === which)!.usPerRequest;
  const ratio = Object.fromEntries(CASES.map((which) => [which, us(100_000, which) / us(1, which)])) as Record<Case, number>;
  return { rows, ratio };
}

export function printKeys(r: KeysResult): string {
  const us = (n: number, which: Case): number => r.rows.find((row) => row.keys === n && row.case === which)!.usPerRequest;
  return [
    '## 7. Key lookup (authentication hook per request, in-process, median of alternating rounds)',
    table(
      ['request', 'us at 1 key', 'us at 100,000 keys', '100,000 / 1'],
      CASES.map((which) => [LABEL[which], fmt(us(1, which), 3), fmt(us(100_000, which), 3), fmt(r.ratio[which], 2)]),
    ),
  ].join('\n');
}
