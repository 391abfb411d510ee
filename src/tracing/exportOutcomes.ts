/**
 * What became of the spans handed to the batch span processor: sent (the receiver took their export) or dropped (the
 * processor's queue was full, or their export failed), counted for `/metrics` and told in the log once when spans
 * start being dropped and once when they are sent again. The export's outcomes are the exporter's own results; the
 * drops of a full queue are read from the processor's self-observability counter, the one place the SDK tells them.
 *
 *     const outcomes = new ExportOutcomes(url, log);
 *     new BatchSpanProcessor({ exporter: outcomes.counting(exporter), selfObsMeterProvider: outcomes.processorMeters });
 *     outcomes.counts; // { sent, dropped }
 */
import { createNoopMeter, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { OutageLog } from '../shared/outageLog';

/** The processor's counter of the spans it is done with, and the `error.type` of those a full queue dropped. */
const PROCESSED = 'otel.sdk.processor.span.processed';
const QUEUE_FULL = 'queue_full';

export class ExportOutcomes {
  readonly counts = { sent: 0, dropped: 0 };
  /** Whether spans are being dropped: its start was told, and its end will be. */
  private failing = false;
  private droppedSinceFailing = 0;

  constructor(
    private readonly url: string,
    private readonly log: OutageLog,
  ) {}

  /** `exporter`, each of its results counted. */
  counting(exporter: SpanExporter): SpanExporter {
    return {
      export: (spans, done) =>
        exporter.export(spans, (result) => {
          this.exported(spans.length, result);
          done(result);
        }),
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
    };
  }

  /**
   * Meters for the processor's self-observability (`selfObsMeterProvider`), of which only the drops of a full queue
   * are read; every other instrument is a no-op.
   */
  readonly processorMeters: MeterProvider = {
    getMeter: (): Meter => {
      const noop = createNoopMeter();
      const queueDrops = {
        add: (spans, attributes) => {
          if (attributes?.['error.type'] === QUEUE_FULL) this.dropped(spans, 'queue full');
        },
      } satisfies Counter;
      const meter = Object.create(noop) as Meter;
      meter.createCounter = (name, options) => (name === PROCESSED ? queueDrops : noop.createCounter(name, options));
      return meter;
    },
  };

  private exported(spans: number, result: ExportResult): void {
    if (result.code !== ExportResultCode.SUCCESS) {
      this.dropped(spans, reasonOf(result.error));
      return;
    }
    this.counts.sent += spans;
    if (this.failing) {
      this.failing = false;
      this.log.info({ dropped: this.droppedSinceFailing }, 'Trace export works again');
      this.droppedSinceFailing = 0;
    }
  }

  private dropped(spans: number, reason: string): void {
    this.counts.dropped += spans;
    this.droppedSinceFailing += spans;
    if (this.failing) return;
    this.failing = true;
    this.log.warn(
      { url: this.url, reason },
      reason === 'queue full'
        ? 'Trace export cannot keep up: spans are dropped until it does'
        : 'Trace export failed: spans are dropped until it works again',
    );
  }
}

/** Why an export failed, as the exporter tells it: the receiver's status, or the error's message. */
function reasonOf(error: Error | undefined): string {
  if (error instanceof OTLPExporterError && error.code !== undefined) return `HTTP ${error.code}`;
  return error?.message ?? 'unknown';
}
