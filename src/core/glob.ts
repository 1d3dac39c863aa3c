/**
 * The gateway's one glob: `*` matches any run of characters, `?` exactly one character (a code
 * point), and every other character only itself, except that the ASCII letters A-Z match either
 * case. Non-ASCII letters are not folded: SQLite's lower() folds ASCII only, so this is the one
 * rule the in-memory filters, the SQLite store and the PostgreSQL store can all keep (see
 * `likePattern` for the store's twin).
 */

const STAR = -1;
const ANY = -2;

/** A-Z lower-cased, every other character unchanged (what SQLite's lower() does). */
export function foldAscii(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (run) => run.toLowerCase()) : text;
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

/**
 * A compiled glob. Matched by hand with the greedy two-pointer wildcard walk (no RegExp, which
 * backtracks exponentially on client-chosen `*a*a*a…b` patterns; the glob libraries all compile to
 * one): at most O(name × pattern) steps, and names and patterns are bounded.
 */
export class Glob {
  private readonly tokens: number[];
  /** The pattern has no `*` or `?`: it matches one name (up to ASCII case). */
  readonly literal: boolean;

  constructor(readonly pattern: string) {
    this.tokens = codePoints(foldAscii(pattern)).map((c) => (c === 42 ? STAR : c === 63 ? ANY : c));
    this.literal = !this.tokens.some((t) => t < 0);
  }

  test(name: string): boolean {
    const text = codePoints(foldAscii(name));
    const pat = this.tokens;
    let t = 0;
    let p = 0;
    // The last `*` seen and the text position it was tried against: on a mismatch, that star takes one more character.
    let star = -1;
    let mark = 0;
    while (t < text.length) {
      if (p < pat.length && (pat[p] === ANY || pat[p] === text[t])) {
        p++;
        t++;
      } else if (p < pat.length && pat[p] === STAR) {
        star = p++;
        mark = t;
      } else if (star >= 0) {
        p = star + 1;
        t = ++mark;
      } else {
        return false;
      }
    }
    while (p < pat.length && pat[p] === STAR) p++;
    return p === pat.length;
  }
}

/**
 * The same glob as a SQL LIKE pattern (escape character `\`), to be matched against the column
 * with its ASCII letters lower-cased: `*` → `%`, `?` → `_`, and a literal `%`, `_` or `\` escaped.
 */
export function likePattern(glob: string): string {
  let out = '';
  for (const ch of foldAscii(glob)) {
    if (ch === '*') out += '%';
    else if (ch === '?') out += '_';
    else if (ch === '%' || ch === '_' || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return out;
}
