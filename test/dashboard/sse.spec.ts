/**
 * The dashboard's text/event-stream reader (src/dashboard/public/sse.js): the parser fed in
 * arbitrary pieces, a real Response body read to its end, and the reconnect backoff.
 */
import { describe, expect, it } from 'vitest';
import { backoffDelay, createSseParser, readSse, type SseEvent } from '../../src/dashboard/public/sse.js';

function parse(chunks: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createSseParser((event) => events.push(event));
  for (const chunk of chunks) parser.feed(chunk);
  return events;
}

const STREAM = ': connected\n\nevent: update\ndata: {"a":1}\n\nevent: heartbeat\ndata: {}\r\n\r\ndata: crlf one\r\ndata: crlf two\r\n\r\ndata: line one\rdata: line two\r\rdata:no space\nid: 7\nretry: 10\n\n';
const EVENTS: SseEvent[] = [
  { event: 'update', data: '{"a":1}' },
  { event: 'heartbeat', data: '{}' },
  { event: 'message', data: 'crlf one\ncrlf two' },
  { event: 'message', data: 'line one\nline two' },
  { event: 'message', data: 'no space' },
];

describe('createSseParser', () => {
  it('reads LF, CRLF and CR line ends, joins data lines, skips comments and unknown fields', () => {
    expect(parse([STREAM])).toEqual(EVENTS);
  });

  it('gives the same events whatever the pieces the stream arrives in, a CRLF split between two included', () => {
    expect(parse([...STREAM])).toEqual(EVENTS);
    for (let cut = 1; cut < STREAM.length; cut++) expect(parse([STREAM.slice(0, cut), STREAM.slice(cut)])).toEqual(EVENTS);
  });

  it('dispatches nothing for an event without data, and does not carry its name to the next one', () => {
    expect(parse(['event: update\n\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('keeps an event that has not ended yet until its blank line comes', () => {
    const events: SseEvent[] = [];
    const parser = createSseParser((event) => events.push(event));
    parser.feed('event: update\ndata: 1\n');
    expect(events).toEqual([]);
    parser.feed('\n');
    expect(events).toEqual([{ event: 'update', data: '1' }]);
  });
});

describe('readSse', () => {
  it('reads a response body to its end, a character split between two chunks included', async () => {
    const bytes = new TextEncoder().encode('event: update\ndata: {"model":"größe-€"}\n\n');
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of "€"
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    const events: SseEvent[] = [];
    await readSse(new Response(body), (event) => events.push(event));
    expect(events).toEqual([{ event: 'update', data: '{"model":"größe-€"}' }]);
  });

  it('rejects when the connection breaks', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: 1\n\n'));
        controller.error(new TypeError('terminated'));
      },
    });
    await expect(readSse(new Response(body), () => undefined)).rejects.toThrow('terminated');
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, with ±20 % jitter', () => {
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, 1000, 15000, () => 0.5))).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    expect(backoffDelay(0, 1000, 15000, () => 0)).toBe(800);
    expect(backoffDelay(0, 1000, 15000, () => 0.999_999)).toBe(1200);
    expect(backoffDelay(3, 1000, 15000, () => 0)).toBe(6400);
  });

  it('stays at the cap however many attempts have failed', () => {
    for (const attempt of [10, 31, 1000, Number.MAX_SAFE_INTEGER]) expect(backoffDelay(attempt, 1000, 15000, () => 0.5)).toBe(15000);
  });
});
