/** One dispatched Server-Sent Event (WHATWG HTML, "event stream interpretation"). */
export interface SseEvent {
  /** The `event:` field; '' when absent. */
  event: string;
  /** The `data:` lines joined by '\n'. */
  data: string;
}

/**
 * Incremental SSE parser: bytes in, complete events out. Safe across any chunk boundary
 * (including inside a UTF-8 sequence or between the CR and LF of a CRLF); accepts LF, CR and CRLF.
 * Comment lines (`: keep-alive`) and `id:`/`retry:` fields are ignored.
 */
export class SseSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  private eventName = '';
  private dataLines: string[] = [];

  push(chunk: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain(false);
  }

  /**
   * The stream ended. Returns the unterminated last event, if any: the spec drops it, so the
   * caller decides whether it is usable (it may be a cut-off fragment).
   */
  end(): { events: SseEvent[]; unterminated?: SseEvent } {
    this.buffer += this.decoder.decode();
    const events = this.drain(true);
    if (this.buffer !== '') {
      this.processLine(this.buffer, events);
      this.buffer = '';
    }
    const unterminated =
      this.dataLines.length > 0 ? { event: this.eventName, data: this.dataLines.join('\n') } : undefined;
    this.eventName = '';
    this.dataLines = [];
    return { events, unterminated };
  }

  private drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf('\n', start);
      const cr = this.buffer.indexOf('\r', start);
      let end: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) end = cr;
      else if (lf !== -1) end = lf;
      else break;
      let next = end + 1;
      if (this.buffer[end] === '\r') {
        // A CR as the last char may be the first half of a CRLF: wait for the next chunk.
        if (end === this.buffer.length - 1 && !final) break;
        if (this.buffer[end + 1] === '\n') next = end + 2;
      }
      this.processLine(this.buffer.slice(start, end), events);
      start = next;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private processLine(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.dataLines.length > 0) events.push({ event: this.eventName, data: this.dataLines.join('\n') });
      this.eventName = '';
      this.dataLines = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.dataLines.push(value);
    else if (field === 'event') this.eventName = value;
  }
}
