import { declaredVariables, NOT_GATEWAY_VARIABLES } from './env.dto';
import { RENAMED_VARIABLES } from './renamed-variables';

/** Prefixes the gateway owns: a variable under them it does not know is most likely misspelled. */
const OWN_PREFIXES = ['VDM_', 'PROXY_', 'REQUEST_'];
/** Longer names are not compared (they are no misspelling of a known one). */
const MAX_COMPARED = 128;

/** Edit distance (insert, delete, substitute), two rows; hand-written as no runtime dependency offers it (fast-levenshtein is a lint tool's). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * One warning line per VDM_*, PROXY_* or REQUEST_* variable the gateway does not read, naming the
 * closest variable it does read. `{NAME}_API_KEY` variables are left to the provider loader.
 */
export function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  // Old names of renamed variables are read, but never suggested.
  const known = declaredVariables();
  const ignored = new Set([...known, ...NOT_GATEWAY_VARIABLES, ...RENAMED_VARIABLES.map((r) => r.old)]);
  return Object.keys(env)
    .filter((name) => OWN_PREFIXES.some((p) => name.startsWith(p)) && !ignored.has(name) && !name.endsWith('_API_KEY'))
    .sort()
    .map((name) => {
      const compared = name.slice(0, MAX_COMPARED);
      let closest = known[0];
      let best = Infinity;
      for (const candidate of known) {
        const d = editDistance(compared, candidate);
        if (d < best) [best, closest] = [d, candidate];
      }
      return `Unknown variable ${name} is ignored; did you mean ${closest}?`;
    });
}
