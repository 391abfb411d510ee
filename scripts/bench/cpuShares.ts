/**
 * What a CPU profile (V8's, as `node:inspector`'s `Profiler.stop` gives it) says of tracing's share: of the time
 * the process was busy, how much went to tracing's own code and how much to collecting garbage. Shares of one
 * profile, taken over one server's load, do not move with the speed of the machine, which moved `bench:tracing`'s
 * CPU per request by a tenth from one load to the next.
 *
 * Tracing's code is OpenTelemetry's packages and `src/tracing/` with everything they call, and the time spent in
 * the tracing hooks themselves (`requestTracing.ts`, `tracingPlugin.ts`); not what those hooks call besides (the
 * child logger Fastify makes for every request, traced or not).
 */
import type { Profiler } from 'node:inspector';

export interface CpuShares {
  /** Microseconds sampled busy: everything but `(idle)`. */
  busyUs: number;
  /** Of them, in tracing's code. */
  tracingUs: number;
  /** Of them, in the garbage collector (on the main thread; its helper threads are not sampled). */
  garbageUs: number;
}

const TRACING_CODE = /\/@opentelemetry\/|\/src\/tracing\//;
const TRACING_HOOKS = /\/src\/(?:http\/requestTracing|graphql\/tracingPlugin)\.ts$/;

export function cpuSharesOf(profile: Profiler.Profile): CpuShares {
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
  /** Whether a node, or any frame beneath which it ran, is OpenTelemetry's or ours for tracing (memoized). */
  const underTracing = new Map<number, boolean>();
  const isUnderTracing = (id: number): boolean => {
    const known = underTracing.get(id);
    if (known !== undefined) return known;
    const node = nodeById.get(id)!;
    const parent = parentOf.get(id);
    const answer = TRACING_CODE.test(node.callFrame.url) || (parent !== undefined && isUnderTracing(parent));
    underTracing.set(id, answer);
    return answer;
  };
  const shares: CpuShares = { busyUs: 0, tracingUs: 0, garbageUs: 0 };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A sample's time is the delta to the next one: the time until the profiler looked again.
  for (let index = 0; index < samples.length - 1; index += 1) {
    const node = nodeById.get(samples[index]!)!;
    const us = deltas[index + 1]!;
    const name = node.callFrame.functionName;
    if (name === '(idle)') continue;
    shares.busyUs += us;
    if (name === '(garbage collector)') shares.garbageUs += us;
    else if (isUnderTracing(node.id) || TRACING_HOOKS.test(node.callFrame.url)) shares.tracingUs += us;
  }
  return shares;
}
