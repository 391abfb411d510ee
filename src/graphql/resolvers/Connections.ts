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
  return context.allowance.take(page.edges.length) ? page.edges : [];
}

function pageInfo<T>(page: Page<T>) {
  return {
    hasNextPage: page.hasNextPage,
    hasPreviousPage: page.hasPreviousPage,
    startCursor: page.edges.length > 0 ? cursorOf(page.edges[0]!) : null,
    endCursor: page.edges.length > 0 ? cursorOf(page.edges[page.edges.length - 1]!) : null,
  };
}

export const LicenseConnection: LicenseConnectionResolvers = {
  totalCount: (page) => page.totalCount,
  edges: (page, _args, context) => edgesOf(page, context),
  nodes: (page, _args, context) => edgesOf(page, context).map((edge) => edge.node),
  pageInfo,
};

export const LicenseDetailConnection: LicenseDetailConnectionResolvers = {
  totalCount: (page) => page.totalCount,
  edges: (page, _args, context) => edgesOf(page, context),
  nodes: (page, _args, context) => edgesOf(page, context).map((edge) => edge.node),
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
