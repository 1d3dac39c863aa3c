import { describe, expect, it } from 'vitest';
import { SseSplitter, type SseEvent } from './sse-splitter';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function feedAll(pieces: string[]): { events: SseEvent[]; unterminated?: SseEvent } {
  const sut = new SseSplitter();
  const events = pieces.flatMap((piece) => sut.push(bytes(piece)));
  const end = sut.end();
  return { events: [...events, ...end.events], unterminated: end.unterminated };
}

describe(SseSplitter.name, () => {
  it.each([
    ['LF', 'data: a\n\ndata: b\n\n'],
    ['CRLF', 'data: a\r\n\r\ndata: b\r\n\r\n'],
    ['CR', 'data: a\r\rdata: b\r\r'],
  ])('splits %s-terminated events', (_name, text) => {
    expect(feedAll([text]).events).toEqual([
      { event: '', data: 'a' },
      { event: '', data: 'b' },
    ]);
  });

  it('waits for the LF after a CR that ends a chunk', () => {
    const sut = new SseSplitter();
    expect(sut.push(bytes('data: a\r'))).toEqual([]);
    expect(sut.push(bytes('\n\r'))).toEqual([]);
    expect(sut.push(bytes('\ndata: b\n\n'))).toEqual([
      { event: '', data: 'a' },
      { event: '', data: 'b' },
    ]);
  });

  it('joins data lines, reads event names, ignores comments, ids and fields without a colon value', () => {
    const text = ': keep-alive\n\nevent: error\nid: 7\nretry: 10\ndata:{"a":\ndata: 1}\n\ndata\n\n';
    expect(feedAll([text]).events).toEqual([
      { event: 'error', data: '{"a":\n1}' },
      { event: '', data: '' },
    ]);
  });

  it('reassembles a multi-byte character split between chunks', () => {
    const all = bytes('data: é👋\n\n');
    const sut = new SseSplitter();
    const events = [...sut.push(all.subarray(0, 8)), ...sut.push(all.subarray(8))];
    expect(events).toEqual([{ event: '', data: 'é👋' }]);
  });

  it('hands back an event cut off by the end of the stream separately', () => {
    expect(feedAll(['data: done\n\ndata: [DONE]'])).toEqual({
      events: [{ event: '', data: 'done' }],
      unterminated: { event: '', data: '[DONE]' },
    });
    expect(feedAll(['data: x\n']).unterminated).toEqual({ event: '', data: 'x' });
    expect(feedAll(['data: x\n\n']).unterminated).toBeUndefined();
  });
});
