import { Injectable } from '@nestjs/common';

/** Why a request was refused before it became usage (contract section 10). */
export type RejectionReason = 'missing_key' | 'invalid_key';

/** Requests refused for their credentials: not usage, so counted here and nowhere else. */
@Injectable()
export class RejectionCounter {
  private readonly counts = new Map<RejectionReason, number>();

  count(reason: RejectionReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  entries(): [RejectionReason, number][] {
    return [...this.counts];
  }
}
