import { describe, expect, it } from 'vitest';
import { classifyHttpError, ERROR_TABLE } from '../core/error-table';
import { createOpenAIToAnthropicRelay } from './conversion/openai-stream-to-anthropic';
import { openaiErrorToAnthropic } from './conversion/openai-to-anthropic';
import { createAnthropicRelay } from './protocol/anthropic-relay';
import { createOpenAIRelay } from './protocol/openai-relay';
import { RecordingSink, runRelay } from './protocol/testing/recording-sink';

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const OPENAI_START = `data: ${JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }] })}\n\n`;
const ANTHROPIC_START = sse('message_start', {
  type: 'message_start',
  message: { id: 'msg', model: 'm', usage: { input_tokens: 1, output_tokens: 0 } },
});

/** Every row, met by each of its statuses, kinds and hints, on each of the six paths. */
const CASES = ERROR_TABLE.flatMap((row) => [
  // An exact code beats a known type beside it (`invalid_api_key` comes with `invalid_request_error`); a hint does not.
  ...row.kinds.map((kind) => ({ row, kind, companion: 'invalid_request_error' })),
  ...row.hints.map((hint) => ({ row, kind: `x_${hint}_y`, companion: 'tokens' })),
]);

function lastError(sink: RecordingSink): unknown {
  return sink.calls.filter((call) => call.kind === 'error').at(-1);
}

describe('the error table on every path', () => {
  it.each(CASES)('$kind: anthropic passthrough stream', ({ row, kind }) => {
    const sink = new RecordingSink();
    runRelay(
      createAnthropicRelay({ sink }),
      ANTHROPIC_START + sse('error', { type: 'error', error: { type: kind, message: 'm' } }),
    );
    expect(lastError(sink)).toEqual({ kind: 'error', errorType: row.inBand ?? row.errorType, message: 'm' });
  });

  it.each(CASES)('$kind: openai passthrough stream, as code and as type', ({ row, kind, companion }) => {
    for (const error of [
      { code: kind, type: companion },
      { type: kind, code: null },
    ]) {
      const sink = new RecordingSink();
      runRelay(
        createOpenAIRelay({ sink, dropUsageChunk: false }),
        OPENAI_START + `data: ${JSON.stringify({ error: { ...error, message: 'm' } })}\n\n`,
      );
      expect(lastError(sink)).toEqual({
        kind: 'error',
        errorType: row.inBand ?? row.errorType,
        message: 'm',
      });
    }
  });

  it.each(CASES)('$kind: conversion stream', ({ row, kind, companion }) => {
    const sink = new RecordingSink();
    const { output } = runRelay(
      createOpenAIToAnthropicRelay({ sink, requestedModel: 'sonnet' }),
      OPENAI_START + `data: ${JSON.stringify({ error: { code: kind, type: companion, message: 'm' } })}\n\n`,
    );
    expect(lastError(sink)).toEqual({ kind: 'error', errorType: row.inBand ?? row.errorType, message: 'm' });
    expect(output).toContain(
      `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: row.anthropicType, message: 'm' } })}`,
    );
  });

  it.each(ERROR_TABLE.flatMap((row) => row.statuses.map((status) => ({ row, status }))))(
    '$status: passthrough json, both protocols',
    ({ row, status }) => {
      expect(classifyHttpError(status, { type: 'invalid_request_error' }).errorType).toBe(row.errorType);
      expect(classifyHttpError(status, { type: 'authentication_error' }).errorType).toBe(row.errorType);
    },
  );

  it.each(ERROR_TABLE.flatMap((row) => row.statuses.map((status) => ({ row, status }))))(
    '$status: conversion json',
    ({ row, status }) => {
      const answer = openaiErrorToAnthropic(status, {
        error: { type: 'invalid_request_error', code: null, message: 'm' },
      });
      expect(answer).toEqual({
        status,
        body: { type: 'error', error: { type: row.anthropicType, message: 'm' } },
      });
      expect(classifyHttpError(status).errorType).toBe(row.errorType);
    },
  );

  it('classifies by type and code a status no row names', () => {
    expect(classifyHttpError(418, { code: 'insufficient_quota' }).errorType).toBe('rate_limit');
    expect(classifyHttpError(418).errorType).toBe('upstream_http_error');
    expect(classifyHttpError(599).anthropicType).toBe('api_error');
  });
});
