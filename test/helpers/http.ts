/**
 * Test helper: one way to post to a GraphQL server over a real socket, for every integration test.
 */
import { request } from 'undici';
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

/**
 * Posts a body to `url`: an object is sent as JSON, a string as it is (malformed bodies included), with
 * `content-type: application/json` and the given headers (which may override it).
 */
export async function postTo(url: string, body: unknown, headers: Record<string, string> = {}): Promise<PostedAnswer> {
  const started = performance.now();
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
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
