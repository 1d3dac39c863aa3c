/** Run-time shape checks for wire data typed `unknown` or trusted only loosely. */

/** The object (non-array) part of T; a plain record when T is unknown. */
export type ObjectPart<T> = unknown extends T ? Record<string, unknown> : Extract<T, object>;

/** A non-null, non-array object. On a typed value it keeps the declared type (discriminated unions still narrow). */
export function isObject<T>(value: T): value is T & ObjectPart<T> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isString(value: unknown): value is string {
  return typeof value === 'string';
}

export function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
