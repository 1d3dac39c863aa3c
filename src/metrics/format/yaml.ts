import { isoSeconds } from '../calculations/duration';

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '.nan';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // A JSON string is a valid YAML double-quoted scalar, and stays a string (no timestamp guessing).
  return JSON.stringify(typeof value === 'string' ? value : JSON.stringify(value));
}

function key(name: string): string {
  return PLAIN_KEY.test(name) && name !== 'null' && name !== 'true' && name !== 'false' ? name : JSON.stringify(name);
}

function emit(value: unknown, indent: string, out: string[]): void {
  for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) {
      if (Object.keys(child).length === 0) {
        out.push(`${indent}${key(name)}: {}\n`);
      } else {
        out.push(`${indent}${key(name)}:\n`);
        emit(child, `${indent}  `, out);
      }
    } else if (Array.isArray(child)) {
      out.push(`${indent}${key(name)}: ${JSON.stringify(child)}\n`);
    } else {
      out.push(`${indent}${key(name)}: ${scalar(child)}\n`);
    }
  }
}

/**
 * Block-style YAML for the metrics documents (nested maps of numbers, strings and nulls). Written
 * here because a general emitter spends most of a large report's time deciding how to quote each
 * scalar; these documents always quote strings, which any YAML parser reads back unchanged.
 */
export function toYaml(doc: object): string {
  const out: string[] = [];
  emit(doc, '', out);
  return out.join('');
}

/** A commented YAML report that parses with any YAML parser (contract section 3). */
export function renderYamlReport(title: string, body: object, nowUnix: number, filter?: string): string {
  const header = [`# ${title}`, `# Generated: ${isoSeconds(nowUnix)}`];
  if (filter) header.push(`# Filter: ${filter}`);
  return `${header.join('\n')}\n${toYaml(body)}`;
}
