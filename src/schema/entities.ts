/**
 * The schema's entities, as a Federation subgraph offers them to other subgraphs: every type a record kind is
 * (`RECORD_KINDS`), referenced by its `id`. The subgraph's SDL (its `@key`s), the `_entities` resolver, the planner
 * and the answer counter all read a representation through `readRepresentation`, so they agree on what it names.
 */
import { positiveIntegerId } from '../portal/endpoints';
import { RECORD_KINDS, type OneRecordKind } from './recordKinds';

/** The field every entity type is referenced by: `@key(fields: "id")`. */
export const ENTITY_KEY_FIELD = 'id';

/** The union of the entity types that `_entities` answers (`@apollo/subgraph` names it so). */
export const ENTITY_UNION = '_Entity';

/** An entity type: a record kind's GraphQL type. */
export type EntityTypeName = (typeof RECORD_KINDS)[OneRecordKind]['type'];

/** The entity types, each with the record kind it is. */
export const ENTITY_TYPES: ReadonlyMap<string, OneRecordKind> = new Map(
  (Object.keys(RECORD_KINDS) as OneRecordKind[]).map((kind) => [RECORD_KINDS[kind].type, kind]),
);

/** A representation read: the record it names, or why it names none. */
export type Representation =
  | { readonly refused: false; readonly type: EntityTypeName; readonly kind: OneRecordKind; readonly id: number }
  | { readonly refused: true; readonly message: string; readonly field: string };

/**
 * What one representation of `_entities(representations:)` names: an entity type and its id (a positive integer,
 * as every id of the portal). Anything else is refused, with the input field to blame.
 *
 *     readRepresentation({ __typename: 'License', id: '1002' }); // { refused: false, type: 'License', kind: 'license', id: 1002 }
 *     readRepresentation({ __typename: 'Device', hwid: 'x' });  // { refused: true, field: '__typename', … }
 */
export function readRepresentation(value: unknown): Representation {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return refuse('A representation must be an object with `__typename` and `id`.', 'representations');
  const { __typename: typeName, [ENTITY_KEY_FIELD]: id } = value as Record<string, unknown>;
  const kind = typeof typeName === 'string' ? ENTITY_TYPES.get(typeName) : undefined;
  if (kind === undefined) {
    const types = [...ENTITY_TYPES.keys()].join(', ');
    return refuse(
      `A representation's \`__typename\` must be one of ${types}, but got: ${shortly(typeName)}`,
      '__typename',
    );
  }
  const recordId = positiveIntegerId(id);
  if (recordId === undefined)
    return refuse(`A representation's \`id\` must be a positive integer id, but got: ${shortly(id)}`, ENTITY_KEY_FIELD);
  return { refused: false, type: RECORD_KINDS[kind].type, kind, id: recordId };
}

/** The representations an argument holds: GraphQL takes a single value given for a list as a list of one. */
export function representationsOf(argument: unknown): readonly unknown[] {
  if (argument === undefined || argument === null) return [];
  return Array.isArray(argument) ? argument : [argument];
}

function refuse(message: string, field: string): Representation {
  return { refused: true, message, field };
}

/** A short, safe rendering of a refused value. */
function shortly(value: unknown): string {
  // Values come from JSON (variables) or GraphQL literals: JSON writes each of them.
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
