const MEMBER = '"model"';
const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Replaces the first JSON member `"model": "<from>"` in an event's raw text with `to`, keeping the bytes
 * around it; returns undefined when the text does not spell it that way (then re-serialize instead).
 * A scan with indexOf rather than a RegExp built from the client's model name: no pattern is compiled
 * per request and the work is linear in the event's text times the (bounded) name.
 */
export function createModelRewriter(from: string, to: string): (raw: string) => string | undefined {
  const value = JSON.stringify(from);
  const replacement = JSON.stringify(to);
  return (raw) => {
    for (let at = raw.indexOf(MEMBER); at !== -1; at = raw.indexOf(MEMBER, at + 1)) {
      let i = at + MEMBER.length;
      while (i < raw.length && isJsonSpace(raw.charCodeAt(i))) i++;
      if (raw.charCodeAt(i) !== 0x3a /* : */) continue;
      i++;
      while (i < raw.length && isJsonSpace(raw.charCodeAt(i))) i++;
      if (raw.startsWith(value, i)) return raw.slice(0, i) + replacement + raw.slice(i + value.length);
    }
    return undefined;
  };
}
