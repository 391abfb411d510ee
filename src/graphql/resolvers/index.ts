/**
 * Every resolver of the schema: those the schema model makes (computed fields, relations, licence files), and one
 * file per type for the rest. `License` and `LicenseDetail` need nothing beyond their model.
 */
import type { Resolvers } from '../../generated/graphql';
import { DateScalar, DateTimeScalar } from '../scalars';
import { LicenseConnection, LicenseDetailConnection, LicenseDetailEdge, LicenseEdge } from './Connections';
import { withModel } from './fromModel';
import { LicenseFile } from './LicenseFile';
import { GenerateLicensePayload, Mutation } from './Mutation';
import { ProductAssignment } from './ProductAssignment';
import { Query } from './Query';

export const resolvers: Resolvers = {
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query: withModel('Query', Query),
  Mutation: withModel('Mutation', Mutation),
  GenerateLicensePayload: withModel('GenerateLicensePayload', GenerateLicensePayload),
  ProductAssignment: withModel('ProductAssignment', ProductAssignment),
  License: withModel('License'),
  LicenseDetail: withModel('LicenseDetail'),
  LicenseFile: withModel('LicenseFile', LicenseFile),
  LicenseConnection: withModel('LicenseConnection', LicenseConnection),
  LicenseDetailConnection: withModel('LicenseDetailConnection', LicenseDetailConnection),
  LicenseEdge: withModel('LicenseEdge', LicenseEdge),
  LicenseDetailEdge: withModel('LicenseDetailEdge', LicenseDetailEdge),
};
