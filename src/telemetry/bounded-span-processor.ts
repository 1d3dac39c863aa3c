import { TraceFlags, type Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Why a span never reached the collector: the queue was full, or its export failed (down, slow, refused). */
export type DropReason = 'queue_full' | 'export_failed';

/** An exporter that tells how each batch ended. */
class ReportingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly settled: (count: number, ok: boolean) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.settled(spans.length, result.code === ExportResultCode.SUCCESS);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * The SDK's BatchSpanProcessor behind a bound of its own: at most `maxQueueSize` sampled spans are
 * waiting or being exported at once, and each span that is not sent is counted, by reason. The SDK
 * drops silently (a debug line); wrapping it is the one way to count what it would drop.
 * Nothing here waits: ending a span only queues it, so a collector that is down or slow never delays a request.
 * After a failed export, new spans are dropped until the queue has been tried, so a collector that is
 * down holds no growing backlog; the next batch after that probes it again.
 */
export class BoundedSpanProcessor implements SpanProcessor {
  private readonly batch: BatchSpanProcessor;
  private pending = 0;
  /** The last export failed: spans are dropped at once until what is queued has been tried, then the next batch probes the collector. */
  private failing = false;

  constructor(
    exporter: SpanExporter,
    /** OTEL_BSP_MAX_QUEUE_SIZE (2048 by default), the same bound the batch processor keeps. */
    private readonly maxQueueSize: number,
    private readonly dropped: (reason: DropReason, count: number) => void,
  ) {
    const reporting = new ReportingExporter(exporter, (count, ok) => {
      this.pending = Math.max(0, this.pending - count);
      this.failing = !ok;
      if (!ok) this.dropped('export_failed', count);
    });
    // The other OTEL_BSP_* variables (delay, batch size, export timeout) are read by the SDK itself.
    this.batch = new BatchSpanProcessor(reporting, { maxQueueSize });
  }

  onStart(span: Span, parentContext: Context): void {
    this.batch.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    // A collector that failed gets no new spans to hold while the ones it has are still being tried:
    // they would only wait in memory and fail in turn.
    if (this.failing && this.pending > 0) {
      this.dropped('export_failed', 1);
      return;
    }
    if (this.pending >= this.maxQueueSize) {
      this.dropped('queue_full', 1);
      return;
    }
    this.pending++;
    this.batch.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.batch.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.batch.shutdown();
  }
}
