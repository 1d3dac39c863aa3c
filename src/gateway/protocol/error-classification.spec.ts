import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { networkCause } from '../../core/error-table';
import { describeNetworkError } from './error-classification';

const errorTypeForNetworkError = (err: unknown): string => networkCause(err).errorType;

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe(networkCause.name, () => {
  it.each([
    ['HeadersTimeoutError', new errors.HeadersTimeoutError(), 'upstream_timeout'],
    ['BodyTimeoutError', new errors.BodyTimeoutError(), 'upstream_timeout'],
    ['ConnectTimeoutError', new errors.ConnectTimeoutError(), 'upstream_timeout'],
    ['SocketError', new errors.SocketError('other side closed'), 'upstream_error'],
    ['ClientClosedError', new errors.ClientClosedError(), 'upstream_error'],
    ['RequestAbortedError', new errors.RequestAbortedError(), 'client_disconnect'],
    ['ECONNREFUSED', withCode('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'), 'upstream_error'],
    ['ECONNRESET', withCode('read ECONNRESET', 'ECONNRESET'), 'upstream_error'],
    ['EPIPE', withCode('write EPIPE', 'EPIPE'), 'upstream_error'],
    ['ENOTFOUND', withCode('getaddrinfo ENOTFOUND api.example', 'ENOTFOUND'), 'upstream_error'],
    ['EAI_AGAIN', withCode('getaddrinfo EAI_AGAIN api.example', 'EAI_AGAIN'), 'upstream_error'],
    ['ETIMEDOUT', withCode('connect ETIMEDOUT', 'ETIMEDOUT'), 'upstream_timeout'],
    [
      'DOMException AbortError',
      new DOMException('This operation was aborted', 'AbortError'),
      'client_disconnect',
    ],
    [
      'DOMException TimeoutError',
      new DOMException('The operation timed out', 'TimeoutError'),
      'upstream_timeout',
    ],
    ['plain Error', new Error('boom'), 'unexpected_error'],
    ['TypeError', new TypeError('x is not a function'), 'unexpected_error'],
    ['string', 'boom', 'unexpected_error'],
    ['undefined', undefined, 'unexpected_error'],
    ['null', null, 'unexpected_error'],
  ])('%s -> %s', (_label, err, expected) => {
    expect(errorTypeForNetworkError(err)).toBe(expected);
  });

  it('looks through fetch failed to its cause', () => {
    const err = new TypeError('fetch failed', {
      cause: withCode('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'),
    });
    expect(errorTypeForNetworkError(err)).toBe('upstream_error');
    const timeout = new TypeError('fetch failed', { cause: new errors.ConnectTimeoutError() });
    expect(errorTypeForNetworkError(timeout)).toBe('upstream_timeout');
  });

  it('looks into AggregateError from happy-eyeballs connects', () => {
    const err = new AggregateError(
      [withCode('connect ECONNREFUSED ::1:9', 'ECONNREFUSED')],
      'connect failed',
    );
    expect(errorTypeForNetworkError(err)).toBe('upstream_error');
  });

  it('survives a cause cycle', () => {
    const err = new Error('a') as Error & { cause?: unknown };
    err.cause = err;
    expect(errorTypeForNetworkError(err)).toBe('unexpected_error');
  });
});

describe(describeNetworkError.name, () => {
  it('gives code and message, with causes', () => {
    const err = new TypeError('fetch failed', {
      cause: withCode('connect ECONNREFUSED 127.0.0.1:9', 'ECONNREFUSED'),
    });
    expect(describeNetworkError(err)).toBe(
      'TypeError: fetch failed; cause: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9',
    );
  });

  it('uses the undici code', () => {
    expect(describeNetworkError(new errors.HeadersTimeoutError())).toBe(
      'UND_ERR_HEADERS_TIMEOUT: Headers Timeout Error',
    );
  });

  it('masks secrets in messages', () => {
    const err = new Error('request failed with Authorization: Bearer sk-ant-api03-secretsecretsecret');
    expect(describeNetworkError(err)).toBe('Error: request failed with Authorization: Bearer [REDACTED]');
  });

  it('never reads headers or other properties of the error', () => {
    const err = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
      headers: { authorization: 'Bearer topsecret-token-123' },
      config: { apiKey: 'sk-1234567890abcdef' },
    });
    const text = describeNetworkError(err);
    expect(text).toBe('ECONNRESET: socket hang up');
  });

  it.each([
    ['a string', 'boom with key=abc123', 'boom with key=[REDACTED]'],
    ['undefined', undefined, 'unknown error'],
    ['a number', 42, 'non-error value (number)'],
    ['an empty object', {}, 'unknown error'],
  ])('describes %s', (_label, err, expected) => {
    expect(describeNetworkError(err)).toBe(expected);
  });

  it('clips long messages', () => {
    expect(describeNetworkError(new Error('x'.repeat(2000)))).toHaveLength(500);
  });
});
