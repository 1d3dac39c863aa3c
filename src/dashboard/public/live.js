// @ts-check
// The live connection to the active requests: the SSE stream read with fetch (the key in a header),
// reconnecting with backoff; a stream turned off (503) falls back to polling and tries the stream
// again now and then; metrics off or a refused key end the run. It touches no DOM: the page hears
// of everything through `on`, so the machine runs the same under test with fake timers.
import { AuthRequired } from './http.js';
import { backoffDelay, readSse } from './sse.js';

/** @typedef {import('./http.js').Api} Api */

export const LIVE_TIMING = Object.freeze({
  /** Reconnect backoff: base * 2^attempt, capped, with jitter. */
  backoffBaseMs: 1000,
  backoffCapMs: 15000,
  /** Active requests poll interval when the stream is off (503). */
  pollMs: 2000,
  /** While polling, try the stream again this often: it may have been turned back on. */
  streamRetryMs: 60000,
  /** No event (update or heartbeat, 30 s by default) for this long: the connection is dead, reconnect. */
  watchdogMs: 75000,
});

/** @typedef {typeof LIVE_TIMING} LiveTiming */

/** What the connection is doing, as the page's status pill says it. @typedef {'connecting' | 'live' | 'polling' | 'reconnecting'} LiveStatus */

/**
 * What the connection tells the page.
 * @typedef {object} LiveEvents
 * @property {(kind: LiveStatus, text: string) => void} status
 * @property {(doc: any, first: boolean) => void} update the active requests document (contract: /metrics/active-requests);
 *   `first` on a new stream connection's first update, which may follow a restart or a gap: time to resync
 * @property {() => void} heartbeat the stream is alive, nothing changed
 * @property {(message: string) => void} streamOff the stream answered 503 (its message): polling instead
 * @property {(doc: any) => void} disabled metrics are off (the gateway's "disabled" document); the run has ended
 * @property {() => void} authRequired the key was refused or is missing; the run has ended
 */

/**
 * @typedef {object} LiveConnection
 * @property {() => void} start ends the run under way, if any, and starts a fresh one
 * @property {() => void} stop ends the run: closes the connection, clears its timers
 * @property {boolean} running
 */

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * @param {object} options
 * @param {Api} options.api the page's fetch; a 401 throws AuthRequired
 * @param {string} options.streamUrl /metrics/active-requests/stream
 * @param {string} options.activeUrl /metrics/active-requests
 * @param {LiveEvents} options.on
 * @param {LiveTiming} [options.timing]
 * @param {() => number} [options.random] the backoff's jitter, in [0, 1)
 * @returns {LiveConnection}
 */
export function createLiveConnection({ api, streamUrl, activeUrl, on, timing = LIVE_TIMING, random = Math.random }) {
  /** @type {AbortController | null} */
  let run = null;
  /** Reconnects since the last update. */
  let attempt = 0;

  function stop() {
    run?.abort();
    run = null;
  }

  function start() {
    stop();
    const current = new AbortController();
    run = current;
    attempt = 0;
    on.status('connecting', 'Connecting…');
    void streamLoop(current.signal);
  }

  /** @param {any} doc */
  function disabled(doc) {
    stop();
    on.disabled(doc);
  }

  function authRequired() {
    stop();
    on.authRequired();
  }

  /** @param {AbortSignal} signal */
  async function streamLoop(signal) {
    while (!signal.aborted) {
      /** @type {'ended' | 'polling' | 'disabled' | 'broken'} */
      let outcome;
      try {
        outcome = await streamOnce(signal);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof AuthRequired) return authRequired();
        outcome = 'broken';
      }
      if (signal.aborted || outcome === 'disabled') return;
      if (outcome === 'polling') {
        if ((await pollLoop(signal)) === 'stop') return;
        continue;
      }
      await reconnectCountdown(signal);
    }
  }

  /** @param {AbortSignal} signal */
  async function reconnectCountdown(signal) {
    const delay = backoffDelay(attempt, timing.backoffBaseMs, timing.backoffCapMs, random);
    attempt += 1;
    const until = Date.now() + delay;
    while (!signal.aborted && Date.now() < until) {
      const seconds = Math.ceil((until - Date.now()) / 1000);
      on.status('reconnecting', `Reconnecting in ${seconds} s (try ${attempt})`);
      await sleep(Math.min(1000, until - Date.now()), signal);
    }
    if (!signal.aborted) on.status('reconnecting', `Reconnecting… (try ${attempt})`);
  }

  /**
   * One connection: 'ended' (server closed it), 'polling' (stream off: 503), 'disabled' (metrics off).
   * @param {AbortSignal} signal
   * @returns {Promise<'ended' | 'polling' | 'disabled'>}
   */
  async function streamOnce(signal) {
    const connection = new AbortController();
    const abort = () => connection.abort();
    signal.addEventListener('abort', abort, { once: true });
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let watchdog;
    const pet = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(abort, timing.watchdogMs);
    };
    try {
      pet();
      const response = await api(streamUrl, { headers: { accept: 'text/event-stream' }, signal: connection.signal });
      if (response.status === 503) {
        const body = await response.json().catch(() => ({}));
        on.streamOff(body.message || 'the server answered 503');
        return 'polling';
      }
      if (!response.ok || !response.body) throw new Error(`stream answered HTTP ${response.status}`);
      /** @type {'ended' | 'disabled'} */
      let outcome = 'ended';
      let first = true;
      await readSse(response, (event) => {
        pet();
        if (event.event === 'update') {
          const doc = JSON.parse(event.data);
          if (doc.disabled) {
            outcome = 'disabled';
            return disabled(doc);
          }
          attempt = 0;
          on.status('live', 'Live');
          on.update(doc, first);
          first = false;
        } else if (event.event === 'disabled') {
          outcome = 'disabled';
          disabled(JSON.parse(event.data));
        } else if (event.event === 'heartbeat') {
          on.heartbeat();
        }
        return undefined;
      });
      return outcome;
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', abort);
    }
  }

  /**
   * Polls the active set; returns 'retry' when it is time to try the stream again, 'stop' otherwise.
   * @param {AbortSignal} signal
   * @returns {Promise<'retry' | 'stop'>}
   */
  async function pollLoop(signal) {
    const until = Date.now() + timing.streamRetryMs;
    while (!signal.aborted && Date.now() < until) {
      try {
        const doc = await (await api(activeUrl, { signal })).json();
        if (doc.disabled) {
          disabled(doc);
          return 'stop';
        }
        on.status('polling', `Polling every ${timing.pollMs / 1000} s`);
        on.update(doc, false);
      } catch (error) {
        if (signal.aborted) return 'stop';
        if (error instanceof AuthRequired) {
          authRequired();
          return 'stop';
        }
        on.status('reconnecting', 'Polling: gateway unreachable');
      }
      await sleep(timing.pollMs, signal);
    }
    return signal.aborted ? 'stop' : 'retry';
  }

  return {
    start,
    stop,
    get running() {
      return run !== null;
    },
  };
}

/**
 * Runs the page only while it is visible: hidden, `pause()`; shown again, `resume()` (a fresh run,
 * which resyncs everything it shows). Applies the current visibility at once; returns the function
 * that stops following it.
 * @param {{ readonly hidden: boolean } & Pick<EventTarget, 'addEventListener' | 'removeEventListener'>} doc the page's document
 * @param {{ pause: () => void, resume: () => void }} page
 */
export function followVisibility(doc, { pause, resume }) {
  const apply = () => (doc.hidden ? pause() : resume());
  doc.addEventListener('visibilitychange', apply);
  apply();
  return () => doc.removeEventListener('visibilitychange', apply);
}
