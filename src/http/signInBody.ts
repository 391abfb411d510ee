/**
 * The body of a sign-in (`POST /auth/session`): `{"username": "…", "password": "…"}` as JSON, within bounds. The
 * sessions' `onRequest` hook reads it off the request itself, before Fastify would (`sessionRoutes.ts`), so that the
 * login limits see the submitted credentials.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';

/** Largest sign-in body read; past it, 413. */
export const MAX_SIGN_IN_BYTES = 4096;
const MAX_USERNAME_LENGTH = 256;
const MAX_PASSWORD_LENGTH = 1024;

/** A sign-in as it came: its credentials, and its bytes (which Fastify then parses again, for the route). */
export interface SignInBody {
  username: string;
  password: string;
  bytes: Buffer;
}

/** Why a sign-in's body was refused, with the status and the message to answer. */
export interface SignInRefusal {
  status: 400 | 413 | 415;
  reason: 'UNSUPPORTED_MEDIA_TYPE' | 'BODY_TOO_LARGE' | 'EMPTY_BODY' | 'MALFORMED_JSON' | 'MALFORMED_SIGN_IN';
  message: string;
}

const EXPECTED = 'Send {"username": "…", "password": "…"} as application/json.';

/**
 * Reads and checks a sign-in's body. Rejects (with a 400 for Fastify's error answer, which goes to no one) when the
 * connection closes before the body has arrived.
 */
export async function readSignInBody(request: FastifyRequest): Promise<SignInBody | SignInRefusal> {
  if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? ''))
    return { status: 415, reason: 'UNSUPPORTED_MEDIA_TYPE', message: EXPECTED };
  const tooLarge: SignInRefusal = {
    status: 413,
    reason: 'BODY_TOO_LARGE',
    message: `The sign-in is larger than ${MAX_SIGN_IN_BYTES} bytes.`,
  };
  if (Number(request.headers['content-length']) > MAX_SIGN_IN_BYTES) return tooLarge;
  const bytes = await readBounded(request.raw, MAX_SIGN_IN_BYTES);
  if (bytes === undefined) return tooLarge;
  if (bytes.length === 0)
    return { status: 400, reason: 'EMPTY_BODY', message: `The request body is empty. ${EXPECTED}` };
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { status: 400, reason: 'MALFORMED_JSON', message: `The request body is not valid JSON. ${EXPECTED}` };
  }
  const credentials = signInCredentialsOf(json);
  if (!credentials)
    return {
      status: 400,
      reason: 'MALFORMED_SIGN_IN',
      message: `${EXPECTED} username: 1 to ${MAX_USERNAME_LENGTH} characters, without ":" or control characters; password: 1 to ${MAX_PASSWORD_LENGTH} characters.`,
    };
  return { ...credentials, bytes };
}

/** The user name and password of a sign-in's body, or undefined when it is not one. */
function signInCredentialsOf(json: unknown): { username: string; password: string } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { username, password } = json as Record<string, unknown>;
  if (typeof username !== 'string' || typeof password !== 'string') return undefined;
  // Basic credentials cannot carry a colon in the user name.
  if (username.length === 0 || username.length > MAX_USERNAME_LENGTH || /[:\u0000-\u001f\u007f]/.test(username))
    return undefined;
  if (password.length === 0 || password.length > MAX_PASSWORD_LENGTH) return undefined;
  return { username, password };
}

/**
 * A request's body, whole, or undefined once it passes `maxBytes` (the rest is left to drain). Rejects when the
 * connection closes first (the client left, or its deadline passed); Fastify's error answer then goes to no one.
 */
function readBounded(raw: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = () => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('close', onClose);
      raw.off('error', onClose);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length <= maxBytes) return void chunks.push(chunk);
      stop();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onClose = () => {
      stop();
      reject(Object.assign(new Error('The connection closed before the sign-in arrived.'), { statusCode: 400 }));
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('close', onClose);
    raw.on('error', onClose);
  });
}
