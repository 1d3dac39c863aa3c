/**
 * The dashboard's live connection (src/dashboard/public/live.js) on fake timers: a scripted fetch
 * answers with real Response objects, the stream bodies are real ReadableStreams fed event by event.
 * Backoff, watchdog and polling intervals are read from the fake clock, never from the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthRequired, type Api } from '../../src/dashboard/public/http.js';
import { createLiveConnection, followVisibility, LIVE_TIMING, type LiveEvents } from '../../src/dashboard/public/live.js';

const STREAM = 'http://gateway.test/metrics/active-requests/stream';
const ACTIVE = 'http://gateway.test/metrics/active-requests';

type Handler = (signal: AbortSignal | undefined) => Response | Promise<Response>;

/** The page's fetch, scripted: each call takes the next handler; with none left the gateway is unreachable. */
function fakeApi() {
  const calls: { url: string; at: number; headers?: Record<string, string>; signal?: AbortSignal }[] = [];
  const handlers: Handler[] = [];
  const api: Api = (url, init = {}) => {
    calls.push({ url, at: Date.now(), headers: init.headers, signal: init.signal ?? undefined });
    const handler = handlers.shift();
    return handler ? Promise.resolve(handler(init.signal ?? undefined)) : Promise.reject(new TypeError('fetch failed'));
  };
  return { api, calls, next: (...h: Handler[]) => handlers.push(...h), urls: () => calls.map((c) => (c.url === STREAM ? 'stream' : 'poll')) };
}

/** One SSE response whose events the test sends; aborting the request errors its body, as fetch does. */
function sseStream() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
  });
  let aborted = false;
  const handler: Handler = (signal) => {
    signal?.addEventListener('abort', () => {
      aborted = true;
      if (open) controller.error(new DOMException('This operation was aborted', 'AbortError'));
      open = false;
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
  return {
    handler,
    send: (event: string, data: unknown) => controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)),
    /** The server ends the stream. */
    end: () => {
      open = false;
      controller.close();
    },
    aborted: () => aborted,
  };
}

const json = (status: number, doc: unknown): Handler => () => new Response(JSON.stringify(doc), { status, headers: { 'content-type': 'application/json' } });
const active = (n: number) => ({ timestamp: 0, active_requests: Array.from({ length: n }, (_, i) => ({ request_id: `r${i}` })) });

/** What the connection told the page, in order. */
function recorder() {
  const log: string[] = [];
  const on: LiveEvents = {
    status: (kind, text) => log.push(`${kind}: ${text}`),
    update: (doc, first) => log.push(`update${first ? ' (first)' : ''}: ${doc.active_requests.length}`),
    heartbeat: () => log.push('heartbeat'),
    streamOff: (message) => log.push(`stream off: ${message}`),
    disabled: (doc) => log.push(`disabled: ${doc.message}`),
    authRequired: () => log.push('auth required'),
  };
  return { log, on, take: () => log.splice(0) };
}

/** Lets the promises queued so far settle (stream reads, fetch answers), without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

function setup() {
  const gateway = fakeApi();
  const page = recorder();
  // No jitter: every backoff is exactly base * 2^attempt, capped.
  const live = createLiveConnection({ api: gateway.api, streamUrl: STREAM, activeUrl: ACTIVE, on: page.on, random: () => 0.5 });
  return { gateway, page, live };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the live stream', () => {
  it('reports each update, the first of a connection as the one to resync on, and heartbeats', async () => {
    const { gateway, page, live } = setup();
    const stream = sseStream();
    gateway.next(stream.handler);
    live.start();
    await settle();
    expect(gateway.calls).toMatchObject([{ url: STREAM, headers: { accept: 'text/event-stream' } }]);
    stream.send('update', active(2));
    stream.send('heartbeat', {});
    stream.send('update', active(1));
    await settle();
    expect(page.take()).toEqual(['connecting: Connecting…', 'live: Live', 'update (first): 2', 'heartbeat', 'live: Live', 'update: 1']);
    expect(live.running).toBe(true);
    live.stop();
  });

  it('reconnects with exponential backoff, counting down, capped at 15 s, and starts over after an update', async () => {
    const { gateway, page, live } = setup();
    live.start(); // no handler: every connection fails
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 8000 + 15000 + 15000);
    const at = gateway.calls.map((c) => c.at);
    expect(at.slice(1).map((t, i) => t - at[i])).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    const log = page.take();
    expect(log.slice(0, 6)).toEqual([
      'connecting: Connecting…',
      'reconnecting: Reconnecting in 1 s (try 1)',
      'reconnecting: Reconnecting… (try 1)',
      'reconnecting: Reconnecting in 2 s (try 2)',
      'reconnecting: Reconnecting in 1 s (try 2)',
      'reconnecting: Reconnecting… (try 2)',
    ]);
    expect(log).toContain('reconnecting: Reconnecting in 15 s (try 6)');

    // The gateway is back: an update resets the backoff, and the next break waits 1 s again.
    const stream = sseStream();
    gateway.next(stream.handler);
    await vi.advanceTimersByTimeAsync(15000);
    stream.send('update', active(0));
    stream.end();
    await settle();
    expect(page.take().slice(-3)).toEqual(['live: Live', 'update (first): 0', 'reconnecting: Reconnecting in 1 s (try 1)']);
    const calls = gateway.calls.length;
    await vi.advanceTimersByTimeAsync(999);
    expect(gateway.calls.length).toBe(calls);
    await vi.advanceTimersByTimeAsync(1);
    expect(gateway.calls.length).toBe(calls + 1);
    live.stop();
  });

  it('drops a connection silent for 75 s and reconnects; a heartbeat keeps it', async () => {
    const { gateway, page, live } = setup();
    const quiet = sseStream();
    const next = sseStream();
    gateway.next(quiet.handler, next.handler);
    live.start();
    await vi.advanceTimersByTimeAsync(LIVE_TIMING.watchdogMs - 1);
    expect(quiet.aborted()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(quiet.aborted()).toBe(true);
    expect(page.take()).toEqual(['connecting: Connecting…', 'reconnecting: Reconnecting in 1 s (try 1)']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(gateway.urls()).toEqual(['stream', 'stream']);

    await vi.advanceTimersByTimeAsync(LIVE_TIMING.watchdogMs - 5000);
    next.send('heartbeat', {});
    await vi.advanceTimersByTimeAsync(LIVE_TIMING.watchdogMs - 1);
    expect(next.aborted()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(next.aborted()).toBe(true);
    live.stop();
  });
});

describe('the stream turned off (503)', () => {
  it('polls every 2 s for a minute, then tries the stream again', async () => {
    const { gateway, page, live } = setup();
    gateway.next(json(503, { message: 'The live stream is disabled' }));
    for (let i = 0; i < 30; i++) gateway.next(json(200, active(1)));
    const stream = sseStream();
    gateway.next(stream.handler);
    live.start();
    await settle();
    expect(page.take()).toEqual(['connecting: Connecting…', 'stream off: The live stream is disabled', 'polling: Polling every 2 s', 'update: 1']);
    await vi.advanceTimersByTimeAsync(LIVE_TIMING.streamRetryMs);
    expect(gateway.urls()).toEqual(['stream', ...Array<string>(30).fill('poll'), 'stream']);
    const polls = gateway.calls.filter((c) => c.url === ACTIVE).map((c) => c.at);
    expect(polls.slice(1).map((t, i) => t - polls[i])).toEqual(Array<number>(29).fill(LIVE_TIMING.pollMs));
    stream.send('update', active(0));
    await settle();
    expect(page.take().slice(-2)).toEqual(['live: Live', 'update (first): 0']);
    live.stop();
  });

  it('says so when a poll fails, and keeps polling', async () => {
    const { gateway, page, live } = setup();
    gateway.next(json(503, {}));
    live.start(); // after the 503 no handler is left: every poll fails
    await vi.advanceTimersByTimeAsync(LIVE_TIMING.pollMs * 2);
    expect(page.take()).toEqual([
      'connecting: Connecting…',
      'stream off: the server answered 503',
      'reconnecting: Polling: gateway unreachable',
      'reconnecting: Polling: gateway unreachable',
      'reconnecting: Polling: gateway unreachable',
    ]);
    expect(gateway.urls()).toEqual(['stream', 'poll', 'poll', 'poll']);
    live.stop();
  });
});

describe('the end of a run', () => {
  it('ends when metrics are off, whether the stream or a poll says so, leaving no timer', async () => {
    for (const [how, script] of [
      ['update', (s: ReturnType<typeof sseStream>) => s.send('update', { disabled: true, message: 'Request metrics are disabled' })],
      ['event', (s: ReturnType<typeof sseStream>) => s.send('disabled', { disabled: true, message: 'Request metrics are disabled' })],
    ] as const) {
      const { gateway, page, live } = setup();
      const stream = sseStream();
      gateway.next(stream.handler);
      live.start();
      await settle();
      script(stream);
      await settle();
      expect(page.take(), how).toEqual(['connecting: Connecting…', 'disabled: Request metrics are disabled']);
      expect(live.running).toBe(false);
      expect(stream.aborted()).toBe(true);
      expect(vi.getTimerCount()).toBe(0);
    }

    const { gateway, page, live } = setup();
    gateway.next(json(503, {}), json(200, { disabled: true, message: 'Request metrics are disabled' }));
    live.start();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(page.take().at(-1)).toBe('disabled: Request metrics are disabled');
    expect(gateway.urls()).toEqual(['stream', 'poll']);
    expect(live.running).toBe(false);
  });

  it('ends when the key is refused, on the stream or on a poll, asking once', async () => {
    const refused: Handler = () => {
      throw new AuthRequired('API key required');
    };
    for (const script of [[refused], [json(503, {}), refused]]) {
      const { gateway, page, live } = setup();
      gateway.next(...script);
      live.start();
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(page.take().filter((line) => line === 'auth required')).toHaveLength(1);
      expect(gateway.calls).toHaveLength(script.length);
      expect(live.running).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    }
  });

  it('stop() during a backoff or while polling clears every timer and asks nothing more', async () => {
    const { gateway, page, live } = setup();
    live.start();
    await vi.advanceTimersByTimeAsync(500); // in the first backoff
    live.stop();
    await settle();
    expect(vi.getTimerCount()).toBe(0);

    gateway.next(json(503, {}), json(200, active(1)));
    live.start();
    await settle();
    live.stop();
    await settle();
    expect(vi.getTimerCount()).toBe(0);
    const calls = gateway.calls.length;
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(gateway.calls).toHaveLength(calls);
    expect(page.log.at(-1)).toBe('update: 1');
  });
});

describe('a hidden tab', () => {
  it('pauses the run while hidden and, shown again, reconnects and resyncs on the first update', async () => {
    const { gateway, page, live } = setup();
    const doc = Object.assign(new EventTarget(), { hidden: false });
    const first = sseStream();
    const second = sseStream();
    gateway.next(first.handler, second.handler);
    const paused: boolean[] = [];
    const stopFollowing = followVisibility(doc, {
      pause: () => {
        paused.push(true);
        live.stop();
      },
      resume: () => {
        paused.push(false);
        live.start();
      },
    });
    await settle();
    first.send('update', active(1));
    await settle();

    doc.hidden = true;
    doc.dispatchEvent(new Event('visibilitychange'));
    await settle();
    expect(first.aborted()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(gateway.calls).toHaveLength(1);

    doc.hidden = false;
    doc.dispatchEvent(new Event('visibilitychange'));
    await settle();
    second.send('update', active(3));
    await settle();
    expect(paused).toEqual([false, true, false]);
    expect(page.take()).toEqual(['connecting: Connecting…', 'live: Live', 'update (first): 1', 'connecting: Connecting…', 'live: Live', 'update (first): 3']);

    stopFollowing();
    doc.hidden = true;
    doc.dispatchEvent(new Event('visibilitychange'));
    expect(paused).toEqual([false, true, false]);
    live.stop();
  });

  it('starts paused in a tab opened hidden', () => {
    const doc = Object.assign(new EventTarget(), { hidden: true });
    const calls: string[] = [];
    followVisibility(doc, { pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    expect(calls).toEqual(['pause']);
  });
});
