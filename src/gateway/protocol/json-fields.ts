/** Narrowing helpers for JSON bodies of unknown shape. */

export { isRecord, type JsonObject } from '../../core/json';
