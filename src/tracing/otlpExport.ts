/**
 * Spans sent over OTLP/HTTP in batches, as OpenTelemetry's batch span processor and OTLP exporter send them: a span
 * is encoded into the open batch when it ends; a batch goes when it holds 512 spans (or 1 MiB), or 5 seconds after
 * its first span; one export at a time, each attempt given 10 seconds, retried with backoff when the receiver says
 * it is busy or cannot be reached, for 30 seconds at most in all. At most 2,048 spans wait: past that, new spans are
 * dropped rather than held, and counted. An export that fails is logged once, and so is its working again; the
 * requests never wait for it. (The numbers are the defaults; `OTEL_BSP_*` and `OTEL_EXPORTER_OTLP_TIMEOUT` set them.)
 *
 *     const sink = new OtlpExport({ url, protocol: 'http/protobuf', headers: {}, identity, log });
 *     sink.onEnd(span);          // a span ended
 *     await sink.shutdown();     // on SIGTERM: what is waiting is sent, for at most 10 seconds
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Pool } from 'undici';
import { JsonBatch, ProtobufBatch, protobufIdentity, type ExportIdentity, type SpanBatch } from './otlpEncoding';
import type { RecordedSpan, SpanSink } from './spans';
import type { OutageLog } from '../shared/outageLog';

export interface OtlpExportOptions {
  /** The traces endpoint, e.g. `http://collector:4318/v1/traces`. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** 'gzip': each export is gzipped once, off the main thread, and sent so (`none` when not given). */
  compression?: 'gzip' | 'none';
  headers: Record<string, string>;
  identity: ExportIdentity;
  /** Where an export's failing, and its working again, are told: once each. */
  log: OutageLog;
  /** Spans waiting, at most (2,048). */
  maxQueuedSpans?: number;
  /** Spans of one export, at most (512). */
  maxBatchSpans?: number;
  /** How long a batch waits for more spans (5,000 ms). */
  scheduleDelayMs?: number;
  /** How long one attempt of an export may wait for the receiver (10,000 ms). */
  timeoutMs?: number;
  /** How long one export may take, its retries and their waits included; 0: no bound but the attempts' (30,000 ms). */
  exportTimeoutMs?: number;
  /** The first retry's delay; each next one is 1.5 times longer, to 5 seconds (1,000 ms). */
  retryDelayMs?: number;
}

/** Encoded bytes past which a batch goes without waiting for more spans. */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Attempts of one export, the first included. */
const MAX_ATTEMPTS = 5;
const MAX_RETRY_DELAY_MS = 5000;
/** The least time worth an attempt: a retry with less of the export's time left is not made. */
const MIN_ATTEMPT_MS = 100;
/** How long `shutdown` waits for what is left to be sent. */
const SHUTDOWN_MS = 10_000;
const gzip = promisify(gzipCallback);

/** How much of a receiver's answer is read (it is not looked at); past it the connection is closed. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Statuses a receiver answers when it may take the same export later (OTLP/HTTP's retryable ones). */
const RETRYABLE = new Set([429, 502, 503, 504]);

/** A batch closed: its export request, and how many spans it holds. */
interface ClosedBatch {
  spans: number;
  body: Buffer;
}

export class OtlpExport implements SpanSink {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly scheduleDelayMs: number;
  private readonly timeoutMs: number;
  private readonly exportTimeoutMs: number;
  private readonly retryDelayMs: number;
  /** The open batch: spans are encoded into it as they end, and its request taken from it when it closes. */
  private readonly batch: SpanBatch;
  /** Batches closed and waiting to be sent, oldest first, as their requests. */
  private readonly ready: ClosedBatch[] = [];
  /** Spans in the open batch, the ready ones and the one being sent. */
  private queued = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Whether the last export failed: its failing was logged, and its working again will be. */
  private failing = false;
  /** Spans dropped since the last report: the queue was full, or their export failed. */
  private dropped = 0;
  /** Counts for tests and metrics: spans sent, and spans dropped. */
  readonly counts = { sent: 0, dropped: 0 };

  constructor(private readonly options: OtlpExportOptions) {
    const url = new URL(options.url);
    this.pool = new Pool(url.origin, { connections: 1 });
    this.path = `${url.pathname}${url.search}`;
    const contentType = options.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
    this.headers = {
      ...options.headers,
      'content-type': contentType,
      ...(options.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    };
    this.batch =
      options.protocol === 'http/json'
        ? new JsonBatch(options.identity)
        : new ProtobufBatch(protobufIdentity(options.identity));
    this.maxQueued = options.maxQueuedSpans ?? 2048;
    this.maxBatch = options.maxBatchSpans ?? 512;
    this.scheduleDelayMs = options.scheduleDelayMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.exportTimeoutMs = options.exportTimeoutMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  onEnd(span: RecordedSpan): void {
    if (this.stopped) return;
    if (this.queued >= this.maxQueued) {
      this.drop(1);
      return;
    }
    this.batch.add(span);
    this.queued += 1;
    if (this.batch.spans >= this.maxBatch || this.batch.bytes >= MAX_BATCH_BYTES) {
      this.close();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.close(), this.scheduleDelayMs);
      this.timer.unref();
    }
  }

  async shutdown(): Promise<void> {
    this.close();
    // A request that ends after this has nowhere to send its spans.
    this.stopped = true;
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (deadline = setTimeout(resolve, SHUTDOWN_MS)));
    await Promise.race([this.drained(), timedOut]);
    clearTimeout(deadline);
    await this.pool.destroy().catch(() => undefined);
  }

  /** Resolves once nothing is waiting or being sent. */
  private async drained(): Promise<void> {
    while (this.sending) await this.sending;
  }

  /** Closes the open batch and sends it after those before it. */
  private close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.spans === 0) return;
    const spans = this.batch.spans;
    this.ready.push({ spans, body: this.batch.take() });
    this.pump();
  }

  private pump(): void {
    if (this.sending) return;
    const next = this.ready.shift();
    if (!next) return;
    this.sending = this.send(next).finally(() => {
      this.queued -= next.spans;
      this.sending = undefined;
      this.pump();
    });
  }

  private async send(batch: ClosedBatch): Promise<void> {
    let { body } = batch;
    if (this.options.compression === 'gzip') {
      // On libuv's threads, once for all the attempts. (zlib fails only on a bug or no memory; the batch is then
      // dropped as an export that failed.)
      try {
        body = await gzip(body);
      } catch (error) {
        return this.failed(batch, { reason: `gzip: ${String(error)}` }, 0);
      }
    }
    const deadline = this.exportTimeoutMs === 0 ? Infinity : performance.now() + this.exportTimeoutMs;
    let delay = this.retryDelayMs;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.post(body, Math.min(this.timeoutMs, deadline - performance.now()));
      if (outcome === 'sent') {
        this.counts.sent += batch.spans;
        if (this.failing) {
          this.failing = false;
          this.options.log.info({ dropped: this.dropped }, 'Trace export works again');
          this.dropped = 0;
        }
        return;
      }
      // Full jitter, as OTLP's exporters back off: somewhere between no wait and the delay.
      const wait = Math.random() * delay;
      // A retry left too little of the export's time to be answered is not made.
      const left = deadline - (performance.now() + wait);
      if (outcome.retry && attempt < MAX_ATTEMPTS && left >= Math.min(MIN_ATTEMPT_MS, this.timeoutMs)) {
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        delay = Math.min(delay * 1.5, MAX_RETRY_DELAY_MS);
        continue;
      }
      return this.failed(batch, outcome, attempt);
    }
  }

  /** An export given up: its spans dropped, and the failing logged if it was working until now. */
  private failed(batch: ClosedBatch, outcome: { reason: string }, attempts: number): void {
    if (!this.failing) {
      this.failing = true;
      this.options.log.warn(
        { url: this.options.url, reason: outcome.reason, attempts },
        'Trace export failed: spans are dropped until it works again',
      );
    }
    this.drop(batch.spans);
  }

  /** One attempt of an export, given `timeoutMs`: 'sent', or why not and whether the same export may succeed later. */
  private async post(body: Buffer, timeoutMs: number): Promise<'sent' | { retry: boolean; reason: string }> {
    if (timeoutMs <= 0) return { retry: false, reason: `no time left of the export's ${this.exportTimeoutMs} ms` };
    // The whole attempt is bounded, answer read: undici's own timeouts bound only each wait for the next bytes.
    const aborter = new AbortController();
    const timer = setTimeout(
      () => aborter.abort(new Error(`no answer within the attempt's ${Math.round(timeoutMs)} ms`)),
      timeoutMs,
    );
    timer.unref();
    try {
      const response = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: this.headers,
        body,
        signal: aborter.signal,
      });
      await response.body.dump({ limit: MAX_ANSWER_BYTES, signal: aborter.signal });
      if (response.statusCode >= 200 && response.statusCode < 300) return 'sent';
      return { retry: RETRYABLE.has(response.statusCode), reason: `HTTP ${response.statusCode}` };
    } catch (error) {
      return { retry: true, reason: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  private drop(spans: number): void {
    this.dropped += spans;
    this.counts.dropped += spans;
    if (!this.failing) {
      this.failing = true;
      this.options.log.warn(
        { url: this.options.url, waiting: this.queued },
        'Trace export cannot keep up: spans are dropped until it does',
      );
    }
  }
}
