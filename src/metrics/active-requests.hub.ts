import { HttpException, HttpStatus, Inject, Injectable, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
import { audit, auditTime, concat, defer, filter, finalize, map, merge, of, share, skip, Subject, takeUntil, timer, type Observable } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DisabledException, METRICS_DISABLED, SSE_DISABLED } from '../core/disabled';
import { CLOCK, TrackerService, type Clock } from './tracker.service';

/** Changes to the active set within this window coalesce into one update (contract section 5). */
export const COALESCE_MS = 5;
/**
 * With many clients the window widens (0.1 ms per client, at most 1 s), so one update fans out to
 * 1,000 clients at most 10 times a second: a burst still ends in one update carrying the final state.
 */
export const COALESCE_MS_PER_CLIENT = 0.1;
export const MAX_COALESCE_MS = 1000;

export function coalesceWindowMs(clients: number): number {
  return Math.min(MAX_COALESCE_MS, Math.max(COALESCE_MS, clients * COALESCE_MS_PER_CLIENT));
}

/** A shared update and the change version it shows. */
interface VersionedEvent {
  version: number;
  event: MessageEvent;
}

/**
 * Fans the active-request snapshot out to every SSE client. One snapshot is built and serialised
 * per change and shared by all subscribers; only each client's initial snapshot is its own.
 */
@Injectable()
export class ActiveRequestsHub implements BeforeApplicationShutdown {
  private clientCount = 0;
  private readonly closing = new Subject<void>();
  private lastVersion = -1;
  private lastEventId = 0;
  private readonly updates$: Observable<VersionedEvent>;
  private readonly heartbeat$: Observable<MessageEvent>;

  constructor(
    private readonly tracker: TrackerService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    // The subject replays its current value to each new subscription; the shared stream wants changes only.
    const changes$ = tracker.changes$.pipe(skip(1));
    const membership$ = changes$.pipe(
      filter((c) => c.kind === 'membership'),
      audit(() => timer(coalesceWindowMs(this.clientCount))),
    );
    const progress$ = changes$.pipe(filter((c) => c.kind === 'progress'), auditTime(config.sse.intervalMs));
    // A window may end after a later change was already sent by the other: compare with what a snapshot would show now.
    this.updates$ = merge(membership$, progress$).pipe(
      filter(() => this.tracker.changeVersion !== this.lastVersion),
      map(() => {
        this.lastVersion = this.tracker.changeVersion;
        return { version: this.lastVersion, event: this.snapshotEvent() };
      }),
      share(),
    );
    this.heartbeat$ = timer(config.sse.heartbeatMs, config.sse.heartbeatMs).pipe(
      map(() => ({ type: 'heartbeat', id: this.nextEventId(), data: `{"timestamp":${this.clock.nowUnix()}}` })),
      share(),
    );
  }

  get clients(): number {
    return this.clientCount;
  }

  /**
   * The stream for one client: its own initial snapshot, then the shared updates and heartbeats. Given
   * `ownClient` (a client key's own view), every snapshot holds that client's requests only, and an update
   * that leaves them as they were is not sent.
   */
  connect(ownClient?: string): Observable<MessageEvent> {
    if (!this.tracker.enabled) {
      return of({
        type: 'disabled',
        data: JSON.stringify(METRICS_DISABLED),
      });
    }
    if (!this.config.sse.enabled) {
      throw new DisabledException(SSE_DISABLED);
    }
    if (this.clientCount >= this.config.sse.maxClients) {
      throw new HttpException(
        {
          statusCode: HttpStatus.SERVICE_UNAVAILABLE,
          error: 'Service Unavailable',
          message: `Too many active-requests stream clients (limit ${this.config.sse.maxClients}); poll GET /metrics/active-requests instead`,
        },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    }
    this.clientCount++;
    // Built and subscribed in one synchronous step: no change can fall between the two.
    return defer(() => {
      const shown = this.tracker.changeVersion;
      if (ownClient !== undefined) return this.ownView(ownClient, shown);
      const initial = this.snapshotEvent();
      // A window that was open at connect time ends with a state this client's snapshot already showed.
      const updates$ = this.updates$.pipe(
        filter((u) => u.version > shown),
        map((u) => u.event),
      );
      return concat(of(initial), merge(updates$, this.heartbeat$));
    }).pipe(
      takeUntil(this.closing),
      finalize(() => this.clientCount--),
    );
  }

  /** Ends every stream, so closing the HTTP server does not wait on clients that never hang up. */
  beforeApplicationShutdown(): void {
    this.closing.next();
  }

  /**
   * Every event carries its own id, counted in the order events are built, so ids rise on every
   * connection (the change version would repeat: a heartbeat or a client's initial snapshot shows the
   * same one as the update beside it). An event without an id would be numbered by Nest per
   * connection, written into the event object that all connections share.
   */
  private nextEventId(): string {
    return String(++this.lastEventId);
  }

  private snapshotEvent(): MessageEvent {
    return this.eventOf(JSON.stringify(this.tracker.activeSnapshot()));
  }

  private eventOf(rows: string): MessageEvent {
    return {
      type: 'update',
      id: this.nextEventId(),
      data: `{"disabled":false,"active_requests":${rows},"timestamp":${this.clock.nowUnix()}}`,
    };
  }

  /** One client's snapshot per change, shared by that client's streams (client names are bounded by configuration). */
  private readonly ownSnapshots = new Map<string, { version: number; rows: string; event: MessageEvent }>();

  private ownSnapshot(client: string, version: number): { rows: string; event: MessageEvent } {
    const cached = this.ownSnapshots.get(client);
    if (cached?.version === version) return cached;
    const rows = JSON.stringify(this.tracker.activeSnapshot(client));
    const built = { version, rows, event: this.eventOf(rows) };
    this.ownSnapshots.set(client, built);
    return built;
  }

  private ownView(client: string, shown: number): Observable<MessageEvent> {
    let last = JSON.stringify(this.tracker.activeSnapshot(client));
    const initial = this.eventOf(last);
    const updates$ = this.updates$.pipe(
      filter((u) => u.version > shown),
      map((u) => this.ownSnapshot(client, u.version)),
      filter((own) => {
        if (own.rows === last) return false;
        last = own.rows;
        return true;
      }),
      map((own) => own.event),
    );
    return concat(of(initial), merge(updates$, this.heartbeat$));
  }
}
