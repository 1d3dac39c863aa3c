import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BoundedSpanProcessor, type DropReason } from './bounded-span-processor';

/** An exporter whose answers the test gives, one batch at a time. */
class HeldExporter implements SpanExporter {
  readonly batches: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.batches.push({ spans, done });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(maxQueueSize: number) {
  const exporter = new HeldExporter();
  const drops: Record<DropReason, number> = { queue_full: 0, export_failed: 0 };
  const processor = new BoundedSpanProcessor(exporter, maxQueueSize, (reason, n) => (drops[reason] += n));
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('t');
  const span = (): void => tracer.startSpan('s').end();
  return { exporter, drops, processor, span };
}

describe('BoundedSpanProcessor', () => {
  it('holds at most maxQueueSize spans waiting or in export, and counts the rest as queue_full', async () => {
    const { exporter, drops, processor, span } = setup(4);
    for (let i = 0; i < 10; i++) span();
    expect(drops).toEqual({ queue_full: 6, export_failed: 0 });
    processor.forceFlush().catch(() => undefined);
    expect(exporter.batches.flatMap((b) => b.spans)).toHaveLength(4);
    for (const b of exporter.batches) b.done({ code: ExportResultCode.SUCCESS });
    await Promise.resolve();
    span();
    expect(drops.queue_full).toBe(6);
  });

  it('after a failed export, drops new spans until what is queued was tried, then probes again', () => {
    const { exporter, drops, processor, span } = setup(100);
    span();
    span();
    processor.forceFlush().catch(() => undefined);
    span();
    exporter.batches[0].done({ code: ExportResultCode.FAILED });
    expect(drops.export_failed).toBe(2);
    // One span still waits for its own try: new ones are not queued behind it.
    span();
    span();
    expect(drops.export_failed).toBe(4);
    processor.forceFlush().catch(() => undefined);
    exporter.batches[1].done({ code: ExportResultCode.FAILED });
    expect(drops.export_failed).toBe(5);
    // Nothing is left to try: the next span is the probe.
    span();
    processor.forceFlush().catch(() => undefined);
    expect(exporter.batches[2].spans).toHaveLength(1);
    exporter.batches[2].done({ code: ExportResultCode.SUCCESS });
    span();
    span();
    expect(drops.export_failed).toBe(5);
  });
});
