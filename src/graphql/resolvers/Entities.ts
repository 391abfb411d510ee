/**
 * `Query._entities` of the Federation subgraph: each representation's record, in the order given, read through the
 * request's loaders like any record named by id, so that the operation's plan has already started its calls. A
 * representation that names no record is `BAD_USER_INPUT` at its index; one the portal refuses (another customer's)
 * has the portal's answer there; the others are answered.
 */
import type { Loaders } from '../../loaders/loaders';
import { unreachable } from '../../schema/schemaModel';
import { readRepresentation, type EntityTypeName } from '../../schema/entities';
import type { RequestContext } from '../context';
import { InputError } from '../errors';

/** An entity as resolved: its record, which says its type for `_Entity`. */
type Entity = object & { readonly __typename: EntityTypeName };

export const entityResolvers = {
  Query: {
    _entities: (_parent: unknown, args: { representations: readonly unknown[] }, { loaders }: RequestContext) =>
      args.representations.map((representation) => entityOf(loaders, representation)),
  },
  _Entity: {
    __resolveType: (entity: Entity) => entity.__typename,
  },
};

/**
 * One representation's entity: a plain value when the request has its record, else a promise; a rejected one, with an
 * `InputError`, when it names no record, answered at its index. (graphql-jit, which runs an operation without
 * variables once it is seen again, answers an Error given as a list's item with one null too many.)
 */
function entityOf(loaders: Loaders, representation: unknown): Entity | Promise<Entity> {
  const reference = readRepresentation(representation);
  if (reference.refused) return Promise.reject(new InputError(reference.message, reference.field));
  const { type, id } = reference;
  const record = recordOf(loaders, reference.kind, id);
  // A copy that names its type: the record itself may be shared with the rest of the request.
  return record instanceof Promise
    ? record.then((found) => ({ ...found, __typename: type }))
    : { ...record, __typename: type };
}

function recordOf(loaders: Loaders, kind: 'assignment' | 'license' | 'detail', id: number): object | Promise<object> {
  switch (kind) {
    case 'assignment':
      return loaders.assignment(id);
    case 'license':
      return loaders.license(id);
    case 'detail':
      // A detail's `id` is its own, not its licence's: only the detail list holds it.
      return loaders.detailByOwnId(id);
    default:
      return unreachable(kind);
  }
}
