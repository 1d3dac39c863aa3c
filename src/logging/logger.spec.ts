import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../core/redact';
import { createLogging, levelEnabled, redactHeaders, type Logging } from './logger';

describe(levelEnabled.name, () => {
  it('is true for the logger level and above, false below it and for silent', () => {
    expect(levelEnabled({ level: 'info' }, 'info')).toBe(true);
    expect(levelEnabled({ level: 'info' }, 'warn')).toBe(true);
    expect(levelEnabled({ level: 'info' }, 'debug')).toBe(false);
    expect(levelEnabled({ level: 'trace' }, 'debug')).toBe(true);
    expect(levelEnabled({ level: 'warn' }, 'info')).toBe(false);
    expect(levelEnabled({ level: 'silent' }, 'fatal')).toBe(false);
  });
});

describe(createLogging.name, () => {
  const SECRET = 'configured-secret-0123';
  function capture(logLevel: 'info' | 'debug', logPretty = false): { pino: Logging['pino']; lines: () => string[] } {
    let text = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const { pino } = createLogging({ logLevel, logPretty }, destination, new Redactor([SECRET]));
    return { pino, lines: () => text.split('\n').filter((l) => l.length > 0) };
  }

  it('masks configured secrets and the pattern rules in every part of a line: message, nested objects, bindings, errors', () => {
    const sut = capture('info');
    const child = sut.pino.child({ upstream: `http://user:${SECRET}@host` });
    child.info({ nested: { deep: [`got ${SECRET}`] }, url: '/v1/x?api_key=abc&token=def' }, `message with ${SECRET}`);
    child.error({ err: new Error(`upstream said ${SECRET}`) }, 'failed');
    const lines = sut.lines();
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain(SECRET);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({
      msg: 'message with [REDACTED]',
      nested: { deep: ['got [REDACTED]'] },
      url: '/v1/x?api_key=[REDACTED]&token=[REDACTED]',
      upstream: 'http://[REDACTED]@host',
    });
    expect(second).toMatchObject({ err: { message: 'upstream said [REDACTED]' } });
  });

  it('masks pretty lines too', () => {
    const sut = capture('info', true);
    sut.pino.info(`message with ${SECRET}`);
    expect(sut.lines().join('\n')).toContain('message with [REDACTED]');
  });
});

describe(redactHeaders.name, () => {
  it('masks every header whose name says it carries a credential or an account, keeping the rest', () => {
    const sut = redactHeaders({
      authorization: 'Bearer x',
      'proxy-authorization': 'Basic y',
      'x-api-key': 'k',
      'api-key': 'azure',
      'x-goog-api-key': 'g',
      'openai-organization': 'org-1',
      'openai-project': 'proj-1',
      cookie: 'a=b',
      'x-auth-token': 't',
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'user-agent': 'sdk/1',
    });
    expect(sut).toEqual({
      authorization: '[REDACTED]',
      'proxy-authorization': '[REDACTED]',
      'x-api-key': '[REDACTED]',
      'api-key': '[REDACTED]',
      'x-goog-api-key': '[REDACTED]',
      'openai-organization': '[REDACTED]',
      'openai-project': '[REDACTED]',
      cookie: '[REDACTED]',
      'x-auth-token': '[REDACTED]',
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'user-agent': 'sdk/1',
    });
  });
});
