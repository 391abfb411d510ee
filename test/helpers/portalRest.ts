/**
 * Test helper: reads the emulator's REST API directly, to compute what the GraphQL answers must be
 * without going through any of the server's code.
 */
import { request } from 'undici';

export async function portalGet<T = any>(baseUrl: string, path: string, authorization: string): Promise<T> {
  const response = await request(`${baseUrl}${path}`, { headers: { authorization } });
  if (response.statusCode !== 200) {
    throw new Error(`GET ${path} answered ${response.statusCode}: ${await response.body.text()}`);
  }
  return (await response.body.json()) as T;
}
