import { isRecord } from '../../core/json';
import { redactSecrets } from '../../core/redact';

const MAX_CAUSE_DEPTH = 5;

const MAX_DESCRIPTION = 500;

/** A short, log-safe description: code or name and message of the error and its causes, secrets masked. */
export function describeNetworkError(err: unknown): string {
  if (typeof err === 'string') return clip(redactSecrets(err));
  if (!isRecord(err))
    return err === undefined || err === null ? 'unknown error' : `non-error value (${typeof err})`;
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && isRecord(current); depth++) {
    const part = describeOne(current);
    if (part && parts[parts.length - 1] !== part) parts.push(part);
    current = current.cause;
  }
  return clip(redactSecrets(parts.length > 0 ? parts.join('; cause: ') : 'unknown error'));
}

function describeOne(err: Record<string, unknown>): string {
  const label =
    typeof err.code === 'string' && err.code ? err.code : typeof err.name === 'string' ? err.name : '';
  const message = typeof err.message === 'string' ? err.message : '';
  if (label && message) return `${label}: ${message}`;
  return label || message;
}

function clip(text: string): string {
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 1)}…` : text;
}
