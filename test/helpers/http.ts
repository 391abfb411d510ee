/**
 * Test helper: one way to post to a GraphQL server over a real socket, for every integration test.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

export interface PostedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text, and parsed (undefined when it is not JSON). */
  text: string;
  json: any;
  /** How long the answer took, in ms. */
  ms: number;
}

/** One connection pool per local address, so that tests can be clients at 127.0.0.2, 127.0.0.3, … */
const fromAddress = new Map<string, Dispatcher>();

/** The dispatcher of requests sent from a loopback address other than 127.0.0.1. */
export function clientAt(localAddress: string): Dispatcher {
  let agent = fromAddress.get(localAddress);
  if (!agent) {
    agent = new Agent({ localAddress });
    fromAddress.set(localAddress, agent);
  }
  return agent;
}

/**
 * Posts a body to `url`: an object is sent as JSON, a string as it is (malformed bodies included), with
 * `content-type: application/json` and the given headers (which may override it); from `from`, a local address,
 * when given.
 */
export async function postTo(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  from?: string,
): Promise<PostedAnswer> {
  const started = performance.now();
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(from === undefined ? {} : { dispatcher: clientAt(from) }),
  });
  const text = await response.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json, ms: performance.now() - started };
}
