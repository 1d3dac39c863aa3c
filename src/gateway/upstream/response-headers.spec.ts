import { describe, expect, it } from 'vitest';
import { forwardedHeaders } from './response-headers';

describe(forwardedHeaders.name, () => {
  it('keeps retry and rate-limit headers and drops framing, hop-by-hop and cookie headers', () => {
    const sut = forwardedHeaders({
      'retry-after': '3',
      'x-ratelimit-remaining-tokens': '0',
      'anthropic-ratelimit-input-tokens-reset': '2030-01-01T00:00:00Z',
      'content-length': '12',
      'content-encoding': 'gzip',
      'transfer-encoding': 'chunked',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'set-cookie': ['a=1', 'b=2'],
      'openai-organization': 'org-internal',
      server: 'envoy',
    });
    expect(sut).toEqual({ 'retry-after': '3', 'x-ratelimit-remaining-tokens': '0', 'anthropic-ratelimit-input-tokens-reset': '2030-01-01T00:00:00Z' });
  });

  it('renames the upstream request id, preferring request-id, so x-request-id stays the gateway\'s', () => {
    expect(forwardedHeaders({ 'x-request-id': 'req_openai' })).toEqual({ 'upstream-request-id': 'req_openai' });
    expect(forwardedHeaders({ 'request-id': 'req_011a', 'x-request-id': 'req_b' })).toEqual({ 'upstream-request-id': 'req_011a' });
  });

  it('joins repeated values and drops values Node would refuse to send', () => {
    expect(forwardedHeaders({ 'x-ratelimit-limit': ['1', '2'], 'retry-after': 'a\u0000b', 'retry-after-ms': 'x'.repeat(2000) })).toEqual({ 'x-ratelimit-limit': '1, 2' });
  });
});
