import { describe, expect, it } from 'vitest';
import { JsonCompleteness } from './json-completeness';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Feeds `text` in pieces cut at `cuts` and reports completeness after every piece. */
function completenessAfterEachPiece(text: string, cuts: number[]): { prefix: string; complete: boolean }[] {
  const sut = new JsonCompleteness();
  const seen: { prefix: string; complete: boolean }[] = [];
  let start = 0;
  for (const end of [...cuts, text.length]) {
    sut.feed(text.slice(start, end));
    start = end;
    seen.push({ prefix: text.slice(0, end), complete: sut.complete });
  }
  return seen;
}

const SAMPLES = [
  '{"city":"Paris"}',
  ' {"a":[1,2,{"b":null}],"c":"x\\"}y","d":"\\\\"} \n',
  '[]',
  '{}',
  '"a string with \\" and ] and }"',
  '-12.5e+3',
  '0',
  '01',
  '1.',
  '1e',
  '-',
  'true',
  'truex',
  'false ',
  'nul',
  'null  x',
  '{"a":1}}',
  '{"a":1]',
  '{"a" 1}',
  '[1,]',
  '"\u0001"',
  '{"a":1} {"b":2}',
  '  ',
  '\u00a0{}',
  'x',
  '{"k":"Grüß 👋"}',
];

describe(JsonCompleteness.name, () => {
  it.each(SAMPLES)('agrees with JSON.parse on every prefix of %j fed one character at a time', (sample) => {
    const cuts = Array.from({ length: sample.length }, (_v, i) => i);
    for (const { prefix, complete } of completenessAfterEachPiece(sample, cuts)) {
      expect({ prefix, complete }).toEqual({ prefix, complete: parses(prefix) });
    }
  });

  it('agrees with JSON.parse for random documents cut at random places', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const atoms = ['1', '-0.5', '2e9', 'true', 'false', 'null', '"s"', '"\\"q\\""', '"[{"', '""'];
    const value = (depth: number): string => {
      const r = random();
      if (depth > 3 || r < 0.4) return atoms[Math.floor(random() * atoms.length)];
      const n = Math.floor(random() * 4);
      const items = Array.from({ length: n }, () => value(depth + 1));
      return r < 0.7 ? `[${items.join(',')}]` : `{${items.map((v, i) => `"k${i}": ${v}`).join(', ')}}`;
    };
    for (let round = 0; round < 300; round++) {
      let text = value(0);
      // Now and then a broken one: a character dropped or added.
      if (random() < 0.3) {
        const at = Math.floor(random() * text.length);
        text =
          random() < 0.5 ? text.slice(0, at) + text.slice(at + 1) : `${text.slice(0, at)}}${text.slice(at)}`;
      }
      const cuts = [Math.floor(random() * text.length), Math.floor(random() * text.length)].sort(
        (a, b) => a - b,
      );
      for (const { prefix, complete } of completenessAfterEachPiece(text, cuts)) {
        expect({ prefix, complete }).toEqual({ prefix, complete: parses(prefix) });
      }
    }
  });

  it('looks at each character a bounded number of times, however many pieces it comes in', () => {
    const sut = new JsonCompleteness();
    const pieces = ['{"a":"', ...Array.from({ length: 50_000 }, () => 'x\\"'), '","b":[1,2,3]}', ' '];
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
    let completeBeforeTheEnd = 0;
    for (const piece of pieces.slice(0, -2)) {
      sut.feed(piece);
      if (sut.complete) completeBeforeTheEnd++;
    }
    expect(completeBeforeTheEnd).toBe(0);
    sut.feed(pieces.at(-2)!);
    sut.feed(pieces.at(-1)!);
    expect(sut.complete).toBe(true);
    // Each character is scanned once, and the value parsed once when it closes.
    expect(sut.charsExamined).toBeLessThanOrEqual(2 * length);
  });
});
