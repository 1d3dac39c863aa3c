/** One Server-Sent Events block, as received. */
export interface SseEvent {
  /** The text exactly as received, including the terminating blank line (absent only on an unterminated tail). */
  raw: string;
  /** The `event:` field, '' when absent. */
  event: string;
  /** The `data:` lines joined with '\n', '' when none. */
  data: string;
  /** Whether the block had any data line (comments, keep-alives and stray blank lines have none). */
  hasData: boolean;
  /** False only for the tail handed out by `end()`: the stream stopped before its blank line. */
  terminated: boolean;
}

export type SseEventHandler = (event: SseEvent) => void;

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;

/**
 * Incremental SSE splitter: feed it byte chunks in any split, it hands out each complete block once its
 * blank line has arrived. Lines end with \n, \r\n or a lone \r, as the SSE spec allows.
 */
export class SseEventSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private buf = '';
  /** Start of the line being parsed. */
  private lineStart = 0;
  /** Where to resume looking for a line end (the current line is known to have none before it). */
  private scanPos = 0;
  private eventName = '';
  private data = '';
  private hasData = false;

  push(chunk: Uint8Array, onEvent: SseEventHandler): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (text.length === 0) return;
    this.buf = this.buf.length === 0 ? text : this.buf + text;
    this.scan(onEvent, false);
  }

  /** Characters held for an event that has not ended yet. */
  get pending(): number {
    return this.buf.length;
  }

  /** Drops the event being collected (it grew past what a relay will hold). */
  discardPending(): void {
    this.reset();
  }

  /** The stream ended: hands out what is left, an unterminated tail last (with `terminated: false`). */
  end(onEvent: SseEventHandler): void {
    const text = this.decoder.decode();
    if (text.length > 0) this.buf += text;
    this.scan(onEvent, true);
    const buf = this.buf;
    if (buf.length > 0) {
      if (this.lineStart < buf.length) this.field(buf, this.lineStart, buf.length);
      onEvent({ raw: buf, event: this.eventName, data: this.data, hasData: this.hasData, terminated: false });
    }
    this.reset();
  }

  private scan(onEvent: SseEventHandler, final: boolean): void {
    const buf = this.buf;
    const len = buf.length;
    let lineStart = this.lineStart;
    let i = this.scanPos;
    // The current event always starts at 0: the buffer is trimmed after each emitted event.
    let eventStart = 0;
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c !== LF && c !== CR) {
        i++;
        continue;
      }
      let next = i + 1;
      if (c === CR) {
        // A \r at the end may be the first half of \r\n: wait for the next chunk.
        if (next === len && !final) break;
        if (next < len && buf.charCodeAt(next) === LF) next++;
      }
      if (i === lineStart) {
        onEvent({
          raw: buf.slice(eventStart, next),
          event: this.eventName,
          data: this.data,
          hasData: this.hasData,
          terminated: true,
        });
        this.eventName = '';
        this.data = '';
        this.hasData = false;
        eventStart = next;
      } else {
        this.field(buf, lineStart, i);
      }
      lineStart = next;
      i = next;
    }
    if (eventStart > 0) {
      this.buf = eventStart === len ? '' : buf.slice(eventStart);
      lineStart -= eventStart;
      i -= eventStart;
    }
    this.lineStart = lineStart;
    this.scanPos = i;
  }

  private field(buf: string, start: number, end: number): void {
    if (buf.charCodeAt(start) === COLON) return;
    let colon = buf.indexOf(':', start);
    if (colon === -1 || colon >= end) colon = end;
    const nameLength = colon - start;
    let valueStart = colon + 1;
    if (valueStart < end && buf.charCodeAt(valueStart) === SPACE) valueStart++;
    if (nameLength === 4 && buf.startsWith('data', start)) {
      const value = valueStart < end ? buf.slice(valueStart, end) : '';
      this.data = this.hasData ? `${this.data}\n${value}` : value;
      this.hasData = true;
    } else if (nameLength === 5 && buf.startsWith('event', start)) {
      this.eventName = valueStart < end ? buf.slice(valueStart, end) : '';
    }
  }

  private reset(): void {
    this.buf = '';
    this.lineStart = 0;
    this.scanPos = 0;
    this.eventName = '';
    this.data = '';
    this.hasData = false;
  }
}

/** Completes an unterminated tail with the line break(s) a client's parser needs to dispatch it. */
export function closeSseEvent(raw: string): string {
  const eol = sseLineBreak(raw);
  const last = raw.charCodeAt(raw.length - 1);
  if (last === LF) return raw + eol;
  if (last === CR) return `${raw}\r`;
  return raw + eol + eol;
}

/** The line break style of an event's raw text, for events that must be re-serialized. */
export function sseLineBreak(raw: string): string {
  return raw.includes('\r\n') ? '\r\n' : '\n';
}
