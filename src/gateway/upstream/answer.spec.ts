import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { judge } from './answer';

function response(statusCode: number, headers: Record<string, string> = {}): Dispatcher.ResponseData {
  return { statusCode, headers, body: Readable.from([]) } as unknown as Dispatcher.ResponseData;
}

function refusalCode(format: 'anthropic' | 'openai', answer: Dispatcher.ResponseData, stream: boolean): unknown {
  const verdict = judge(format, answer, stream);
  return verdict.kind === 'refused' ? { code: verdict.refusal.code, status: verdict.refusal.status, body: JSON.parse(verdict.refusal.body) as unknown } : verdict.kind;
}

describe(judge.name, () => {
  it('refuses a redirect with its code, a 502 and the message alone in the client body', () => {
    expect(refusalCode('anthropic', response(307, { location: 'https://elsewhere.example/x?key=secret' }), false)).toEqual({
      code: 'VDM_UPSTREAM_REDIRECT',
      status: 502,
      body: { type: 'error', error: { type: 'api_error', message: 'The upstream answered 307, a redirect the gateway does not follow' } },
    });
  });

  it('refuses a success it cannot read with its code', () => {
    expect(refusalCode('openai', response(200, { 'content-encoding': 'gzip' }), false)).toMatchObject({ code: 'VDM_UPSTREAM_UNREADABLE', status: 502 });
    expect(refusalCode('openai', response(204), false)).toMatchObject({ code: 'VDM_UPSTREAM_UNREADABLE', status: 502 });
    expect(refusalCode('openai', response(200, { 'content-type': 'text/html' }), true)).toMatchObject({ code: 'VDM_UPSTREAM_UNREADABLE', status: 502 });
  });

  it('sorts what it does not refuse by status, stream and content type', () => {
    expect(refusalCode('openai', response(429), false)).toBe('failed');
    expect(refusalCode('openai', response(200, { 'content-type': 'application/json' }), false)).toBe('json');
    expect(refusalCode('openai', response(200, { 'content-type': 'application/json' }), true)).toBe('json-error');
    expect(refusalCode('openai', response(200, { 'content-type': 'text/event-stream' }), true)).toBe('stream');
  });
});
