/**
 * Test helper: the size of a GraphQL answer by the server's rule, counted from the JSON a client receives: every
 * object counts one, every list item one (an object in a list once). The root `data` object itself is not counted.
 */
export function answerSize(data: Record<string, unknown>): number {
  return Object.values(data).reduce<number>((total, value) => total + sizeOf(value), 0);
}

function sizeOf(value: unknown): number {
  if (Array.isArray(value)) return value.reduce<number>((total, item) => total + 1 + inner(item), 0);
  if (value !== null && typeof value === 'object') return 1 + inner(value);
  return 0;
}

/** What an object holds below itself; a list item that is itself a list counts its own items. */
function inner(value: unknown): number {
  if (Array.isArray(value)) return sizeOf(value);
  if (value !== null && typeof value === 'object')
    return Object.values(value).reduce<number>((total, field) => total + sizeOf(field), 0);
  return 0;
}
