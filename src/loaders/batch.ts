/**
 * The batch contract of DataLoader in one helper: one result per key, in key order, an Error for a key that
 * failed.
 */

/** Runs one call per key in parallel; a failed call becomes that key's Error, the others still resolve. */
export async function eachKey<K, V>(keys: readonly K[], load: (key: K) => Promise<V>): Promise<Array<V | Error>> {
  const settled = await Promise.allSettled(keys.map(load));
  return settled.map((result) => (result.status === 'fulfilled' ? result.value : toError(result.reason)));
}

export function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
