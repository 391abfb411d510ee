/**
 * The connection types: a page made by `connections.ts`, exposed as edges, nodes and pageInfo.
 */
import type {
  LicenseConnectionResolvers,
  LicenseDetailConnectionResolvers,
  LicenseDetailEdgeResolvers,
  LicenseEdgeResolvers,
} from '../../generated/graphql';
import { cursorOf, type Page } from '../connections';
import type { RequestContext } from '../context';

/** A page's edges, or none once the answer has handed out all the list items it may hold. */
function edgesOf<T>(page: Page<T>, context: RequestContext) {
  return context.allowance.take(page.nodes.length) ? page.edges : [];
}

/**
 * A page's nodes, or none once the answer has handed out all the list items it may hold. The page's own list,
 * not a copy: the executor only reads it.
 */
function nodesOf<T>(page: Page<T>, context: RequestContext) {
  return context.allowance.take(page.nodes.length) ? (page.nodes as T[]) : [];
}

function pageInfo<T>(page: Page<T>) {
  const { nodes } = page;
  return {
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.hasPreviousPage,
    startCursor: nodes.length > 0 ? cursorOf(page.edgeOf(nodes[0]!)) : null,
    endCursor: nodes.length > 0 ? cursorOf(page.edgeOf(nodes[nodes.length - 1]!)) : null,
  };
}

export const LicenseConnection: LicenseConnectionResolvers = {
  totalCount: (page) => page.totalCount,
  edges: (page, _args, context) => edgesOf(page, context),
  nodes: (page, _args, context) => nodesOf(page, context),
  pageInfo,
};

export const LicenseDetailConnection: LicenseDetailConnectionResolvers = {
  totalCount: (page) => page.totalCount,
  edges: (page, _args, context) => edgesOf(page, context),
  nodes: (page, _args, context) => nodesOf(page, context),
  pageInfo,
};

export const LicenseEdge: LicenseEdgeResolvers = {
  cursor: cursorOf,
  node: (edge) => edge.node,
};

export const LicenseDetailEdge: LicenseDetailEdgeResolvers = {
  cursor: cursorOf,
  node: (edge) => edge.node,
};
