/**
 * A manifest of trusted documents: the operations the frontends were built with, read from the file their build
 * wrote, each parsed and validated against the schema before the server goes live with it. Two formats are read:
 * - graphql-codegen's client preset (`persisted-documents.json`): `{"<id>": "<document text>", …}`, the ids the hex
 *   SHA-1 (or, with `hashAlgorithm: 'sha256'`, SHA-256) of the text;
 * - Apollo's persisted query manifest: `{"format": "apollo-persisted-query-manifest", "version": 1,
 *   "operations": [{"id", "name", "type", "body"}, …]}`.
 * Whatever its ids, every document is also found by the hex SHA-256 of its text, which APQ and a full-text request
 * are matched by.
 *
 *     const manifest = readManifest('/etc/portal-graphql/persisted-documents.json', schema);
 *     manifest.byId('a1b2…') ?? manifest.bySha256(sha256Hex(text));
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Kind, parse, specifiedRules, validate, type GraphQLError, type GraphQLSchema } from 'graphql';
import { KnownOperationTypesRule } from './knownOperationTypes';

export interface TrustedDocument {
  /** The manifest's id of the document. */
  id: string;
  /** Its operations' names, as the manifest or the text gives them; null for an anonymous one. */
  name: string | null;
  text: string;
  /** The hex SHA-256 of the text. */
  sha256: string;
}

/** A manifest that cannot be used: the message names the file, and the document when one is at fault. */
class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export class TrustedManifest {
  private readonly ids = new Map<string, TrustedDocument>();
  private readonly hashes = new Map<string, TrustedDocument>();

  constructor(documents: readonly TrustedDocument[]) {
    for (const document of documents) {
      this.ids.set(document.id, document);
      this.hashes.set(document.sha256, document);
    }
  }

  /** How many documents it holds. */
  get size(): number {
    return this.ids.size;
  }

  /** The document the manifest names `id`, or, failing that, whose text hashes to it. */
  byId(id: string): TrustedDocument | undefined {
    return this.ids.get(id) ?? this.hashes.get(id.toLowerCase());
  }

  /** The document whose text has this hex SHA-256. */
  bySha256(sha256: string): TrustedDocument | undefined {
    return this.hashes.get(sha256.toLowerCase());
  }
}

/** The hex SHA-256 of a document's text, as APQ names it. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads, parses and validates a manifest; throws a `ManifestError` that says what is wrong and where. */
export function readManifest(path: string, schema: GraphQLSchema): TrustedManifest {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ManifestError(`The trusted documents' manifest ${path} cannot be read: ${(error as Error).message}`);
  }
  const entries = entriesOf(json, path);
  return new TrustedManifest(entries.map((entry) => checked(entry, schema, path)));
}

/** The manifest's documents as written, in either format. */
function entriesOf(json: unknown, path: string): Array<{ id: string; name: string | null; text: string }> {
  const wrong = (what: string) =>
    new ManifestError(
      `The trusted documents' manifest ${path} is not one: ${what}. Expected graphql-codegen's persisted-documents.json ({"<id>": "<document>"}) or an Apollo persisted query manifest.`,
    );
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw wrong('its JSON is not an object');
  const record = json as Record<string, unknown>;
  if (!('format' in record)) {
    return Object.entries(record).map(([id, text]) => {
      if (typeof text !== 'string') throw wrong(`the value of ${JSON.stringify(id)} is not a document's text`);
      return { id, name: null, text };
    });
  }
  if (record.format !== 'apollo-persisted-query-manifest' || record.version !== 1 || !Array.isArray(record.operations))
    throw wrong('its format is not apollo-persisted-query-manifest version 1 with a list of operations');
  return record.operations.map((operation: unknown, index) => {
    const { id, name, body } = (operation ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || typeof body !== 'string') throw wrong(`operation ${index} has no string id and body`);
    return { id, name: typeof name === 'string' ? name : null, text: body };
  });
}

/** A document parsed and validated against the schema, or a `ManifestError` naming it. */
function checked(
  entry: { id: string; name: string | null; text: string },
  schema: GraphQLSchema,
  path: string,
): TrustedDocument {
  let errors: readonly GraphQLError[];
  let names: string[] = [];
  try {
    const document = parse(entry.text);
    names = document.definitions.flatMap((definition) =>
      definition.kind === Kind.OPERATION_DEFINITION && definition.name ? [definition.name.value] : [],
    );
    errors = validate(schema, document, [...specifiedRules, KnownOperationTypesRule]);
  } catch (error) {
    errors = [error as GraphQLError];
  }
  const name = entry.name ?? (names.length > 0 ? names.join(', ') : null);
  if (errors.length > 0) {
    throw new ManifestError(
      `The trusted document ${JSON.stringify(entry.id)}${name ? ` (${name})` : ''} in ${path} does not fit the schema: ${errors
        .map((error) => error.message)
        .join(' ')}`,
    );
  }
  return { id: entry.id, name, text: entry.text, sha256: sha256Hex(entry.text) };
}
