/**
 * Variables renamed so that each name carries its unit. The old names are still read, the same
 * value in the same unit; start-up logs one line naming each old name in use and its new name.
 */
export const RENAMED_VARIABLES: readonly { readonly old: string; readonly current: string }[] = [
  { old: 'REQUEST_TIMEOUT', current: 'REQUEST_TIMEOUT_SECONDS' },
  { old: 'LOG_SUMMARY_INTERVAL', current: 'LOG_SUMMARY_INTERVAL_REQUESTS' },
  { old: 'VDM_ACTIVE_REQUESTS_SSE_INTERVAL', current: 'VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS' },
  { old: 'VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT', current: 'VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS' },
  { old: 'DEMO_TOKEN_DELAY', current: 'DEMO_TOKEN_DELAY_SECONDS' },
];

export interface RenamedVariables {
  /** The environment with each old name's value under its current name, unless the current name is set. */
  env: Record<string, string | undefined>;
  /** Current name → the old name its value came from, to name the variable the operator wrote in errors. */
  source: Map<string, string>;
  /** One warning line when any old name is set; undefined otherwise. */
  warning?: string;
}

export function readRenamedVariables(raw: Readonly<Record<string, string | undefined>>): RenamedVariables {
  const env = { ...raw };
  const source = new Map<string, string>();
  const parts: string[] = [];
  for (const { old, current } of RENAMED_VARIABLES) {
    if (raw[old] === undefined) continue;
    if (raw[current] === undefined) {
      env[current] = raw[old];
      source.set(current, old);
      parts.push(`${old} → ${current}`);
    } else {
      parts.push(`${old} → ${current} (both are set: ${current} wins, ${old} is ignored)`);
    }
  }
  const warning = parts.length === 0 ? undefined : `Deprecated variable names, read for now; rename them: ${parts.join(', ')}`;
  return { env, source, warning };
}
