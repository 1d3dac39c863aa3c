import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { closeSseEvent, type SseEvent, SseEventSplitter } from './sse-events';

const encoder = new TextEncoder();

function splitAll(chunks: Uint8Array[]): SseEvent[] {
  const sut = new SseEventSplitter();
  const events: SseEvent[] = [];
  const collect = (event: SseEvent): void => {
    events.push(event);
  };
  for (const chunk of chunks) sut.push(chunk, collect);
  sut.end(collect);
  return events;
}

function splitAt(text: string, ...positions: number[]): Uint8Array[] {
  const bytes = encoder.encode(text);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

const ANTHROPIC_STREAM =
  'event: message_start\n' +
  'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":25,"output_tokens":1}}}\n\n' +
  'event: ping\n' +
  'data: {"type": "ping"}\n\n' +
  'event: content_block_delta\n' +
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Grüß dich 👋"}}\n\n';

const EXPECTED_ANTHROPIC = [
  {
    event: 'message_start',
    data: '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":25,"output_tokens":1}}}',
  },
  { event: 'ping', data: '{"type": "ping"}' },
  {
    event: 'content_block_delta',
    data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Grüß dich 👋"}}',
  },
];

describe(SseEventSplitter.name, () => {
  it('splits a whole stream into events with their exact raw text', () => {
    const events = splitAll([encoder.encode(ANTHROPIC_STREAM)]);
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual(EXPECTED_ANTHROPIC);
    expect(events.map((e) => e.raw).join('')).toBe(ANTHROPIC_STREAM);
    expect(events[1]).toEqual({
      raw: 'event: ping\ndata: {"type": "ping"}\n\n',
      event: 'ping',
      data: '{"type": "ping"}',
      hasData: true,
      terminated: true,
    });
  });

  it('gives the same events whatever byte the stream is split at, including inside UTF-8 sequences', () => {
    const length = encoder.encode(ANTHROPIC_STREAM).length;
    for (let position = 0; position <= length; position++) {
      const events = splitAll(splitAt(ANTHROPIC_STREAM, position));
      expect(events.map(({ event, data }) => ({ event, data }))).toEqual(EXPECTED_ANTHROPIC);
      expect(events.map((e) => e.raw).join('')).toBe(ANTHROPIC_STREAM);
    }
  });

  it('survives being fed one byte at a time', () => {
    const bytes = encoder.encode(ANTHROPIC_STREAM);
    const chunks = Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
    const events = splitAll(chunks);
    expect(events.map(({ event, data }) => ({ event, data }))).toEqual(EXPECTED_ANTHROPIC);
    expect(events.map((e) => e.raw).join('')).toBe(ANTHROPIC_STREAM);
  });

  it('handles CRLF line endings at every split position, keeping the CRLF bytes in raw', () => {
    const stream =
      'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\r\n\r\n' +
      'data: [DONE]\r\n\r\n';
    for (let position = 0; position <= stream.length; position++) {
      const events = splitAll(splitAt(stream, position));
      expect(events.map((e) => e.data)).toEqual([
        '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}',
        '[DONE]',
      ]);
      expect(events.map((e) => e.raw)).toEqual([
        'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\r\n\r\n',
        'data: [DONE]\r\n\r\n',
      ]);
      expect(events.every((e) => e.terminated)).toBe(true);
    }
  });

  it('treats a lone CR as a line end', () => {
    const stream = 'event: a\rdata: 1\r\rdata: 2\r\r';
    for (let position = 0; position <= stream.length; position++) {
      const events = splitAll(splitAt(stream, position));
      expect(events.map(({ raw, event, data }) => ({ raw, event, data }))).toEqual([
        { raw: 'event: a\rdata: 1\r\r', event: 'a', data: '1' },
        { raw: 'data: 2\r\r', event: '', data: '2' },
      ]);
    }
  });

  it('hands out several events arriving in one chunk, in order', () => {
    const stream = 'data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":3}\n\n';
    const sut = new SseEventSplitter();
    const seen: string[] = [];
    sut.push(encoder.encode(stream), (e) => seen.push(e.data));
    expect(seen).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('holds an event back until its blank line arrives', () => {
    const sut = new SseEventSplitter();
    const seen: string[] = [];
    sut.push(encoder.encode('data: {"n":1}\n'), (e) => seen.push(e.data));
    expect(seen).toEqual([]);
    sut.push(encoder.encode('\n'), (e) => seen.push(e.data));
    expect(seen).toEqual(['{"n":1}']);
  });

  it('waits for the LF after a CR that ends a chunk, even when the next chunk ends in a CR again', () => {
    const sut = new SseEventSplitter();
    const seen: string[] = [];
    const collect = (e: SseEvent): void => {
      seen.push(e.raw);
    };
    sut.push(encoder.encode('data: a\r'), collect);
    sut.push(encoder.encode('\n\r'), collect);
    expect(seen).toEqual([]);
    sut.push(encoder.encode('\ndata: b\n\n'), collect);
    expect(seen).toEqual(['data: a\r\n\r\n', 'data: b\n\n']);
  });

  it('passes comments and keep-alives on as blocks without data', () => {
    const stream = ': ping\n\n: OPENROUTER PROCESSING\r\n\r\ndata: x\n: inline comment\n\n';
    const events = splitAll([encoder.encode(stream)]);
    expect(events).toEqual([
      { raw: ': ping\n\n', event: '', data: '', hasData: false, terminated: true },
      { raw: ': OPENROUTER PROCESSING\r\n\r\n', event: '', data: '', hasData: false, terminated: true },
      { raw: 'data: x\n: inline comment\n\n', event: '', data: 'x', hasData: true, terminated: true },
    ]);
  });

  it('joins multiple data lines with \\n and follows the field syntax of the spec', () => {
    const stream = 'event:custom\ndata:first\ndata:  second\ndata\nid: 7\nretry: 1000\n\n';
    const [event] = splitAll([encoder.encode(stream)]);
    expect(event).toEqual({
      raw: stream,
      event: 'custom',
      data: 'first\n second\n',
      hasData: true,
      terminated: true,
    });
  });

  it('does not mistake longer field names for data or event', () => {
    const stream = 'database: no\nevents: no\ndat: no\n\n';
    expect(splitAll([encoder.encode(stream)])).toEqual([
      { raw: stream, event: '', data: '', hasData: false, terminated: true },
    ]);
  });

  it('passes a stray blank line on as its own block', () => {
    const events = splitAll([encoder.encode('\ndata: a\n\n')]);
    expect(events.map((e) => e.raw)).toEqual(['\n', 'data: a\n\n']);
    expect(events[0].hasData).toBe(false);
  });

  it.each([
    ['no line break', 'data: [DONE]', '[DONE]'],
    ['one line break', 'data: [DONE]\n', '[DONE]'],
    ['a cut JSON payload', 'data: {"choices":[{"del', '{"choices":[{"del'],
  ])('hands out an unterminated tail at the end (%s)', (_label, tail, data) => {
    const events = splitAll([encoder.encode(`data: a\n\n${tail}`)]);
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({ raw: tail, event: '', data, hasData: true, terminated: false });
  });

  it.each([
    ['a comment', ': keep-alive', ''],
    ['an event name', 'event: ping\n', 'ping'],
  ])('hands out an unterminated tail without data as such (%s)', (_label, tail, event) => {
    const events = splitAll([encoder.encode(`data: a\n\n${tail}`)]);
    expect(events[1]).toEqual({ raw: tail, event, data: '', hasData: false, terminated: false });
  });

  it('treats a final lone CR as a line end at the end of the stream', () => {
    const events = splitAll([encoder.encode('data: a\r\r')]);
    expect(events).toEqual([{ raw: 'data: a\r\r', event: '', data: 'a', hasData: true, terminated: true }]);
  });

  it('hands out nothing at the end of a cleanly terminated stream', () => {
    const sut = new SseEventSplitter();
    const seen: SseEvent[] = [];
    sut.push(encoder.encode('data: a\n\n'), (e) => seen.push(e));
    sut.end((e) => seen.push(e));
    expect(seen).toHaveLength(1);
  });
});

describe(`${SseEventSplitter.name} event size limit`, () => {
  const MiB = 1024 * 1024;

  it('cuts an event that never ends at the limit, searching each byte once, and takes nothing after', () => {
    const sut = new SseEventSplitter({ maxEventChars: 16 * MiB });
    const piece = encoder.encode('x'.repeat(64 * 1024));
    const seen: SseEvent[] = [];
    const collect = (e: SseEvent): void => {
      seen.push(e);
    };
    const head = encoder.encode('data: {"text":"');
    sut.push(head, collect);
    let fed = head.length;
    for (let i = 0; i < 1024 && !sut.overflowed; i++) {
      sut.push(piece, collect);
      fed += piece.length;
    }
    expect(sut.overflowed).toBe(true);
    expect(fed).toBeGreaterThan(16 * MiB);
    expect(fed).toBeLessThanOrEqual(16 * MiB + piece.length);
    // Linear: each byte is searched once for \n and once for \r, never again as the event grows.
    expect(sut.charsExamined).toBeLessThanOrEqual(2 * fed + 64);
    const before = sut.charsExamined;
    sut.push(encoder.encode('\n\ndata: late\n\n'), collect);
    sut.end(collect);
    expect(sut.charsExamined).toBe(before);
    expect(seen).toEqual([]);
  });

  it('hands out events up to the limit and cuts the first one past it', () => {
    const sut = new SseEventSplitter({ maxEventChars: 20 });
    const seen: string[] = [];
    sut.push(encoder.encode('data: 0123456789ab\n\ndata: 0123456789abc\n\ndata: c\n\n'), (e) =>
      seen.push(e.raw),
    );
    expect(seen).toEqual(['data: 0123456789ab\n\n']);
    expect(sut.overflowed).toBe(true);
  });

  it('examines a stream of small events split into small chunks a bounded number of times per byte', () => {
    const event =
      'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"abc"}}\n\n';
    const bytes = encoder.encode(event.repeat(20_000));
    const sut = new SseEventSplitter({ maxEventChars: 16 * MiB });
    let count = 0;
    for (let start = 0; start < bytes.length; start += 7)
      sut.push(bytes.subarray(start, start + 7), () => count++);
    sut.end(() => count++);
    expect(count).toBe(20_000);
    expect(sut.overflowed).toBe(false);
    expect(sut.charsExamined).toBeLessThanOrEqual(5 * bytes.length);
  });
});

describe(`${SseEventSplitter.name} against eventsource-parser`, () => {
  // Deterministic PRNG so a failure is reproducible.
  function mulberry32(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function randomStream(random: () => number): string {
    const eols = ['\n', '\r\n', '\r'];
    const values = ['', 'x', '{"type":"ping"}', ' leading space', 'ünï 🙂 çödé', 'a:b:c'];
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    let text = '';
    const events = 1 + Math.floor(random() * 6);
    for (let e = 0; e < events; e++) {
      const eol = pick(eols);
      const lines = Math.floor(random() * 4);
      for (let l = 0; l < lines; l++) {
        const kind = random();
        if (kind < 0.5) text += `data:${random() < 0.8 ? ' ' : ''}${pick(values)}${eol}`;
        else if (kind < 0.7) text += `event: ${pick(['message_start', 'ping', 'x'])}${eol}`;
        else if (kind < 0.85) text += `: keep-alive${eol}`;
        else text += `id: ${l}${eol}`;
      }
      text += eol;
    }
    return text;
  }

  it('agrees on event names and data for random streams split at random places', () => {
    const random = mulberry32(20240611);
    for (let round = 0; round < 500; round++) {
      const stream = randomStream(random);
      const bytes = encoder.encode(stream);
      const cuts = [Math.floor(random() * bytes.length), Math.floor(random() * bytes.length)].sort(
        (a, b) => a - b,
      );
      const events = splitAll(splitAt(stream, ...cuts));
      const reference: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (message) => reference.push(message) });
      parser.feed(stream);
      // eventsource-parser holds a final lone \r back (it has no end-of-stream call): settle it.
      parser.feed('\n');
      expect(events.map((e) => e.raw).join('')).toBe(stream);
      expect(events.filter((e) => e.hasData).map((e) => ({ event: e.event, data: e.data }))).toEqual(
        reference.map((m) => ({ event: m.event ?? '', data: m.data })),
      );
    }
  });
});

describe(closeSseEvent.name, () => {
  it.each([
    ['data: [DONE]', 'data: [DONE]\n\n'],
    ['data: [DONE]\n', 'data: [DONE]\n\n'],
    ['event: message_stop\r\ndata: {}', 'event: message_stop\r\ndata: {}\r\n\r\n'],
    ['event: message_stop\r\ndata: {}\r\n', 'event: message_stop\r\ndata: {}\r\n\r\n'],
    ['data: x\r', 'data: x\r\r'],
  ])('%j -> %j', (raw, expected) => {
    expect(closeSseEvent(raw)).toBe(expected);
  });
});
