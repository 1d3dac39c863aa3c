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

export interface SseEventSplitterOptions {
  /** The longest event (raw characters) handed out; a longer one stops the splitter (`overflowed`). */
  maxEventChars?: number;
}

/**
 * Incremental SSE splitter: feed it byte chunks in any split, it hands out each complete block once its
 * blank line has arrived. Lines end with \n, \r\n or a lone \r, as the SSE spec allows. Each chunk is
 * scanned once and an event's pieces are joined once, when it ends: the work is linear in the stream.
 */
export class SseEventSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly maxEventChars: number;
  /** The event being collected, in the pieces it arrived in. */
  private eventParts: string[] = [];
  private eventChars = 0;
  /** The line being collected (its text is also in eventParts). */
  private lineParts: string[] = [];
  /** The last chunk ended in \r, which may be the first half of \r\n: it starts the next chunk. */
  private heldCR = false;
  private eventName = '';
  private data = '';
  private hasData = false;
  private cut = false;
  private examined = 0;

  constructor(options: SseEventSplitterOptions = {}) {
    this.maxEventChars = options.maxEventChars ?? Infinity;
  }

  push(chunk: Uint8Array, onEvent: SseEventHandler): void {
    if (this.cut) return;
    this.scan(this.decoder.decode(chunk, { stream: true }), onEvent, false);
  }

  /** An event grew past `maxEventChars`: it was dropped, and the splitter takes no more input. */
  get overflowed(): boolean {
    return this.cut;
  }

  /** Characters scanned or copied so far, a measure of the work done. */
  get charsExamined(): number {
    return this.examined;
  }

  /** The stream ended: hands out what is left, an unterminated tail last (with `terminated: false`). */
  end(onEvent: SseEventHandler): void {
    if (this.cut) return;
    this.scan(this.decoder.decode(), onEvent, true);
    if (this.cut) return;
    if (this.eventChars > 0) {
      if (this.lineParts.length > 0) {
        const line = this.join(this.lineParts);
        this.field(line, 0, line.length);
      }
      const raw = this.join(this.eventParts);
      onEvent({ raw, event: this.eventName, data: this.data, hasData: this.hasData, terminated: false });
    }
    this.reset();
  }

  private scan(chunk: string, onEvent: SseEventHandler, final: boolean): void {
    let text = chunk;
    if (this.heldCR) {
      this.heldCR = false;
      text = `\r${chunk}`;
      this.examined += chunk.length;
    }
    const len = text.length;
    let eventStart = 0;
    let lineStart = 0;
    let i = 0;
    // The next \n and \r at or after i (len when none): each is searched for once per occurrence.
    let lf = -1;
    let cr = -1;
    while (i < len) {
      if (lf < i) lf = this.find(text, '\n', i);
      if (cr < i) cr = this.find(text, '\r', i);
      const eol = lf < cr ? lf : cr;
      if (eol === len) {
        i = len;
        break;
      }
      let next = eol + 1;
      if (eol === cr) {
        // A \r at the end may be the first half of \r\n: wait for the next chunk.
        if (next === len && !final) {
          i = eol;
          break;
        }
        if (next === lf) next++;
      }
      if (eol === lineStart && this.lineParts.length === 0) {
        if (this.eventChars + next - eventStart > this.maxEventChars) {
          this.overflow();
          return;
        }
        this.eventParts.push(text.slice(eventStart, next));
        const event = {
          raw: this.join(this.eventParts),
          event: this.eventName,
          data: this.data,
          hasData: this.hasData,
          terminated: true,
        };
        this.eventChars = 0;
        this.eventName = '';
        this.data = '';
        this.hasData = false;
        eventStart = next;
        onEvent(event);
      } else {
        this.line(text, lineStart, eol);
      }
      lineStart = next;
      i = next;
    }
    if (i < len) this.heldCR = true;
    if (eventStart < i) {
      this.eventParts.push(text.slice(eventStart, i));
      this.eventChars += i - eventStart;
    }
    if (lineStart < i) this.lineParts.push(text.slice(lineStart, i));
    if (this.eventChars > this.maxEventChars) this.overflow();
  }

  /** Index of `char` at or after `from`, len when none; counts the characters searched. */
  private find(text: string, char: string, from: number): number {
    const at = text.indexOf(char, from);
    if (at === -1) {
      this.examined += text.length - from;
      return text.length;
    }
    this.examined += at + 1 - from;
    return at;
  }

  /** One complete line, ending at `end` of `text`; earlier pieces of it may be held. */
  private line(text: string, start: number, end: number): void {
    if (this.lineParts.length === 0) {
      this.field(text, start, end);
      return;
    }
    if (start < end) this.lineParts.push(text.slice(start, end));
    const line = this.join(this.lineParts);
    this.lineParts = [];
    this.field(line, 0, line.length);
  }

  private field(buf: string, start: number, end: number): void {
    if (buf.charCodeAt(start) === COLON) return;
    // Only this line is searched for its colon: indexOf could run on into the lines after it.
    let colon = start;
    while (colon < end && buf.charCodeAt(colon) !== COLON) colon++;
    this.examined += colon - start;
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

  /** Joins pieces into one string once, emptying the list. */
  private join(parts: string[]): string {
    const joined = parts.length === 1 ? parts[0] : parts.join('');
    if (parts.length > 1) this.examined += joined.length;
    parts.length = 0;
    return joined;
  }

  private overflow(): void {
    this.reset();
    this.cut = true;
  }

  private reset(): void {
    this.eventParts = [];
    this.eventChars = 0;
    this.lineParts = [];
    this.heldCR = false;
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
