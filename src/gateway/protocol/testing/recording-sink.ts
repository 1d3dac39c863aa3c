import type { ErrorType } from '../../../core/error-type';
import type { UsagePatch } from '../../../core/usage';
import type { StreamRelay, StreamSink, StreamVerdict } from '../types';

export type SinkCall =
  | { kind: 'usage'; patch: UsagePatch }
  | { kind: 'firstContent' }
  | { kind: 'error'; errorType: ErrorType; message: string };

/** A StreamSink for specs that records every call in order. */
export class RecordingSink implements StreamSink {
  readonly calls: SinkCall[] = [];
  /** The characters of each content delta reported, in order (kept apart from `calls`). */
  readonly output: number[] = [];

  onUsage(patch: UsagePatch): void {
    this.calls.push({ kind: 'usage', patch });
  }

  onFirstContent(): void {
    this.calls.push({ kind: 'firstContent' });
  }

  /** The text of the content deltas reported, all of it. */
  outputText = '';

  onOutput(pieces: readonly string[]): void {
    let chars = 0;
    for (const piece of pieces) chars += piece.length;
    this.output.push(chars);
    this.outputText += pieces.join('');
  }

  onError(errorType: ErrorType, message: string): void {
    this.calls.push({ kind: 'error', errorType, message });
  }
}

export interface RelayRun {
  output: string;
  verdict: StreamVerdict;
}

const encoder = new TextEncoder();

/** Feeds text to a relay in the given chunks (split at byte positions) and collects what it writes. */
export function runRelay(relay: StreamRelay, text: string, splitPositions: readonly number[] = []): RelayRun {
  const bytes = encoder.encode(text);
  let output = '';
  let start = 0;
  for (const position of [...splitPositions, bytes.length]) {
    output += relay.push(bytes.subarray(start, position));
    start = position;
  }
  const verdict = relay.finish();
  return { output: output + verdict.trailing, verdict };
}

export function byteLength(text: string): number {
  return encoder.encode(text).length;
}
