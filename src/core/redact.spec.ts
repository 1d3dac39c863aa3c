import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, REDACTED, Redactor, redactSecrets } from './redact';

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
    ['GET /v1/x?token=abc&access_token=def&sig=1', 'GET /v1/x?token=[REDACTED]&access_token=[REDACTED]&sig=1'],
    ['client_secret=abc; password: hunter22', 'client_secret=[REDACTED]; password: [REDACTED]'],
    ['at http://vdm:pa55word@10.0.0.1:8080/v1 and https://tok3n@host/', 'at http://[REDACTED]@10.0.0.1:8080/v1 and https://[REDACTED]@host/'],
    ['cookie: session=abc', 'cookie: [REDACTED]'],
    ['max_tokens: 100, output_tokens=5, "client_key":"sha256:1a2b3c4d"', 'max_tokens: 100, output_tokens=5, "client_key":"sha256:1a2b3c4d"'],
  ])('%j -> %j', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it.each([
    'key="abc\\"def" and x-api-key: \'q\'',
    'Authorization: Bearer abc\\ndef',
    'see http://u:p\\"w@host and ?api_key=a"b',
    '{"apiKey": "secret-value", "nested": "{\\"api_key\\": \\"x\\"}"}',
  ])('keeps a JSON-encoded %j valid JSON (it runs on whole log lines)', (text) => {
    const line = JSON.stringify({ msg: text, obj: { text } });
    expect(() => JSON.parse(redactSecrets(line)) as unknown).not.toThrow();
  });

  it('is idempotent', () => {
    const once = redactSecrets('x-api-key: abc, Bearer def, http://u:p@h, ?token=t');
    expect(redactSecrets(once)).toBe(once);
  });
});

describe(Redactor.name, () => {
  const LONG = 'provider-key-0123456789';
  const LONGER = `${LONG}-with-suffix`;

  it('masks every configured secret by value, wherever it appears', () => {
    const sut = new Redactor(['gateway-key-abcdefgh', LONG]);
    expect(sut.redact(`no account for ${LONG}; gateway-key-abcdefgh.${LONG}`)).toBe(`no account for ${REDACTED}; ${REDACTED}.${REDACTED}`);
  });

  it('masks the longest secret first, so a secret that contains another goes whole', () => {
    const sut = new Redactor([LONG, LONGER]);
    expect(sut.redact(`got ${LONGER}`)).toBe(`got ${REDACTED}`);
  });

  it(`leaves secrets shorter than ${MIN_SECRET_LENGTH} characters alone: masking "unused" everywhere would mangle text`, () => {
    const sut = new Redactor(['unused', '', 'abc']);
    expect(sut.redact('an unused abc key field')).toBe('an unused abc key field');
  });

  it('takes regular-expression characters literally', () => {
    const sut = new Redactor(['a.b*c+d?(e)|[f]{g}^$\\h']);
    expect(sut.redact('x a.b*c+d?(e)|[f]{g}^$\\h y aXbbbc')).toBe(`x ${REDACTED} y aXbbbc`);
  });

  it('masks a secret in its JSON-escaped form too, keeping the JSON valid', () => {
    const secret = 'pa"ss\\word-0123';
    const sut = new Redactor([secret]);
    const line = JSON.stringify({ msg: `key ${secret}` });
    expect(JSON.parse(sut.redact(line))).toEqual({ msg: `key ${REDACTED}` });
  });

  it('applies the pattern rules as well, by value first (a secret with a comma still goes whole)', () => {
    const sut = new Redactor(['abc,defghijk']);
    expect(sut.redact('api_key=abc,defghijk and Bearer xyz')).toBe(`api_key=${REDACTED} and Bearer ${REDACTED}`);
  });

  it('masks a per-request secret (the key a client presented) only where it is given', () => {
    const sut = new Redactor([LONG]);
    const forRequest = sut.forRequest('client-key-98765432');
    expect(forRequest(`client-key-98765432 and ${LONG}`)).toBe(`${REDACTED} and ${REDACTED}`);
    expect(sut.redact('client-key-98765432')).toBe('client-key-98765432');
    expect(sut.forRequest('short')('short')).toBe('short');
    expect(sut.forRequest(undefined)(LONG)).toBe(REDACTED);
  });

  it('with no secrets applies the pattern rules only', () => {
    expect(new Redactor([]).redact('x-api-key: abc plain')).toBe(`x-api-key: ${REDACTED} plain`);
  });
});
