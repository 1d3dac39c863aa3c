import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ids, makeConfig, ManualClock } from '../../test/support/factories';
import { Glob } from '../core/glob';
import { wireRunningTotals, wireSeries, type WireSection } from './format/wire';
import { ERROR_CAPACITY, SUMMARY_TOP_MODELS, TRACE_CAPACITY, TrackerService, type ActiveChange } from './tracker.service';

function makeTracker(env: Record<string, string> = {}): { sut: TrackerService; clock: ManualClock } {
  const clock = new ManualClock();
  return { sut: new TrackerService(makeConfig(env), clock), clock };
}

function totals(sut: TrackerService, includeActive = true, filter = {}) {
  return wireRunningTotals(sut.runningTotals(filter, includeActive));
}

const SECTION_KEYS: (keyof WireSection)[] = [
  'requests', 'errors', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_creation_tokens',
  'tool_uses', 'tool_results', 'tool_calls', 'total_duration_ms',
];

describe(TrackerService.name, () => {
  let sut: TrackerService;
  let clock: ManualClock;

  beforeEach(() => {
    ({ sut, clock } = makeTracker());
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('clients', () => {
    it('rolls finished and in-flight requests up per client, field by field equal to the providers', () => {
      const t = ids(sut);
      t.start({ requestId: 'a', provider: 'openai', resolvedModel: 'gpt-4o', client: 'team-a', isStreaming: true });
      t.update('a', { inputTokens: 7, outputTokens: 2 });
      t.end('a');
      t.start({ requestId: 'b', provider: 'anthropic', resolvedModel: 'claude', client: 'team-b' });
      t.update('b', { inputTokens: 5 });
      t.end('b', { errorType: 'rate_limit', error: 'slow down' });
      t.start({ requestId: 'c', provider: 'openai', resolvedModel: 'gpt-4o', client: 'team-a' });
      t.update('c', { inputTokens: 3 });
      const doc = totals(sut);
      expect(doc.clients['team-a'].rollup.total).toMatchObject({ requests: 2, input_tokens: 10, output_tokens: 2, completed_requests: 1 });
      expect(doc.clients['team-a'].rollup.streaming.requests).toBe(1);
      expect(doc.clients['team-b'].rollup.total).toMatchObject({ requests: 1, errors: 1, input_tokens: 5 });
      for (const key of SECTION_KEYS) {
        const byClient = Object.values(doc.clients).reduce((n, c) => n + c.rollup.total[key], 0);
        const byProvider = Object.values(doc.providers).reduce((n, p) => n + p.rollup.total[key], 0);
        expect(byClient, key).toBe(byProvider);
      }
      expect(totals(sut, false).clients['team-a'].rollup.total.requests).toBe(1);
      const onlyB = totals(sut, true, { client: new Glob('team-b') });
      expect(Object.keys(onlyB.clients)).toEqual(['team-b']);
      expect(onlyB.summary).toMatchObject({ total_requests: 1, total_errors: 1, total_input_tokens: 5 });
      expect(Object.keys(onlyB.providers)).toEqual(['anthropic']);
    });
  });

  describe('lifecycle', () => {
    it('cancels in-flight requests through their handles, so a late report cannot change a finished record', () => {
      const handle = sut.begin({ requestId: 'late', provider: 'openai', resolvedModel: 'gpt-4o' });
      handle.usage({ inputTokens: 5 });
      expect(sut.cancelActive('shutting down')).toBe(1);
      expect(handle.finalized).toBe(true);
      handle.usage({ inputTokens: 500, outputTokens: 9 });
      handle.fail('upstream_error', 'too late');
      const summary = totals(sut).summary;
      expect(summary).toMatchObject({ total_requests: 1, total_errors: 1, total_input_tokens: 5, total_output_tokens: 0 });
      expect(handle.record).toMatchObject({ errorType: 'cancelled', inputTokens: 5 });
    });

    it('shows a finished record in its trace as it was counted: bytes and upstream time reported after the end change nothing', () => {
      const handle = sut.begin({ requestId: 'tail', provider: 'openai', resolvedModel: 'gpt-4o' });
      handle.upstreamStarted('', clock.nowMono());
      handle.addResponseBytes(10);
      handle.finalize();
      const trace = sut.recentTraces(1)[0];
      handle.addResponseBytes(990);
      handle.upstreamFinished(clock.nowMono() + 50);
      expect(handle.record.responseSize).toBe(10);
      expect(handle.record.upstreamMs).toBeUndefined();
      expect(sut.recentTraces(1)[0]).toStrictEqual(trace);
      expect(trace).toMatchObject({ request_id: 'tail', response_size: 10 });
    });

    it('starts, updates, and finalizes a request into its provider:model bucket', () => {
      const record = ids(sut).start({ requestId: 'a', requestedModel: 'openai:gpt-4o', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true, messageCount: 2 });
      expect(ids(sut).get('a')).toBe(record);
      ids(sut).update('a', { inputTokens: 10, outputTokens: 3, cacheReadTokens: 4 });
      clock.advance(250);
      ids(sut).end('a');
      expect(ids(sut).get('a')).toBeUndefined();
      const doc = totals(sut);
      expect(doc.summary).toMatchObject({ total_requests: 1, total_input_tokens: 10, total_output_tokens: 3, total_cache_read_tokens: 4, total_duration_ms: 250, average_duration_ms: 250, active_requests: 0 });
      expect(doc.providers.openai.models['gpt-4o'].streaming.requests).toBe(1);
      expect(doc.providers.openai.models['gpt-4o'].non_streaming.requests).toBe(0);
    });

    it('finalizes once: a second end and an unknown id are no-ops', () => {
      ids(sut).start({ requestId: 'a', provider: 'p', resolvedModel: 'm' });
      ids(sut).end('a', { errorType: 'timeout', error: 'slow' });
      ids(sut).end('a', { errorType: 'rate_limit' });
      ids(sut).end('nope');
      const doc = totals(sut);
      expect(doc.summary.total_requests).toBe(1);
      expect(doc.summary.total_errors).toBe(1);
      expect(sut.errorDistribution()).toEqual({ timeout: 1 });
    });

    it('finalizes once through the context too', () => {
      const ctx = sut.begin({ requestId: 'c', provider: 'p', resolvedModel: 'm' });
      ctx.fail('client_disconnect', 'gone');
      ctx.finalize();
      ctx.finalize();
      ids(sut).end('c');
      expect(totals(sut).summary.total_requests).toBe(1);
    });

    it('counts two in-flight requests that share a client request id', () => {
      const a = sut.begin({ requestId: 'same', provider: 'p', resolvedModel: 'm' });
      const b = sut.begin({ requestId: 'same', provider: 'p', resolvedModel: 'm' });
      expect(a.requestId).toBe('same');
      expect(b.requestId).toMatch(/^same~\d+$/);
      expect(sut.activeCount).toBe(2);
      a.finalize();
      b.finalize();
      expect(totals(sut).summary.total_requests).toBe(2);
    });

    it('keeps a model with colons under its provider', () => {
      const ctx = sut.begin({ requestId: 'x', requestedModel: 'openrouter:anthropic/claude-3-5-sonnet:context-flash' });
      ctx.route('openrouter', 'anthropic/claude-3-5-sonnet:context-flash');
      ctx.finalize();
      const doc = totals(sut);
      expect(Object.keys(doc.providers)).toEqual(['openrouter']);
      expect(Object.keys(doc.providers.openrouter.models)).toEqual(['anthropic/claude-3-5-sonnet:context-flash']);
    });

    it('never keys a model by the alias the client sent', () => {
      const ctx = sut.begin({ requestId: 'y', requestedModel: 'sonnet' });
      ctx.route('anthropic', 'claude-sonnet-4-5');
      expect(sut.activeSnapshot()[0]).toMatchObject({ requested_model: 'sonnet', resolved_model: 'claude-sonnet-4-5', provider: 'anthropic' });
      ctx.finalize();
      const doc = totals(sut);
      expect(Object.keys(doc.providers.anthropic.models)).toEqual(['claude-sonnet-4-5']);
      expect(JSON.stringify(doc)).not.toContain('"sonnet"');
    });
  });

  describe('running totals', () => {
    function feed(): void {
      const plan = [
        { id: '1', p: 'openai', m: 'gpt-4o', s: true, out: 10, ms: 100 },
        { id: '2', p: 'openai', m: 'gpt-4o', s: false, out: 20, ms: 300 },
        { id: '3', p: 'openai', m: 'o1', s: false, out: 5, ms: 50, err: true },
        { id: '4', p: 'anthropic', m: 'claude-x', s: true, out: 7, ms: 70 },
      ];
      for (const r of plan) {
        ids(sut).start({ requestId: r.id, provider: r.p, resolvedModel: r.m, isStreaming: r.s, toolUseCount: 1 });
        ids(sut).update(r.id, { outputTokens: r.out });
        clock.advance(r.ms);
        ids(sut).end(r.id, r.err ? { errorType: 'upstream_http_error' } : {});
      }
    }

    it('makes the summary the sum of providers, and each rollup the sum of its models', () => {
      feed();
      ids(sut).start({ requestId: 'nomodel', provider: 'openai' });
      ids(sut).end('nomodel');
      const doc = totals(sut);
      for (const key of SECTION_KEYS) {
        const providerSum = Object.values(doc.providers).reduce((n, p) => n + p.rollup.total[key], 0);
        const summaryKey = key === 'total_duration_ms' ? key : (`total_${key}` as keyof typeof doc.summary);
        expect(doc.summary[summaryKey]).toBe(providerSum);
      }
      const openai = doc.providers.openai;
      const modelSum = Object.values(openai.models).reduce((n, m) => n + m.total.requests, 0);
      expect(openai.rollup.total.requests).toBe(modelSum + 1);
      for (const section of [openai.rollup, ...Object.values(openai.models)]) {
        for (const key of SECTION_KEYS) expect(section.streaming[key] + section.non_streaming[key]).toBe(section.total[key]);
      }
      expect(doc.summary.total_errors).toBe(1);
      expect(doc.summary.total_tool_uses).toBe(4);
    });

    it('adds in-flight requests to counts but never to durations or averages', () => {
      feed();
      const before = totals(sut).summary;
      ids(sut).start({ requestId: 'live', provider: 'openai', resolvedModel: 'gpt-4o', isStreaming: true });
      ids(sut).update('live', { inputTokens: 99, outputTokens: 1 });
      clock.advance(10_000);
      const withActive = totals(sut, true);
      expect(withActive.summary.total_requests).toBe(before.total_requests + 1);
      expect(withActive.summary.total_input_tokens).toBe(before.total_input_tokens + 99);
      expect(withActive.summary.average_duration_ms).toBe(before.average_duration_ms);
      expect(withActive.summary.total_duration_ms).toBe(before.total_duration_ms);
      expect(withActive.summary.active_requests).toBe(1);
      expect(withActive.providers.openai.models['gpt-4o'].streaming.requests).toBe(2);

      const without = totals(sut, false);
      expect(without.summary.total_requests).toBe(before.total_requests);
      expect(without.summary.active_requests).toBe(1);
    });

    it('filters by case-insensitive globs, and a model filter keeps entries with no model', () => {
      feed();
      ids(sut).start({ requestId: 'nomodel', provider: 'openai' });
      ids(sut).end('nomodel');
      const doc = totals(sut, true, { provider: new Glob('OPEN*'), model: new Glob('GPT-*') });
      expect(Object.keys(doc.providers)).toEqual(['openai']);
      expect(Object.keys(doc.providers.openai.models)).toEqual(['gpt-4o']);
      expect(doc.summary.total_requests).toBe(3);
    });

    it('tracks last_accessed per model, provider and overall as the latest start', () => {
      ids(sut).start({ requestId: 'a', provider: 'openai', resolvedModel: 'gpt-4o' });
      clock.advance(5_000);
      ids(sut).start({ requestId: 'b', provider: 'openai', resolvedModel: 'o1' });
      ids(sut).end('a');
      ids(sut).end('b');
      const doc = totals(sut);
      expect(doc.summary.last_accessed).toEqual({ top: '2026-11-18T11:06:45Z' });
      expect(doc.providers.openai.last_accessed).toBe('2026-11-18T11:06:45Z');
      expect(doc.providers.openai.models['gpt-4o'].last_accessed).toBe('2026-11-18T11:06:40Z');
    });

    it('has no last_accessed before any request', () => {
      expect(totals(sut).summary.last_accessed).toBeNull();
      expect(totals(sut).providers).toEqual({});
    });

    it('puts only model rows in the flat series, so sums never double count', () => {
      feed();
      ids(sut).start({ requestId: 'nomodel', provider: 'openai' });
      ids(sut).end('nomodel');
      const rows = wireSeries(totals(sut));
      const total = rows.filter((r) => r.mode === 'total').reduce((n, r) => n + r.requests, 0);
      expect(total).toBe(5);
      expect(rows.find((r) => r.provider === 'openai' && r.model === 'unknown' && r.mode === 'total')?.requests).toBe(1);
      expect(rows.filter((r) => r.model === 'gpt-4o').map((r) => [r.mode, r.requests])).toEqual([
        ['total', 2], ['streaming', 1], ['non_streaming', 1],
      ]);
    });
  });

  describe('model cap (VDM_MAX_MODELS_PER_PROVIDER)', () => {
    function feedModels(t: TrackerService, provider: string, models: string[]): void {
      for (const [i, model] of models.entries()) {
        ids(t).start({ requestId: `${provider}-${i}`, provider, resolvedModel: model, isStreaming: i % 2 === 0, toolUseCount: 1 });
        ids(t).update(`${provider}-${i}`, { inputTokens: 10 + i, outputTokens: 1, cacheReadTokens: 2 });
        clock.advance(10);
        ids(t).end(`${provider}-${i}`, i % 3 === 0 ? { errorType: 'bad_request' } : {});
      }
    }

    it('keeps at most the cap of named models per provider, folds later ones into "other", and counts every request exactly', () => {
      ({ sut, clock } = makeTracker({ VDM_MAX_MODELS_PER_PROVIDER: '3' }));
      const models = Array.from({ length: 50 }, (_, i) => `invented-${i % 25}`);
      feedModels(sut, 'openai', models);
      feedModels(sut, 'anthropic', ['a', 'b']);
      const doc = totals(sut);

      expect(Object.keys(doc.providers.openai.models)).toEqual(['invented-0', 'invented-1', 'invented-2', 'other']);
      expect(doc.providers.openai.models['invented-0'].total.requests).toBe(2);
      expect(doc.providers.openai.models.other.total.requests).toBe(44);
      expect(Object.keys(doc.providers.anthropic.models)).toEqual(['a', 'b']);
      expect([...sut.completedBuckets()]).toHaveLength(6);
      expect(sut.models.foldedRequests).toEqual(new Map([['openai', 44], ['anthropic', 0]]));

      expect(doc.summary.total_requests).toBe(52);
      expect(doc.summary.total_input_tokens).toBe([...models.keys()].reduce((n, i) => n + 10 + i, 0) + 10 + 11);
      expect(doc.summary.total_errors).toBe(17 + 1);
      for (const key of SECTION_KEYS) {
        const summaryKey = key === 'total_duration_ms' ? key : (`total_${key}` as keyof typeof doc.summary);
        const modelSum = Object.values(doc.providers).flatMap((p) => Object.values(p.models)).reduce((n, m) => n + m.total[key], 0);
        expect(doc.summary[summaryKey], key).toBe(modelSum);
        for (const p of Object.values(doc.providers)) {
          expect(p.rollup.total[key]).toBe(Object.values(p.models).reduce((n, m) => n + m.total[key], 0));
        }
      }
    });

    it('keeps a model admitted before the cap filled under its own name', () => {
      ({ sut, clock } = makeTracker({ VDM_MAX_MODELS_PER_PROVIDER: '2' }));
      feedModels(sut, 'p', ['a', 'b', 'c', 'a', 'd', 'b']);
      const models = totals(sut).providers.p.models;
      expect(Object.fromEntries(Object.entries(models).map(([m, n]) => [m, n.total.requests]))).toEqual({ a: 2, b: 2, other: 2 });
    });

    it('shows in-flight requests by their real model, and in the rollup under the model they will be counted as', () => {
      ({ sut, clock } = makeTracker({ VDM_MAX_MODELS_PER_PROVIDER: '1' }));
      feedModels(sut, 'p', ['a', 'b']);
      ids(sut).start({ requestId: 'live-a', provider: 'p', resolvedModel: 'a' });
      ids(sut).start({ requestId: 'live-z', provider: 'p', resolvedModel: 'z' });
      expect(sut.activeSnapshot().map((r) => r.resolved_model)).toEqual(['z', 'a']);
      const live = totals(sut, true).providers.p.models;
      expect(Object.keys(live)).toEqual(['a', 'other']);
      expect([live.a.total.requests, live.other.total.requests]).toEqual([2, 2]);
      ids(sut).end('live-a');
      ids(sut).end('live-z');
      const done = totals(sut, false).providers.p.models;
      expect([done.a.total.requests, done.other.total.requests]).toEqual([2, 2]);
    });

    it('keeps last_accessed for the cap and "other" only, not per invented model', () => {
      ({ sut, clock } = makeTracker({ VDM_MAX_MODELS_PER_PROVIDER: '1' }));
      feedModels(sut, 'p', ['a']);
      clock.advance(5_000);
      feedModels(sut, 'q', ['x']);
      ids(sut).start({ requestId: 'late', provider: 'p', resolvedModel: 'b' });
      ids(sut).end('late');
      const doc = totals(sut);
      expect(doc.providers.p.models.other.last_accessed).toBe(doc.providers.p.last_accessed);
      expect(doc.providers.p.models.a.last_accessed).not.toBe(doc.providers.p.last_accessed);
    });
  });

  describe('buffers', () => {
    it(`keeps the last ${TRACE_CAPACITY} traces and ${ERROR_CAPACITY} errors, newest first`, () => {
      for (let i = 0; i < 300; i++) {
        ids(sut).start({ requestId: `r${i}`, provider: 'p', resolvedModel: 'm' });
        ids(sut).end(`r${i}`, i % 2 === 0 ? { errorType: 'bad_request', error: `bad ${i}` } : {});
      }
      const traces = sut.recentTraces(1000);
      expect(traces).toHaveLength(TRACE_CAPACITY);
      expect(traces[0]).toMatchObject({ request_id: 'r299', status: 'ok', seq: 300 });
      expect(traces.at(-1)?.request_id).toBe('r100');
      const errors = sut.recentErrors(1000);
      expect(errors).toHaveLength(ERROR_CAPACITY);
      expect(errors[0]).toMatchObject({ request_id: 'r298', status: 'error', error_type: 'bad_request', error: 'bad 298', seq: 150 });
      expect(sut.recentTraces(3).map((t) => t.request_id)).toEqual(['r299', 'r298', 'r297']);
    });
  });

  describe('summary log', () => {
    it('logs totals, model distribution and error distribution every LOG_SUMMARY_INTERVAL_REQUESTS requests', () => {
      ({ sut, clock } = makeTracker({ LOG_SUMMARY_INTERVAL_REQUESTS: '3' }));
      const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      for (let i = 0; i < 5; i++) {
        ids(sut).start({ requestId: `r${i}`, provider: 'p', resolvedModel: i < 2 ? 'a' : 'b' });
        ids(sut).update(`r${i}`, { inputTokens: 10 });
        ids(sut).end(`r${i}`, i === 0 ? { errorType: 'rate_limit' } : {});
      }
      expect(log).toHaveBeenCalledTimes(2);
      expect(log.mock.calls[0][0]).toContain('Summary after 3 requests: errors=1');
      expect(log.mock.calls[0][0]).toContain('input_tokens=30');
      expect(log.mock.calls[1][0]).toBe('Model distribution: {"a":2,"b":1}');
      expect(warn).toHaveBeenCalledWith('Error distribution: {"rate_limit":1}');
    });
  });

  it('names only the busiest models in the summary log', () => {
    ({ sut, clock } = makeTracker({ LOG_SUMMARY_INTERVAL_REQUESTS: '30' }));
    const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    for (let i = 0; i < 30; i++) {
      ids(sut).start({ requestId: `r${i}`, provider: 'p', resolvedModel: i < 5 ? 'busy' : `m${i}` });
      ids(sut).end(`r${i}`);
    }
    const line = log.mock.calls.find((c) => String(c[0]).startsWith('Model distribution'))![0] as string;
    const shown = JSON.parse(line.slice('Model distribution: '.length)) as Record<string, number>;
    expect(Object.keys(shown)).toHaveLength(SUMMARY_TOP_MODELS + 1);
    expect(shown.busy).toBe(5);
    expect(shown['(6 others)']).toBe(6);
  });

  describe('changes$', () => {
    it('replays the latest change to a late subscriber and marks usage as progress', () => {
      const seen: ActiveChange[] = [];
      ids(sut).start({ requestId: 'a' });
      sut.changes$.subscribe((c) => seen.push(c)).unsubscribe();
      expect(seen).toEqual([{ version: 1, kind: 'membership' }]);
      const later: ActiveChange['kind'][] = [];
      const sub = sut.changes$.subscribe((c) => later.push(c.kind));
      ids(sut).update('a', { outputTokens: 3 });
      ids(sut).update('a', { outputTokens: 3 });
      ids(sut).end('a');
      sub.unsubscribe();
      expect(later).toEqual(['membership', 'progress', 'membership']);
    });
  });

  describe('disabled', () => {
    it('makes every operation a no-op', () => {
      ({ sut } = makeTracker({ LOG_REQUEST_METRICS: 'false' }));
      const ctx = sut.begin({ requestId: 'a', provider: 'p', resolvedModel: 'm' });
      ctx.route('p', 'm');
      ctx.usage({ outputTokens: 5 });
      ctx.finalize();
      expect(sut.begin({ requestId: 'b' }).tracked).toBe(false);
      expect(sut.activeCount).toBe(0);
      expect(totals(sut).summary.total_requests).toBe(0);
    });
  });

  describe('shutdown', () => {
    it('cancelActive finalizes every in-flight request as cancelled, keeping an earlier failure', () => {
      ids(sut).start({ requestId: 'a', provider: 'p', resolvedModel: 'm' });
      ids(sut).start({ requestId: 'b', provider: 'p', resolvedModel: 'm' });
      ids(sut).get('b')!.errorType = 'timeout';
      expect(sut.cancelActive('shutting down')).toBe(2);
      expect(sut.activeCount).toBe(0);
      expect(sut.errorDistribution()).toEqual({ cancelled: 1, timeout: 1 });
      expect(sut.recentErrors(2).map((e) => e.error)).toContain('shutting down');
    });

    it('whenIdle resolves true once the last request ends, false when the time runs out first', async () => {
      ids(sut).start({ requestId: 'a' });
      const idle = sut.whenIdle(60_000);
      ids(sut).end('a');
      await expect(idle).resolves.toBe(true);
      ids(sut).start({ requestId: 'b' });
      await expect(sut.whenIdle(1)).resolves.toBe(false);
    });
  });
  describe('cost', () => {
    // gpt-4o list prices per million tokens: input 2.50, cached input 1.25, output 10.
    it('counts an in-flight request at its cost so far, and the finished one at its cost, in rows, totals, traces and the summary log', () => {
      ({ sut, clock } = makeTracker({ OPENAI_API_KEY: 'k', LOG_SUMMARY_INTERVAL_REQUESTS: '1' }));
      const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      ids(sut).start({ requestId: 'c', provider: 'openai', resolvedModel: 'gpt-4o' });
      ids(sut).update('c', { inputTokens: 1000, cacheReadTokens: 2000 });
      // 1000*2.5 + 2000*1.25 = 5000 per million
      expect(sut.activeSnapshot()[0].cost_usd).toBe(0.005);
      expect(totals(sut).summary.total_cost_usd).toBe(0.005);
      expect(totals(sut, false).summary.total_cost_usd).toBe(0);
      ids(sut).update('c', { outputTokens: 400 });
      ids(sut).end('c');
      // + 400*10 = 9000 per million
      expect(sut.recentTraces(1)[0].cost_usd).toBe(0.009);
      expect(totals(sut, false).providers.openai.models['gpt-4o'].non_streaming.cost_usd).toBe(0.009);
      expect(log.mock.calls[0][0]).toContain('cost_usd=0.009 unpriced_requests=0 estimated_requests=0');
    });

    it('counts a request with no known price as unpriced, with cost_usd null, never 0', () => {
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      for (const id of ['u1', 'u2']) {
        ids(sut).start({ requestId: id, provider: 'selfhosted', resolvedModel: 'llama3' });
        ids(sut).update(id, { inputTokens: 10, outputTokens: 5 });
        expect(sut.activeSnapshot()[0].cost_usd).toBeNull();
        ids(sut).end(id);
      }
      expect(sut.recentTraces(2).map((t) => t.cost_usd)).toEqual([null, null]);
      const doc = totals(sut, false);
      expect(doc.summary).toMatchObject({ total_cost_usd: 0, total_unpriced_requests: 2 });
      expect(doc.providers.selfhosted.rollup.total.unpriced_requests).toBe(2);
      expect(warn.mock.calls.filter(([m]) => String(m).includes('provider=selfhosted model=llama3'))).toHaveLength(1);
    });
  });
});
