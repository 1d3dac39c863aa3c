/** What a deadline ends when it passes: the request's lifetime. */
export interface Timeoutable {
  timeOut(): void;
}

/**
 * The gateway's own limit on one upstream exchange: it times the request's lifetime out unless it is
 * met first. Met once, whichever way the exchange ends; meeting it again does nothing.
 */
export class Deadline {
  private timer: NodeJS.Timeout | undefined;

  constructor(lifetime: Timeoutable, readonly limitMs: number) {
    this.timer = setTimeout(() => lifetime.timeOut(), limitMs);
  }

  met(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
