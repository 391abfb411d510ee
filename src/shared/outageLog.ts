/** Where a part that works in the background (the shared Redis, the trace export) tells of an outage and of its end. */
export interface OutageLog {
  warn(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
}
