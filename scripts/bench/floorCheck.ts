/**
 * What makes the floor a floor of the same work: its answer is the server's, byte for byte, and it makes the same
 * portal calls. A different answer stops the benchmark (the floor would be measuring other work); different calls
 * are reported beside the figures, since the server's plan may change (it learns the caller's list sizes) while the
 * floor's calls are written down once.
 */
import { AUTHORIZATION, describeCalls, type CallsByEndpoint } from './measure';
import { requestBody, type BenchQuery } from './queries';

/** Characters of each answer shown either side of the first difference. */
const DIFF_CONTEXT_CHARS = 80;

/**
 * Sends `query` once, as the same request body, to the server and to the floor, without asking for the upstream
 * calls (so neither answer carries `extensions`), and fails unless both are a 200 with the same bytes. The two must
 * be in front of emulators holding the same data; for the mutation, ones that have served only reads so far, so
 * that the same request generates the same licence id on both.
 */
export async function checkSameAnswer(serverUrl: string, floorUrl: string, query: BenchQuery): Promise<void> {
  const body = requestBody(query);
  const [server, floor] = await Promise.all([post(serverUrl, body), post(floorUrl, body)]);
  if (server.status === 200 && floor.status === 200 && server.text === floor.text) return;
  let at = 0;
  while (at < server.text.length && server.text[at] === floor.text[at]) at += 1;
  const around = (text: string) =>
    JSON.stringify(text.slice(Math.max(0, at - DIFF_CONTEXT_CHARS), at + DIFF_CONTEXT_CHARS));
  throw new Error(
    `${query.name}: the floor's answer is not the server's. Server: ${server.status}, ${server.text.length} characters; ` +
      `floor: ${floor.status}, ${floor.text.length} characters; first difference at character ${at}:\n` +
      `  server: …${around(server.text)}…\n` +
      `  floor:  …${around(floor.text)}…`,
  );
}

/** How the floor's calls differ from the planned server's, or undefined when they are the same. */
export function callsDiffer(planned: CallsByEndpoint, floor: CallsByEndpoint): string | undefined {
  const [server, own] = [describeCalls(planned), describeCalls(floor)];
  return server === own ? undefined : `planned makes ${server}; the floor makes ${own}`;
}

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: AUTHORIZATION, 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, text: await response.text() };
}
