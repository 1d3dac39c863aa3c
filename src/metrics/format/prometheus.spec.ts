import { describe, expect, it } from 'vitest';
import { ids, makeConfig, ManualClock } from '../../../test/support/factories';
import { TrackerService } from '../tracker.service';
import { OTHER_MODEL } from '../calculations/model-cap';
import { prometheusSamples, type FamilySamples, type PrometheusInput, type Sample } from './prometheus';

function makeTracker(env: Record<string, string> = {}): { sut: TrackerService; clock: ManualClock } {
  const clock = new ManualClock();
  return { sut: new TrackerService(makeConfig(env), clock), clock };
}

function finish(
  t: TrackerService,
  clock: ManualClock,
  id: string,
  provider: string | undefined,
  model: string | undefined,
  opts: { stream?: boolean; error?: boolean; client?: string } = {},
): void {
  ids(t).start({ requestId: id, provider, resolvedModel: model, isStreaming: opts.stream ?? false, client: opts.client, user: 'u-1', session: 's-1' });
  ids(t).update(id, { inputTokens: 10, outputTokens: 4 });
  clock.advance(100);
  ids(t).end(id, opts.error ? { errorType: 'timeout' } : {});
}

/** The samples with their shared labels merged in, as each exposition line carries them. */
function samplesOf(input: PrometheusInput): FamilySamples {
  const out = prometheusSamples(input);
  for (const key of Object.keys(out) as (keyof FamilySamples)[]) {
    out[key] = out[key].map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...sharedLabels, ...labels } }));
  }
  return out;
}

const total = (samples: Sample[], match: Record<string, string> = {}, metricName?: string): number =>
  samples
    .filter((s) => (metricName === undefined || s.metricName === metricName) && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);

describe(prometheusSamples.name, () => {
  it('labels by provider, resolved model and streaming, with outcome and error_type on requests', () => {
    const { sut, clock } = makeTracker();
    finish(sut, clock, 'a', 'openai', 'gpt-4o');
    finish(sut, clock, 'b', 'openai', 'gpt-4o', { stream: true, error: true });
    const out = samplesOf({ buckets: sut.completedBuckets(), active: sut.activeRecords(), models: sut.models });
    expect(out.requests).toEqual([
      { labels: { provider: 'openai', model: 'gpt-4o', streaming: 'true', api: 'unknown', client: 'anonymous', outcome: 'success' }, value: 0 },
      { labels: { provider: 'openai', model: 'gpt-4o', streaming: 'true', api: 'unknown', client: 'anonymous', outcome: 'error', error_type: 'timeout' }, value: 1 },
      { labels: { provider: 'openai', model: 'gpt-4o', streaming: 'false', api: 'unknown', client: 'anonymous', outcome: 'success' }, value: 1 },
    ]);
    expect(total(out.tokens, { token_type: 'input' })).toBe(20);
    expect(total(out.tokenUsage, { token_type: 'input' }, 'gen_ai_client_token_usage_sum')).toBe(20);
    expect(total(out.duration, { le: '+Inf' })).toBe(2);
  });

  it('names requests without provider or model "unknown"', () => {
    const { sut, clock } = makeTracker();
    finish(sut, clock, 'a', undefined, undefined);
    const out = samplesOf({ buckets: sut.completedBuckets(), active: [], models: sut.models });
    expect(out.requests[0].labels).toMatchObject({ provider: 'unknown', model: 'unknown' });
  });

  it('labels the tracker\'s "other" bucket, counts its folded requests, and keeps in-flight ones within the cap', () => {
    const { sut, clock } = makeTracker({ VDM_MAX_MODELS_PER_PROVIDER: '2' });
    for (const [i, m] of ['a', 'b', 'c', 'd', 'c'].entries()) finish(sut, clock, `r${i}`, 'p', m);
    ids(sut).start({ requestId: 'live', provider: 'p', resolvedModel: 'e' });
    const out = samplesOf({ buckets: sut.completedBuckets(), active: sut.activeRecords(), models: sut.models });
    expect(out.requests.map((s) => `${s.labels.model}=${s.value}`)).toEqual(['a=1', 'b=1', `${OTHER_MODEL}=3`]);
    expect(out.foldedRequests).toEqual([{ labels: { provider: 'p' }, value: 3 }]);
    expect(out.activeRequests.find((s) => s.value === 1)?.labels).toMatchObject({ model: OTHER_MODEL });
  });

  it('labels request, token and cost counters by client, and no histogram by client, user or session', () => {
    const { sut, clock } = makeTracker();
    finish(sut, clock, 'a', 'openai', 'gpt-4o', { client: 'team-a' });
    finish(sut, clock, 'b', 'openai', 'gpt-4o', { client: 'team-b', error: true });
    finish(sut, clock, 'c', 'openai', 'gpt-4o', { client: 'team-a', stream: true });
    const out = samplesOf({ buckets: sut.completedBuckets(), active: sut.activeRecords(), models: sut.models });
    expect(total(out.requests, { client: 'team-a' })).toBe(2);
    expect(total(out.requests, { client: 'team-b', outcome: 'error', error_type: 'timeout' })).toBe(1);
    expect(out.tokens.filter((s) => s.labels.client === 'team-a' && s.labels.token_type === 'output').map((s) => s.value)).toEqual([8]);
    expect(out.tokens.every((s) => s.labels.streaming === undefined)).toBe(true);
    expect(total(out.tokens, { client: 'team-b', token_type: 'input' })).toBe(10);
    for (const [family, samples] of Object.entries(out)) {
      for (const sample of samples) {
        expect(Object.keys(sample.labels), family).not.toContain('user');
        expect(Object.keys(sample.labels), family).not.toContain('session');
        if (family === 'overhead') expect(Object.keys(sample.labels), family).not.toContain('model');
        if (family !== 'requests' && family !== 'tokens' && family !== 'cost') expect(Object.keys(sample.labels), family).not.toContain('client');
      }
    }
    // Token-count distributions per provider and token type only: the sums by model are on vdm_tokens_total.
    expect(out.tokenUsage.every((s) => s.labels.model === undefined && s.labels.streaming === undefined)).toBe(true);
    expect(total(out.tokenUsage, { provider: 'openai', token_type: 'input' }, 'gen_ai_client_token_usage_count')).toBe(3);
  });
});
