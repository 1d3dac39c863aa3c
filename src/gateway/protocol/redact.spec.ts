import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact';

describe(redactSecrets.name, () => {
  it.each([
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig', 'Authorization: Bearer [REDACTED]'],
    ['authorization=Basic dXNlcjpwYXNz', 'authorization=[REDACTED]'],
    ['Authorization: sk-plainkey', 'Authorization: [REDACTED]'],
    ['x-api-key: sk-ant-api03-AbCdEf123456-xyz', 'x-api-key: [REDACTED]'],
    ['X-Api-Key:abcdef', 'X-Api-Key:[REDACTED]'],
    ['https://host/v1?api_key=abc123&x=1', 'https://host/v1?api_key=[REDACTED]&x=1'],
    ['{"apiKey": "secret-value"}', '{"apiKey": "[REDACTED]"}'],
    ['Incorrect API key provided: sk-proj-abcdefghij12345', 'Incorrect API key provided: [REDACTED]'],
    ['key sk-ant-api03-abcdefgh and sk-or-v1-0123456789abcdef', 'key [REDACTED] and [REDACTED]'],
    ['google key AIzaSyA1234567890abcdefghijklmnopqrstu', 'google key [REDACTED]'],
    ['connect ECONNREFUSED 127.0.0.1:443', 'connect ECONNREFUSED 127.0.0.1:443'],
    ['task-list is fine, sk-short too', 'task-list is fine, sk-short too'],
  ])('%j -> %j', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });
});
