/** The validation rule that refuses an operation of a type the schema has no root for (a subscription here). */
import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/**
 * Refuses an operation whose type the schema has no root for, such as a subscription here. graphql-js 16 validates
 * the fields of such an operation against no type at all, so nothing stops it before execution, which then throws
 * "Schema is not configured to execute subscription operation", and Apollo answers that as an internal error. It
 * is the client's mistake: graphql-js 17 has this rule among its standard ones.
 */
export function KnownOperationTypesRule(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  return {
    OperationDefinition(node) {
      if (schema.getRootType(node.operation)) return;
      context.reportError(new GraphQLError(`This schema has no ${node.operation} operations.`, { nodes: node }));
    },
  };
}
