/**
 * The schema served as an Apollo Federation 2 subgraph (`FEDERATION_SUBGRAPH`): `schema.graphql` as it is, with
 * `@key(fields: "id")` on every entity type (`src/schema/entities.ts`), and `@apollo/subgraph`'s `_service` and
 * `_entities`, whose resolver is this server's (`resolvers/Entities.ts`), planned like any root field.
 */
import { concatAST, Kind, parse, visit, type DocumentNode, type GraphQLSchema } from 'graphql';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { ENTITY_KEY_FIELD, ENTITY_TYPES } from '../schema/entities';
import { entityResolvers } from './resolvers/Entities';
import type { RequestContext } from './context';

/** The version of the federation specification the subgraph links: one every current gateway composes. */
const FEDERATION_SPEC = 'https://specs.apollo.dev/federation/v2.3';

/**
 * The subgraph's type definitions: `typeDefs` (the standalone schema's) with the federation link and a `@key` on
 * each entity type.
 */
function subgraphTypeDefs(typeDefs: string): DocumentNode {
  const keyed = visit(parse(typeDefs), {
    ObjectTypeDefinition(node) {
      if (!ENTITY_TYPES.has(node.name.value)) return undefined;
      return { ...node, directives: [...(node.directives ?? []), keyDirective()] };
    },
  });
  return concatAST([parse(`extend schema @link(url: "${FEDERATION_SPEC}", import: ["@key"])`), keyed]);
}

/**
 * The executable subgraph schema: the standalone schema's resolvers and `_entities`'s, the root fields of both
 * under one `Query` (a merge of the two maps alone would keep only `_entities`'s, and every other root field would
 * answer null).
 */
export function subgraphSchema(typeDefs: string, resolvers: { Query?: object }): GraphQLSchema {
  const query = { ...resolvers.Query, ...entityResolvers.Query };
  return buildSubgraphSchema([
    {
      typeDefs: subgraphTypeDefs(typeDefs),
      resolvers: { ...resolvers, ...entityResolvers, Query: query } as GraphQLResolverMap<RequestContext>,
    },
  ]);
}

function keyDirective() {
  return {
    kind: Kind.DIRECTIVE,
    name: { kind: Kind.NAME, value: 'key' },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'fields' },
        value: { kind: Kind.STRING, value: ENTITY_KEY_FIELD },
      },
    ],
  } as const;
}
