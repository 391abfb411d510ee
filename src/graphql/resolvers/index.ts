/**
 * Every resolver of the schema, one file per type.
 */
import type { Resolvers } from '../../generated/graphql';
import { DateScalar, DateTimeScalar } from '../scalars';
import { LicenseConnection, LicenseDetailConnection, LicenseDetailEdge, LicenseEdge } from './Connections';
import { License } from './License';
import { LicenseDetail } from './LicenseDetail';
import { LicenseFile } from './LicenseFile';
import { GenerateLicensePayload, Mutation } from './Mutation';
import { ProductAssignment } from './ProductAssignment';
import { Query } from './Query';

export const resolvers: Resolvers = {
  Date: DateScalar,
  DateTime: DateTimeScalar,
  Query,
  Mutation,
  GenerateLicensePayload,
  ProductAssignment,
  License,
  LicenseDetail,
  LicenseFile,
  LicenseConnection,
  LicenseDetailConnection,
  LicenseEdge,
  LicenseDetailEdge,
};
