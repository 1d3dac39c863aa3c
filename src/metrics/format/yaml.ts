import { isoSeconds } from '../calculations/duration';

/** Keys that every YAML parser reads as a string when written bare: anything else is double-quoted. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** Words YAML 1.1 parsers (PyYAML, for one) read as booleans or null, in any case: `yes`, `off`, `n`, ... */
const YAML11_WORDS = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null']);

/** YAML 1.1 (PyYAML) reads `1e-7` as a string: an exponent needs a dot before it (`1.0e-7`), as 1.2 also accepts. */
function number(value: number): string {
  const text = String(value);
  return text.includes('e') && !text.includes('.') ? text.replace('e', '.0e') : text;
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? number(value) : '.nan';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // A JSON string is a valid YAML double-quoted scalar, and stays a string (no timestamp guessing).
  return JSON.stringify(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A model named `yes` must stay the string "yes" for a YAML 1.1 reader too. */
function quotedKey(name: string): string {
  return PLAIN_KEY.test(name) && !YAML11_WORDS.has(name.toLowerCase()) ? name : JSON.stringify(name);
}

const LINES_PER_CHUNK = 512;

function isEmptyMap(value: object): boolean {
  for (const _ in value) return false;
  return true;
}

/**
 * Writes one document. Field names repeat thousands of times in a large report (every section has
 * the same eighteen), so each name is checked and quoted once per document.
 */
class Emitter {
  private readonly keys = new Map<string, string>();
  private readonly indents = [''];
  /** Lines not yet joined; joined every few hundred, so a large document is a few flat strings, not a hundred thousand small ones for the GC to copy. */
  private lines: string[] = [];
  private readonly chunks: string[] = [];

  map(value: Record<string, unknown>, depth: number): void {
    const indent = this.indent(depth);
    for (const name in value) {
      const child = value[name];
      const label = this.key(name);
      if (child !== null && typeof child === 'object' && !Array.isArray(child)) {
        if (isEmptyMap(child)) {
          this.line(`${indent}${label}: {}\n`);
        } else {
          this.line(`${indent}${label}:\n`);
          this.map(child as Record<string, unknown>, depth + 1);
        }
      } else if (Array.isArray(child)) {
        this.line(`${indent}${label}: ${JSON.stringify(child)}\n`);
      } else {
        this.line(`${indent}${label}: ${scalar(child)}\n`);
      }
    }
  }

  finish(): string {
    this.chunks.push(this.lines.join(''));
    this.lines = [];
    return this.chunks.join('');
  }

  private line(text: string): void {
    if (this.lines.push(text) === LINES_PER_CHUNK) {
      this.chunks.push(this.lines.join(''));
      this.lines = [];
    }
  }

  private key(name: string): string {
    let label = this.keys.get(name);
    if (label === undefined) {
      label = quotedKey(name);
      this.keys.set(name, label);
    }
    return label;
  }

  private indent(depth: number): string {
    while (this.indents.length <= depth) this.indents.push(`${this.indents[this.indents.length - 1]}  `);
    return this.indents[depth];
  }
}

/**
 * Block-style YAML for the metrics documents (nested maps of numbers, strings and nulls). Written
 * here because a general emitter spends most of a large report's time deciding how to quote each
 * scalar; these documents always quote strings, which any YAML parser reads back unchanged.
 */
export function toYaml(doc: object): string {
  const emitter = new Emitter();
  emitter.map(doc as Record<string, unknown>, 0);
  return emitter.finish();
}

/** A commented YAML report that parses with any YAML parser (contract section 3). */
export function renderYamlReport(title: string, body: object, nowUnix: number, filter?: string): string {
  const header = [`# ${title}`, `# Generated: ${isoSeconds(nowUnix)}`];
  if (filter) header.push(`# Filter: ${filter}`);
  return `${header.join('\n')}\n${toYaml(body)}`;
}
