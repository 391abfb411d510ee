/**
 * `Query`: the entry points. Every argument is checked before the first upstream call.
 */
import type { QueryResolvers } from '../../generated/graphql';
import { checkPageArgs, licenseDetailOrdering, paginate } from '../connections';
import { parseId } from '../inputs';
import { licensesPage } from './licensesPage';

export const Query: QueryResolvers = {
  productAssignments: (_parent, _args, { loaders }) => loaders.allAssignments(),

  productAssignment: (_parent, { id }, { loaders }) => loaders.assignment(parseId(id, 'id')),

  licenses(_parent, args, context) {
    return licensesPage(context, args, undefined);
  },

  license: (_parent, { id }, { loaders }) => loaders.license(parseId(id, 'id')),

  async licenseDetails(_parent, { first, after }, { loaders }) {
    const page = checkPageArgs(licenseDetailOrdering, first, after);
    return paginate(await loaders.allDetails(), licenseDetailOrdering, page);
  },

  licenseDetail: (_parent, { licenseId }, { loaders }) => loaders.detail(parseId(licenseId, 'licenseId')),
};
