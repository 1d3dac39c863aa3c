import { isRecord, type JsonObject } from '../../core/json';
import { redactSecrets, type Redact } from '../../core/redact';
import { answerFacts, saysAnything } from './answer-facts';
import { createModelRewriter } from './model-rewrite';
import { type SseEvent, SseEventSplitter, sseLineBreak } from './sse-events';
import type { StreamRelay, StreamSink, StreamVerdict } from './types';

/** The largest single event a relay holds while waiting for its end (16 MiB of text). */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/** What every relay is given: where it reports, the model alias to show, how to mask echoed secrets. */
export interface RelayOptions {
  sink: StreamSink;
  /** The upstream answers with `from`; the client asked for `to` and must see it wherever the upstream names its model. */
  rewriteModel?: { from: string; to: string };
  /** Masks secrets an upstream echoes in an error event, in the relayed text and the reported message. */
  redact?: Redact;
}

/** How a relay names an event whose data is no JSON object, in the stream's verdict (asked only then). */
export type MalformedNames = (event: SseEvent) => { invalidJson: string; notObject: string };

/** The model alias to put in the client's view: the upstream answers with `from`, the client asked for `to`. */
interface ModelRewrite {
  from: string;
  to: string;
  /** Rewrites the name in an event's raw text, keeping its bytes; undefined when it is spelled differently. */
  apply: (raw: string) => string | undefined;
}

/**
 * The scaffolding shared by the stream relays: splits upstream bytes into SSE events, hands each to
 * `relay()` and passes on what it returns, and builds the verdict at the end. A subclass holds only
 * the protocol: what an event means and what the client gets for it.
 */
export abstract class EventRelay implements StreamRelay {
  protected readonly sink: StreamSink;
  /** Masks secrets an upstream echoes (the pattern rules when none were given). */
  protected readonly redact: Redact;
  private readonly rewrite?: ModelRewrite;
  /** The stream reached its proper end. */
  protected complete = false;
  /** The first protocol violation seen, if any. */
  protected malformed?: string;
  private firstContentSeen = false;
  private answerTold = false;
  private toolCalls = 0;
  private readonly splitter = new SseEventSplitter({ maxEventChars: MAX_EVENT_CHARS });
  private out = '';
  private readonly collect = (event: SseEvent): void => {
    this.out += this.relay(event);
  };

  constructor({ sink, rewriteModel, redact }: RelayOptions) {
    this.sink = sink;
    this.redact = redact ?? redactSecrets;
    if (rewriteModel) {
      const { from, to } = rewriteModel;
      this.rewrite = { from, to, apply: createModelRewriter(from, to) };
    }
  }

  push(chunk: Uint8Array): string {
    if (this.stopped) return '';
    const out = this.feed(() => this.splitter.push(chunk, this.collect));
    // An upstream that never ends an event must not make the gateway hold unbounded memory.
    if (this.splitter.overflowed) this.overflowed(`an upstream event grew past ${MAX_EVENT_CHARS} characters without ending`);
    return out;
  }

  get fault(): string | undefined {
    return this.malformed;
  }

  get stopped(): boolean {
    return this.splitter.overflowed;
  }

  finish(): StreamVerdict {
    const trailing = this.feed(() => this.splitter.end(this.collect)) + this.close();
    const verdict: StreamVerdict = { complete: this.complete, trailing };
    if (this.malformed !== undefined) verdict.malformed = this.malformed;
    return verdict;
  }

  /**
   * What the client gets for one upstream event. At the end of the stream an unterminated tail comes
   * last, with `terminated: false`.
   */
  protected abstract relay(event: SseEvent): string;

  /**
   * An event's data as a JSON object, or the text to relay in its place: a cut-off tail is dropped
   * (a truncated stream, its verdict not complete, rather than a protocol violation); invalid JSON or
   * a value that is no object is noted as malformed and relayed as it came (`raw`, its end closed).
   */
  protected payloadOf(event: SseEvent, raw: string, names: MalformedNames): JsonObject | string {
    let payload: unknown;
    try {
      payload = JSON.parse(event.data);
    } catch {
      if (!event.terminated) return '';
      this.malformed ??= names(event).invalidJson;
      return event.raw;
    }
    if (isRecord(payload)) return payload;
    this.malformed ??= names(event).notObject;
    return raw;
  }

  /** The stream is cut at an event that outgrew MAX_EVENT_CHARS; a subclass may settle its own state too. */
  protected overflowed(reason: string): void {
    this.malformed ??= reason;
  }

  /** Text owed to the client after the last event (a closing sequence, say); may settle the verdict. */
  protected close(): string {
    return '';
  }

  /**
   * `relay()` (or the sink it called) threw while events were being handed out. By default the error
   * propagates and what was collected before it stays pending; a subclass may instead return the text
   * to send (and call `takeOutput()` to drop what was collected).
   */
  protected recover(error: unknown): string {
    throw error;
  }

  /** Returns and clears the text collected from `relay()` so far. */
  protected takeOutput(): string {
    const out = this.out;
    this.out = '';
    return out;
  }

  /** Reports the first content (time to first token) once. */
  protected markFirstContent(): void {
    if (this.firstContentSeen) return;
    this.firstContentSeen = true;
    this.sink.onFirstContent();
  }

  /**
   * Tells the sink what an answer object of the stream says about itself: the first one (its id and
   * model), then those that say why it stopped (`stopping`).
   */
  protected noteAnswer(answer: unknown, stopping: boolean): void {
    if (this.sink.onAnswer === undefined || (this.answerTold && !stopping)) return;
    this.answerTold = true;
    const facts = answerFacts(answer);
    if (saysAnything(facts)) this.sink.onAnswer(facts);
  }

  /** Reports a content delta's output, so in-flight rows move before the upstream reports output tokens. */
  protected addOutput(pieces: readonly string[]): void {
    if (pieces.length > 0) this.sink.onOutput?.(pieces);
  }

  /** Counts newly started tool calls and reports the running total. */
  protected addToolCalls(count: number): void {
    this.toolCalls += count;
    this.sink.onUsage({ toolCallCount: this.toolCalls });
  }

  /**
   * An event's text with the client's model alias in place of the upstream's name in `holder.model`
   * (`holder` is `payload` or an object inside it): replaced in the raw bytes when the name is spelled
   * the usual way, else by re-serializing `payload`, as event `eventName` if that is not ''.
   */
  protected withModelAlias(raw: string, payload: JsonObject, holder: JsonObject, eventName: string): string {
    const rewrite = this.rewrite;
    const upstreamModel = holder.model;
    if (!rewrite || typeof upstreamModel !== 'string' || upstreamModel === rewrite.to) return raw;
    // Upstreams may answer with another spelling of the model (a dated snapshot): the client still sees its alias.
    const apply = upstreamModel === rewrite.from ? rewrite.apply : this.rewriterFor(upstreamModel, rewrite.to);
    const rewritten = apply(raw);
    if (rewritten !== undefined) return rewritten;
    // The upstream escaped the name differently: re-serialize this one event.
    holder.model = rewrite.to;
    const eol = sseLineBreak(raw);
    const eventLine = eventName ? `event: ${eventName}${eol}` : '';
    return `${eventLine}data: ${JSON.stringify(payload)}${eol}${eol}`;
  }

  private otherRewriter?: { from: string; apply: (raw: string) => string | undefined };

  private rewriterFor(from: string, to: string): (raw: string) => string | undefined {
    if (this.otherRewriter?.from !== from) this.otherRewriter = { from, apply: createModelRewriter(from, to) };
    return this.otherRewriter.apply;
  }

  private feed(handOut: () => void): string {
    try {
      handOut();
    } catch (error) {
      return this.recover(error);
    }
    return this.takeOutput();
  }
}
