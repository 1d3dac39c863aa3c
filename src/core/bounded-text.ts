/**
 * Bounds for the strings clients choose that become keys, labels, rows or live rows: a model name
 * is at most 256 characters, and text that is recorded (names restored from the store, error
 * messages) is cut to its bound with control characters removed.
 */

/** The longest model name a request may give; a longer one is refused with a 400. */
export const MODEL_NAME_MAX = 256;

/** The longest error message a record keeps. */
export const ERROR_TEXT_MAX = 1_000;

/** Client names, users and sessions: at most this many characters. */
export const NAME_MAX = 128;

// C0 and C1 control characters, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** Control characters removed (globally: the caller bounds the text first). */
export function withoutControlCharacters(text: string): string {
  return text.replace(CONTROLS, '');
}

/**
 * At most `max` UTF-16 units, control characters removed, a surrogate pair never split. Only the
 * first `2 * max` units are looked at, so the work is bounded whatever the length of the text.
 */
export function boundedText(text: string, max: number): string {
  if (text.length <= max && !hasControlCharacters(text)) return text;
  let out = withoutControlCharacters(text.slice(0, 2 * max));
  if (out.length > max) {
    const end = out.charCodeAt(max - 1) >= 0xd800 && out.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
    out = out.slice(0, end);
  }
  return out;
}

/** Why a model name is refused, or undefined when it is fine. */
export function modelNameProblem(model: string): string | undefined {
  if (model.length > MODEL_NAME_MAX) return `model: must be at most ${MODEL_NAME_MAX} characters`;
  if (hasControlCharacters(model)) return 'model: must not contain control characters';
  return undefined;
}
