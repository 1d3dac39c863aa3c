import http from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** A real SSE client over a raw socket, so tests can also drop it without a clean close. */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** The id of every event received, in order ('' for none); `events` is consumed by next(), this is not. */
  readonly ids: string[] = [];
  /** The data of every `update` event received, in order; not consumed by next() either. */
  readonly updates: string[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body = '';
  private waiters: (() => void)[] = [];
  private req!: http.ClientRequest;
  private ended = false;

  static connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    return new Promise((resolve, reject) => {
      client.req = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        client.status = res.statusCode ?? 0;
        client.headers = res.headers;
        const parser = createParser({
          onEvent: (m: EventSourceMessage) => {
            client.events.push({ event: m.event ?? 'message', data: m.data, id: m.id });
            client.ids.push(m.id ?? '');
            if (m.event === 'update') client.updates.push(m.data);
            client.wake();
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          client.body += chunk;
          parser.feed(chunk);
        });
        res.on('close', () => {
          client.ended = true;
          client.wake();
        });
        resolve(client);
      });
      client.req.on('error', reject);
    });
  }

  get closedByServer(): boolean {
    return this.ended;
  }

  /** Waits for an event of this type after the first `skip` events, and returns it. */
  async next(type: string, predicate: (e: SseEvent) => boolean = () => true): Promise<SseEvent> {
    let seen = 0;
    for (;;) {
      for (; seen < this.events.length; seen++) {
        const e = this.events[seen];
        if (e.event === type && predicate(e)) {
          this.events.splice(0, seen + 1);
          return e;
        }
      }
      if (this.ended) throw new Error(`stream ended before a "${type}" event`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  lastUpdate(): unknown {
    const updates = this.events.filter((e) => e.event === 'update');
    const last = updates.at(-1);
    return last ? JSON.parse(last.data) : undefined;
  }

  /** Closes the stream cleanly. */
  close(): void {
    this.req.destroy();
  }

  /** Drops the socket without a FIN: what a crashed client or a dead network looks like. */
  drop(): void {
    this.req.socket?.resetAndDestroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Polls until the condition holds; bounded, not timed: fails after `tries` turns. */
export async function eventually(check: () => boolean | Promise<boolean>, tries = 500, everyMs = 10): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition never held');
}
