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
export function postTo(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  from?: string,
): Promise<PostedAnswer> {
  return sendTo(url, 'POST', {
    body,
    headers: { 'content-type': 'application/json', ...headers },
    ...(from ? { from } : {}),
  });
}

/**
 * Sends one request to `url` over a real socket: `body` an object sent as JSON or a string sent as it is (none when
 * undefined), with the given headers, from `from`, a local address, when given.
 */
export async function sendTo(
  url: string,
  method: 'GET' | 'POST' | 'DELETE',
  options: { body?: unknown; headers?: Record<string, string>; from?: string } = {},
): Promise<PostedAnswer> {
  const started = performance.now();
  const response = await request(url, {
    method,
    headers: options.headers ?? {},
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
    ...(options.from === undefined ? {} : { dispatcher: clientAt(options.from) }),
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
