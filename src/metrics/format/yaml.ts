import { dump } from 'js-yaml';
import { isoSeconds } from '../calculations/duration';

/** A commented YAML report that parses with any YAML parser (contract section 3). */
export function renderYamlReport(title: string, body: object, nowUnix: number, filter?: string): string {
  const header = [`# ${title}`, `# Generated: ${isoSeconds(nowUnix)}`];
  if (filter) header.push(`# Filter: ${filter}`);
  return `${header.join('\n')}\n${dump(body, { noRefs: true, lineWidth: -1, sortKeys: false })}`;
}
