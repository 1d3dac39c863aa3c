import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import type { RequestRecord } from '../metrics/model/request-record';
import { usd } from '../metrics/pricing/cost';
import { DURATION_BOUNDARIES, GEN_AI, GENERAL, METRICS, TOKEN_BOUNDARIES, TTFT_BOUNDARIES, VDM } from './genai-conventions';

/** The GenAI metrics sent over OTLP, each recorded once per finalized request from its record. */
export class GenAiInstruments {
  private readonly tokens: Histogram;
  private readonly duration: Histogram;
  private readonly ttft: Histogram;
  private readonly cost: Counter;

  constructor(meter: Meter) {
    this.tokens = meter.createHistogram(METRICS.tokenUsage, {
      unit: '{token}',
      description: 'Number of input and output tokens used, input counting cache reads and writes.',
      advice: { explicitBucketBoundaries: TOKEN_BOUNDARIES },
    });
    this.duration = meter.createHistogram(METRICS.operationDuration, {
      unit: 's',
      description: 'GenAI operation duration, as the gateway measured the request.',
      advice: { explicitBucketBoundaries: DURATION_BOUNDARIES },
    });
    this.ttft = meter.createHistogram(METRICS.timeToFirstToken, {
      unit: 's',
      description: 'Time to generate the first token, for streaming requests.',
      advice: { explicitBucketBoundaries: TTFT_BOUNDARIES },
    });
    this.cost = meter.createCounter(METRICS.cost, {
      unit: 'USD',
      description: 'Cost of the requests at list prices, in US dollars; requests with no known price are not counted.',
    });
  }

  record(r: Readonly<RequestRecord>, operation: string): void {
    const attributes = {
      [GEN_AI.operationName]: operation,
      [GEN_AI.providerName]: r.provider,
      [GEN_AI.requestModel]: r.resolvedModel ?? r.requestedModel,
      [VDM.client]: r.client,
    };
    if (r.usageSource !== undefined && r.usageSource !== 'none') {
      this.tokens.record(r.inputTokens + r.cacheReadTokens + r.cacheCreationTokens, { ...attributes, [GEN_AI.tokenType]: 'input' });
      this.tokens.record(r.outputTokens, { ...attributes, [GEN_AI.tokenType]: 'output' });
    }
    if (r.durationMs !== undefined) {
      this.duration.record(r.durationMs / 1000, r.errorType === undefined ? attributes : { ...attributes, [GENERAL.errorType]: r.errorType });
    }
    if (r.ttftMs !== undefined) this.ttft.record(r.ttftMs / 1000, attributes);
    if (typeof r.costNano === 'number' && r.costNano > 0) this.cost.add(usd(r.costNano), attributes);
  }
}
