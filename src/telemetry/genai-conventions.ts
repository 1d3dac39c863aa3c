/**
 * The names this gateway's traces and OTLP metrics use, from the OpenTelemetry GenAI semantic
 * conventions as published in github.com/open-telemetry/semantic-conventions-genai at commit
 * 002c8a6ea1c8a42b14a4527db83b3cabcded610a (status: Development; docs/gen-ai/gen-ai-spans.md,
 * gen-ai-metrics.md, registry/attributes/gen-ai.md), and the stable `server.*`, `http.*`,
 * `error.type` and `user.id` attributes of the general conventions (v1.41.1). The GenAI names moved
 * out of @opentelemetry/semantic-conventions (1.45.0 marks them deprecated there), so they are spelled here.
 */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestStream: 'gen_ai.request.stream',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  conversationId: 'gen_ai.conversation.id',
  /** Includes cache reads and cache writes (the conventions' note on gen_ai.usage.input_tokens). */
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  usageReasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  /** Not in the conventions: the cost in US dollars, the name Langfuse and others read. */
  usageCost: 'gen_ai.usage.cost',
  tokenType: 'gen_ai.token.type',
} as const;

export const GENERAL = {
  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  httpResponseStatusCode: 'http.response.status_code',
  userId: 'user.id',
} as const;

/** The gateway's own attributes. */
export const VDM = {
  client: 'vdm.client',
  costUsd: 'vdm.cost_usd',
  usageSource: 'vdm.usage_source',
  api: 'vdm.api',
  requestId: 'vdm.request_id',
} as const;

/** The span event that marks the first token of an answer. */
export const FIRST_TOKEN_EVENT = 'gen_ai.first_token';

export const METRICS = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  timeToFirstToken: 'gen_ai.server.time_to_first_token',
  /** Not in the conventions: the gateway's cost counter, in US dollars. */
  cost: 'vdm.gen_ai.cost',
} as const;

/** Bucket boundaries the conventions advise for each histogram (gen-ai-metrics.md). */
export const TOKEN_BOUNDARIES = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
export const DURATION_BOUNDARIES = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
export const TTFT_BOUNDARIES = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
