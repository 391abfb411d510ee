/** Test helper: a span sink that keeps every span that ended, in order, for a test to read. */
import type { RecordedSpan, SpanSink } from '../../src/tracing/spans';

export class SpansInMemory implements SpanSink {
  private spans: RecordedSpan[] = [];

  onEnd(span: RecordedSpan): void {
    this.spans.push(span);
  }

  finished(): RecordedSpan[] {
    return [...this.spans];
  }

  reset(): void {
    this.spans = [];
  }

  async shutdown(): Promise<void> {}
}
