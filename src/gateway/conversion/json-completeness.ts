const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const E_LOWER = 101;
const E_UPPER = 69;

const LITERALS: Record<string, string> = { t: 'true', f: 'false', n: 'null' };

type Phase =
  /** Only whitespace so far. */
  | 'before'
  /** Inside an object or array (`depth` deep), or a top-level string. */
  | 'nested'
  | 'number'
  | 'literal'
  /** The value has ended and is valid: only whitespace may follow. */
  | 'after'
  /** No continuation can make the text valid JSON. */
  | 'dead';

/** Number grammar of RFC 8259 section 6, one state per position; the accepting ones can end a number. */
type NumberState = 'minus' | 'zero' | 'int' | 'dot' | 'frac' | 'exp-mark' | 'exp-sign' | 'exp';
const ACCEPTING: ReadonlySet<NumberState> = new Set<NumberState>(['zero', 'int', 'frac', 'exp']);

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/**
 * Tells whether text fed in pieces is, so far, one complete JSON document (what `JSON.parse` would
 * accept), looking at each new character once. Brackets and strings are tracked as they come; when
 * the outermost value closes, the text is parsed once to validate it, and after that only whitespace
 * keeps it complete. So a stream of deltas costs work linear in its length, not a parse per delta.
 */
export class JsonCompleteness {
  private phase: Phase = 'before';
  /** The text of a container or string value, kept only until it closes and is validated. */
  private parts: string[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private numberState: NumberState = 'int';
  private literal = '';
  private literalAt = 0;
  private examined = 0;

  /** The text fed so far is one whole JSON value (with optional surrounding whitespace). */
  get complete(): boolean {
    switch (this.phase) {
      case 'after':
        return true;
      case 'number':
        return ACCEPTING.has(this.numberState);
      case 'literal':
        return this.literalAt === this.literal.length;
      case 'before':
      case 'nested':
      case 'dead':
        return false;
    }
  }

  /** Characters looked at or parsed so far, a measure of the work done. */
  get charsExamined(): number {
    return this.examined;
  }

  feed(text: string): void {
    const len = text.length;
    let i = 0;
    while (i < len && this.phase !== 'dead') {
      if (this.phase === 'nested') {
        i = this.nested(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (this.phase === 'before' && (c === OPEN_BRACE || c === OPEN_BRACKET || c === QUOTE)) {
        // The container or string is scanned, opener included, by nested().
        this.phase = 'nested';
        continue;
      }
      this.examined++;
      i++;
      switch (this.phase) {
        case 'before':
          if (!isJsonSpace(c)) this.startScalar(c);
          break;
        case 'number':
          this.number(c);
          break;
        case 'literal':
          if (this.literalAt < this.literal.length && c === this.literal.charCodeAt(this.literalAt))
            this.literalAt++;
          else this.endScalar(this.literalAt === this.literal.length, c);
          break;
        case 'after':
          if (!isJsonSpace(c)) this.phase = 'dead';
          break;
      }
    }
  }

  private startScalar(c: number): void {
    if (c === MINUS || isDigit(c)) {
      this.phase = 'number';
      this.numberState = c === MINUS ? 'minus' : c === ZERO ? 'zero' : 'int';
      return;
    }
    const literal = LITERALS[String.fromCharCode(c)];
    if (literal === undefined) {
      this.phase = 'dead';
      return;
    }
    this.phase = 'literal';
    this.literal = literal;
    this.literalAt = 1;
  }

  /** A character that does not continue the number or literal: whitespace after a whole one ends it. */
  private endScalar(whole: boolean, c: number): void {
    this.phase = whole && isJsonSpace(c) ? 'after' : 'dead';
  }

  /** Scans a container or string from `from`; returns where it stopped (the end, or just past the close). */
  private nested(text: string, from: number): number {
    const len = text.length;
    let i = from;
    let closed = false;
    while (i < len) {
      const c = text.charCodeAt(i++);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.depth === 0) {
            closed = true;
            break;
          }
        }
      } else if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --this.depth === 0) {
        closed = true;
        break;
      }
    }
    this.examined += i - from;
    if (i > from) this.parts.push(text.slice(from, i));
    if (closed) this.validate();
    return i;
  }

  /** The outermost value closed: it is valid now, or no continuation can make it so. */
  private validate(): void {
    const value = this.parts.join('');
    this.parts = [];
    this.examined += value.length;
    try {
      JSON.parse(value);
      this.phase = 'after';
    } catch {
      this.phase = 'dead';
    }
  }

  private number(c: number): void {
    const next = nextNumberState(this.numberState, c);
    if (next === undefined) this.endScalar(ACCEPTING.has(this.numberState), c);
    else this.numberState = next;
  }
}

function nextNumberState(state: NumberState, c: number): NumberState | undefined {
  const digit = isDigit(c);
  const exponent = c === E_LOWER || c === E_UPPER;
  switch (state) {
    case 'minus':
      return c === ZERO ? 'zero' : digit ? 'int' : undefined;
    case 'zero':
      return c === DOT ? 'dot' : exponent ? 'exp-mark' : undefined;
    case 'int':
      return digit ? 'int' : c === DOT ? 'dot' : exponent ? 'exp-mark' : undefined;
    case 'dot':
      return digit ? 'frac' : undefined;
    case 'frac':
      return digit ? 'frac' : exponent ? 'exp-mark' : undefined;
    case 'exp-mark':
      return c === PLUS || c === MINUS ? 'exp-sign' : digit ? 'exp' : undefined;
    case 'exp-sign':
    case 'exp':
      return digit ? 'exp' : undefined;
  }
}
