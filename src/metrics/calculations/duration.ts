/** Integer average over finished requests; 0 when there are none. */
export function averageMs(totalMs: number, count: number): number {
  return count > 0 ? Math.round(totalMs / count) : 0;
}

/** Milliseconds to three decimals (whole microseconds), as every API document shows them. */
export function ms3(ms: number): number {
  return Number(ms.toFixed(3));
}

/** ISO-8601 UTC with second precision: `2026-11-23T10:15:02Z`. */
export function isoSeconds(unixSeconds: number): string {
  return new Date(Math.floor(unixSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
