/**
 * The resolvers the schema model describes in full: computed scalars, relations (a record by the key its parent
 * holds) and licence files. A type's own file adds what the model does not say (pages, the mutation, the file's
 * bytes), so the key a relation is loaded by is the very key the planner and the answer counter read.
 */
import type { Resolvers } from '../../generated/graphql';
import type { Loaders } from '../../loaders/loaders';
import type { OneRecordKind } from '../../schema/recordKinds';
import { describedFields, unreachable, type FieldModel, type ObjectTypeName } from '../../schema/schemaModel';
import type { RequestContext } from '../context';

type FieldResolver = (parent: object, args: unknown, context: RequestContext) => unknown;

/**
 * A type's resolvers: those its model makes, and `own` for the fields the model leaves to the type's file. A field
 * resolved both ways is a mistake, refused as the server starts.
 *
 *     const ProductAssignment = withModel('ProductAssignment', { licenses: (assignment, args, context) => … });
 */
export function withModel<Type extends ObjectTypeName>(
  typeName: Type,
  own: NonNullable<Resolvers[Type]> | Record<string, never> = {},
): NonNullable<Resolvers[Type]> {
  const made: Record<string, FieldResolver> = {};
  for (const [fieldName, field] of describedFields().get(typeName) ?? []) {
    const resolver = resolverOf(field);
    if (!resolver) continue;
    if (fieldName in own)
      throw new Error(`${typeName}.${fieldName} is resolved by the schema model; its type's own resolver must go`);
    made[fieldName] = resolver;
  }
  return { ...made, ...own };
}

function resolverOf(field: FieldModel): FieldResolver | undefined {
  switch (field.kind) {
    case 'computed':
      return (parent) => field.compute(parent);
    case 'relation':
      return (parent, _args, { loaders }) => recordByKey(loaders, field.to, field.key(parent));
    case 'file':
      return (parent, _args, { loaders }) => loaders.fileByLicenseId.load(field.key(parent));
    case 'scalar':
    case 'scalarList':
    case 'part':
    case 'recordById':
    case 'list':
    case 'page':
    case 'pageItems':
    case 'edgeNode':
    case 'write':
    case 'written':
    case 'service': // `@apollo/subgraph`'s
    case 'entities': // `Entities.ts`, added with the subgraph's fields
      return undefined;
    default:
      return unreachable(field);
  }
}

/** A record by its key: a plain value when the request has it already, else through its loader. */
function recordByKey(loaders: Loaders, kind: OneRecordKind, key: number): unknown {
  switch (kind) {
    case 'assignment':
      return loaders.assignment(key);
    case 'license':
      return loaders.license(key);
    case 'detail':
      return loaders.detail(key);
    default:
      return unreachable(kind);
  }
}
