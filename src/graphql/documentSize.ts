/**
 * What one document may hold and what it weighs once parsed: the bound on its operations, checked in validation, and
 * the weight by which the parsed-document and compiled-operation caches bound what they keep.
 */
import { GraphQLError, Kind, type ASTVisitor, type DocumentNode, type ValidationContext } from 'graphql';

/**
 * Refuses a document with more than `max` operations (`MAX_OPERATIONS_PER_DOCUMENT`), before anything of it is
 * planned or compiled: each of its operations, asked by name, is compiled and kept on its own, so a document of
 * hundreds of operations sharing one large fragment costs hundreds of compilations.
 */
export function maxOperationsRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    Document(node) {
      const operations = node.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
      if (operations.length <= max) return;
      context.reportError(
        new GraphQLError(
          `This document holds ${operations.length} operations; at most ${max} are allowed (MAX_OPERATIONS_PER_DOCUMENT). Send the operations a page needs, not a library of them.`,
          { nodes: operations[max] },
        ),
      );
    },
  });
}

/**
 * Bytes of heap a parsed document holds for each byte of its AST as JSON: the AST keeps every token of the text
 * (graphql-js's locations link them all); measured on the operations clients send (the README's bounded caches).
 */
const HEAP_PER_AST_JSON_BYTE = 4;

/**
 * About how many bytes of memory a parsed document keeps alive: its AST, and its whole source text, which the AST
 * holds through its locations however little of it is tokens (a query padded with a long comment keeps the comment).
 * The text is counted at two bytes a character, as a string outside Latin-1 is held.
 */
export function documentBytes(document: DocumentNode): number {
  const text = document.loc?.source.body.length ?? 0;
  return 2 * text + HEAP_PER_AST_JSON_BYTE * Buffer.byteLength(JSON.stringify(document), 'utf8');
}
