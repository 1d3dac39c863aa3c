import { Transform, type Readable } from 'node:stream';
import { errorBody } from '../common/api-error';
import type { ApiFormat } from '../core/api';
import { brokenStreamCause } from '../core/error-table';
import type { Redact } from '../core/redact';
import type { ExchangeObserver } from './exchange';
import { describeNetworkError } from './protocol/error-classification';
import type { StreamRelay, StreamSink } from './protocol/types';
import { abortCause } from './upstream/answer';

/** The stream's side of the observer: what a relay reports as it parses. */
export function sinkFor(observer: ExchangeObserver): StreamSink {
  return {
    onUsage: (patch) => observer.usage(patch),
    onFirstContent: () => observer.firstToken(),
    onOutput: (pieces) => observer.output(pieces),
    onError: (type, message) => observer.fail(type, message),
    onAnswer: (facts) => observer.answer(facts),
  };
}

/** The error event that ends a client's stream, typed like the error body of the same status; the Responses API has its own. */
export function errorEventFor(format: ApiFormat, responsesApi: boolean): (status: number, message: string) => string {
  return responsesApi ? responsesErrorEvent : (status, message) => streamErrorEvent(format, status, message);
}

/** The error event that ends a client's stream, typed like the error body of the same status. */
function streamErrorEvent(format: ApiFormat, status: number, message: string): string {
  const data = JSON.stringify(errorBody(format, status, message));
  return format === 'anthropic' ? `event: error\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

/** The Responses API's own `error` event, as the upstream itself ends a failed stream. */
function responsesErrorEvent(status: number, message: string): string {
  const { error } = errorBody('openai', status, message) as { error: { type: string } };
  return `event: error\ndata: ${JSON.stringify({ type: 'error', code: error.type, message, param: null })}\n\n`;
}

/**
 * Relays the upstream's event stream to the client with backpressure (pipe), counting bytes sent.
 * An upstream failure mid-stream ends the client's stream with an error event in its own format.
 */
export function relayStream(
  format: ApiFormat,
  upstream: Readable,
  relay: StreamRelay,
  observer: ExchangeObserver,
  lifetime: { clientGone: boolean; timedOut: boolean },
  redact: Redact,
  errorEvent: (status: number, message: string) => string,
  /** The upstream's headers announced an event stream. */
  announced: boolean,
): Readable {
  const metrics = observer;
  /** Set when the upstream failed mid-stream: the error event owed to the client ('' if it left). */
  let failure: string | undefined;
  /** Set when the relay stopped taking input and the upstream was closed by the gateway. */
  let cut = false;
  /** The upstream committed to a stream: its headers said so, or its bytes arrived. */
  let committed = announced;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      committed = true;
      const text = relay.push(chunk);
      // The first fault wins: a malformed event is recorded before a reset that may follow it.
      if (relay.fault !== undefined) metrics.fail('streaming_error', relay.fault);
      if (text) metrics.addResponseBytes(Buffer.byteLength(text));
      done(null, text || undefined);
      if (relay.stopped && !cut) {
        // Whatever the upstream sends next would be dropped: close it now and end the client's stream.
        cut = true;
        upstream.unpipe(out);
        upstream.destroy();
        out.end();
      }
    },
    flush(done) {
      if (failure !== undefined) {
        done(null, failure || undefined);
        return;
      }
      metrics.upstreamFinished();
      const verdict = relay.finish();
      let tail = verdict.trailing;
      if (verdict.malformed !== undefined || !verdict.complete) {
        const message = redact(verdict.malformed ?? 'The upstream stream ended before its final event');
        metrics.fail('streaming_error', message);
        // OpenAI clients saw the bad chunk itself, except when the gateway cut the stream.
        const owed = format === 'anthropic' ? !tail.includes('event: error') : cut;
        if (owed) tail += errorEvent(502, message);
      }
      if (tail) metrics.addResponseBytes(Buffer.byteLength(tail));
      done(null, tail || undefined);
    },
  });
  upstream.on('error', (error: unknown) => {
    if (failure !== undefined || cut) return;
    upstream.unpipe(out);
    const cause = committed ? brokenStreamCause(abortCause(lifetime, error)) : abortCause(lifetime, error);
    const message =
      cause.errorType === 'upstream_timeout'
        ? 'The upstream stream was idle past STREAMING_READ_TIMEOUT_SECONDS'
        : redact(`${cause.message} mid-stream: ${describeNetworkError(error)}`);
    metrics.fail(cause.errorType, message);
    metrics.upstreamFinished();
    failure = lifetime.clientGone ? '' : errorEvent(cause.status, message);
    if (failure) metrics.addResponseBytes(Buffer.byteLength(failure));
    if (!out.writableEnded) out.end();
  });
  upstream.pipe(out);
  return out;
}
