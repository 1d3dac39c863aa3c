/** Narrowing for JSON of unknown shape (bodies, config files, errors). */

export type JsonObject = Record<string, unknown>;

/** A non-null, non-array object. */
export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
