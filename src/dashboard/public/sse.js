// @ts-check
// Server-Sent Events over fetch: EventSource cannot send headers, and the API key must never go in a URL.

/** One dispatched event: its type ('message' when the stream named none) and its data lines joined. @typedef {{ event: string, data: string }} SseEvent */

/**
 * Incremental parser of the text/event-stream format; calls onEvent({event, data}) per dispatched event.
 * @param {(event: SseEvent) => void} onEvent
 * @returns {{ feed(chunk: string): void }}
 */
export function createSseParser(onEvent) {
  let buffer = '';
  let event = '';
  /** @type {string[]} */
  let data = [];
  const dispatch = () => {
    if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n') });
    event = '';
    data = [];
  };
  /** @param {string} text */
  const line = (text) => {
    if (text === '') return dispatch();
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    return undefined;
  };
  return {
    feed(chunk) {
      buffer += chunk;
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        // A lone \r at the end may be the first half of \r\n: wait for more.
        if (!match || (match[0] === '\r' && match.index === buffer.length - 1)) break;
        line(buffer.slice(0, match.index));
        buffer = buffer.slice(match.index + match[0].length);
      }
    },
  };
}

/**
 * Reads one SSE response body to its end. Resolves when the server ends the stream,
 * rejects when the connection breaks or `signal` aborts.
 * @param {Response} response
 * @param {(event: SseEvent) => void} onEvent
 */
export async function readSse(response, onEvent) {
  if (!response.body) throw new Error('the event stream has no body');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = createSseParser(onEvent);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Exponential backoff with jitter: base * 2^attempt, capped, +-20 %.
 * @param {number} attempt
 * @param {number} baseMs
 * @param {number} capMs
 * @param {() => number} [random] in [0, 1)
 */
export function backoffDelay(attempt, baseMs, capMs, random = Math.random) {
  const raw = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (0.8 + 0.4 * random()));
}
