/**
 * The public error codes of the GraphQL API, and the one function that turns any failure into a GraphQL error.
 *
 * Resolvers throw `PortalError`s (from the upstream layer) or `InputError`s (from argument checks); `formatError`
 * maps both by the table below. Anything else is unexpected: masked as "Unexpected error." with its detail only in
 * the log, so that no stack trace, credential or portal HTML ever reaches a client.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { PortalError, type PortalErrorCode } from '../portal/portalErrors';
import { UnreachableCaseError } from '../portal/endpoints';
import { IdempotencyStoreError } from '../idempotency/keyStore';

export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_INVALID_RESPONSE: 'UPSTREAM_INVALID_RESPONSE',
  OUTCOME_UNKNOWN: 'OUTCOME_UNKNOWN',
  /** Refused before any portal call: too many failed logins, or requests, from this client's address (HTTP 429). */
  RATE_LIMITED: 'RATE_LIMITED',
  /** Trusted documents enforced: no document of the manifest has the id or APQ hash the request names (HTTP 404). */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** Trusted documents enforced: the request's text is not a document of the manifest (HTTP 403). */
  QUERY_NOT_IN_PERSISTED_QUERY_LIST: 'QUERY_NOT_IN_PERSISTED_QUERY_LIST',
  /** The HTTP request itself could not be read (malformed JSON, a content type, a method); `reason` says which. */
  BAD_REQUEST: 'BAD_REQUEST',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Input refused before any upstream call; `field` names the input field as written in the schema. */
export class InputError extends GraphQLError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message, {
      extensions: field === undefined ? { code: ErrorCode.BAD_USER_INPUT } : { code: ErrorCode.BAD_USER_INPUT, field },
    });
    this.field = field;
  }
}

/** The mapping table: upstream failure → public code. */
export function codeOfPortalError(code: PortalErrorCode): ErrorCode {
  switch (code) {
    case 'UNAUTHENTICATED':
      return ErrorCode.UNAUTHENTICATED;
    case 'FORBIDDEN':
      return ErrorCode.FORBIDDEN;
    case 'NOT_FOUND':
      return ErrorCode.NOT_FOUND;
    case 'INVALID_INPUT':
      return ErrorCode.BAD_USER_INPUT;
    case 'TIMEOUT':
      return ErrorCode.UPSTREAM_TIMEOUT;
    case 'UNAVAILABLE':
      return ErrorCode.UPSTREAM_UNAVAILABLE;
    case 'INVALID_RESPONSE':
      return ErrorCode.UPSTREAM_INVALID_RESPONSE;
    case 'OUTCOME_UNKNOWN':
      return ErrorCode.OUTCOME_UNKNOWN;
    default:
      throw new UnreachableCaseError(code);
  }
}

/** The message a user sees for an upstream failure: what happened and what to do. */
function messageOfPortalError(error: PortalError): string {
  switch (error.code) {
    case 'UNAUTHENTICATED':
      return 'The Customer Portal refused the credentials: send `Authorization: Basic …` with your customer-portal user and password.';
    case 'FORBIDDEN':
      return error.endpoint === 'licenseDetail.download'
        ? "The Customer Portal refused the download: you cannot download licenses you don't have."
        : 'This record belongs to another customer.';
    case 'NOT_FOUND':
      return 'The Customer Portal has no record with this id.';
    case 'INVALID_INPUT':
      return error.detail
        ? `The Customer Portal refused the input: ${error.detail}`
        : 'The Customer Portal refused the input.';
    case 'TIMEOUT':
      return 'The Customer Portal did not answer in time.';
    case 'UNAVAILABLE':
      return error.endpoint === 'license.generate' && error.status !== undefined
        ? `The Customer Portal is unavailable (HTTP ${error.status}) and generated no licence; try again later.`
        : 'The Customer Portal is unavailable; try again later.';
    case 'INVALID_RESPONSE':
      return 'The Customer Portal answered with data this server cannot read.';
    case 'OUTCOME_UNKNOWN':
      return (
        'The request to generate a licence was sent to the Customer Portal, but its answer was lost: a licence may or may not ' +
        "have been generated. Look at the assignment's licences before trying again, or retry with the same idempotencyKey."
      );
    default:
      throw new UnreachableCaseError(error.code);
  }
}

export interface ErrorLogger {
  error(details: Record<string, unknown>, message: string): void;
}

export interface ErrorFormatterOptions {
  /**
   * Whether messages keep graphql-js's suggestions ("Did you mean …?"): of field, argument, type and input field
   * names and of enum values. They describe the schema, as introspection does, and go with it.
   */
  suggestions: boolean;
}

/**
 * Apollo's `formatError`: every error leaves with an `extensions.code` of the public table, and without suggestions
 * when they are off. Every error of every stage passes here (parsing, validation, the coercion of variables during
 * execution, Apollo's own refusals), so this is the one place that can take suggestions out of all of them.
 * This function should not throw.
 */
export function createErrorFormatter(logger: ErrorLogger, options: ErrorFormatterOptions) {
  const format = formatterOfCodes(logger);
  if (options.suggestions) return format;
  return function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const result = format(formatted, error);
    const message = withoutSuggestion(result.message);
    return message === result.message ? result : { ...result, message };
  };
}

/** A quoted GraphQL name, as graphql-js's `didYouMean` writes each suggestion. */
const QUOTED_NAME = '"[_A-Za-z][_0-9A-Za-z]*"';

/**
 * graphql-js's suggestion, as its `didYouMean` writes it: ` Did you mean "a"?`, `… "a" or "b"?`, `… "a", "b", or
 * "c"?`, with a few words before the names in some (`the enum value "A"`, `to use an inline fragment on "T"`).
 */
const SUGGESTION = new RegExp(` Did you mean (?:[a-z ]+ )?${QUOTED_NAME}(?:(?:, or |, | or )${QUOTED_NAME})*\\?`, 'g');

/** A message without graphql-js's suggestions: what was wrong stays ("Cannot query field "x" on type "T"."). */
function withoutSuggestion(message: string): string {
  return message.replace(SUGGESTION, '');
}

/** Maps every error to the public codes, masking the unexpected ones. */
function formatterOfCodes(logger: ErrorLogger) {
  return function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
    const original = unwrapResolverError(error);
    if (original instanceof PortalError) {
      const extensions: Record<string, unknown> = { code: codeOfPortalError(original.code) };
      if (original.field !== undefined) extensions.field = original.field;
      if (original.detail !== undefined) extensions.portalMessage = original.detail;
      if (original.status !== undefined) extensions.upstreamStatus = original.status;
      return {
        message: messageOfPortalError(original),
        locations: formatted.locations,
        path: formatted.path,
        extensions,
      };
    }
    if (original instanceof IdempotencyStoreError) {
      logger.error({ err: original }, 'idempotency store unavailable: keyed generateLicense refused');
      return {
        message:
          'The idempotency store is unavailable, so a generateLicense with an idempotencyKey is refused before any call: no licence was generated. Try again shortly.',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' },
      };
    }
    const inputError = findInputError(error);
    if (inputError) {
      const extensions: Record<string, unknown> = { ...formatted.extensions, code: ErrorCode.BAD_USER_INPUT };
      if (inputError.field !== undefined) extensions.field = inputError.field;
      return { ...formatted, extensions };
    }
    if (
      original instanceof GraphQLError &&
      original.extensions?.code === undefined &&
      isClientErrorStatus(original.extensions?.http)
    ) {
      // Apollo refuses some malformed requests (a persisted query of an unknown version, a hash that does not
      // match its query) with a 4xx but no code: the request is at fault, not the server.
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
    }
    if (original instanceof GraphQLError || isApolloRequestError(formatted)) {
      // A deliberate GraphQL error (parse, validation, a request error of Apollo's): its message is for the user.
      return formatted.extensions?.code
        ? formatted
        : { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error in a resolver');
    return {
      message: 'Unexpected error.',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** An InputError anywhere in the chain: scalar parse errors arrive wrapped in validation or variable errors. */
function findInputError(error: unknown): InputError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof InputError) return current;
    current = current instanceof GraphQLError ? current.originalError : undefined;
  }
  return undefined;
}

function isClientErrorStatus(http: unknown): boolean {
  const status = typeof http === 'object' && http !== null ? (http as { status?: unknown }).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

function isApolloRequestError(formatted: GraphQLFormattedError): boolean {
  const code = formatted.extensions?.code;
  return typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR;
}
