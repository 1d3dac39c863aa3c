import { foldUsage, type UsagePatch } from '../../core/usage';
import type { RequestRecord } from '../model/request-record';

/**
 * Each usage field takes the latest non-zero value reported: an Anthropic `message_delta` that
 * carries `input_tokens: 0` or omits cache fields must not wipe what `message_start` said. The
 * service tier takes the latest one reported. Returns whether anything changed.
 */
export function mergeUsage(record: RequestRecord, patch: UsagePatch): boolean {
  return foldUsage(record, patch);
}
