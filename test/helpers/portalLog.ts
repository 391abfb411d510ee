/**
 * Test helper: what a request made the portal do, read off the emulator's request log: the routes it called, and
 * whether its calls went out together (one round trip).
 */
import type { Emulator } from '../../src/emulator';

type LoggedCall = ReturnType<Emulator['requestLog']['entries']>[number];

/** The routes the emulator was called on, sorted: calls made at once compare whatever order they ended in. */
export function routesCalled(emulator: Emulator): Array<LoggedCall['route']> {
  return emulator.requestLog
    .entries()
    .map((entry) => entry.route)
    .sort();
}

/** True when every pair of the calls overlapped in time at the portal: one round trip. */
export function allOverlap(entries: readonly LoggedCall[]): boolean {
  return entries.every((a) => entries.every((b) => a === b || (a.startedAt < b.endedAt && b.startedAt < a.endedAt)));
}
