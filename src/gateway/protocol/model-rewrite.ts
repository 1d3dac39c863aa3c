/**
 * Replaces the first JSON member `"model": "<from>"` in an event's raw text with `to`, keeping the bytes
 * around it; returns undefined when the text does not spell it that way (then re-serialize instead).
 */
export function createModelRewriter(from: string, to: string): (raw: string) => string | undefined {
  const pattern = new RegExp(`("model"\\s*:\\s*)${escapeRegExp(JSON.stringify(from))}`);
  const replacement = JSON.stringify(to);
  return (raw) => {
    let found = false;
    const result = raw.replace(pattern, (_match, prefix: string) => {
      found = true;
      return prefix + replacement;
    });
    return found ? result : undefined;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
