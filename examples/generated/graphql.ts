/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** What to generate a licence for. */
export type GenerateLicenseInput = {
  /** The last day the licence is valid; not in the past and not after the assignment's `validUntil`. */
  expirationDate: string;
  /** The hardware id to bind the licence to: 1 to 128 characters, no whitespace, control or invisible formatting characters. */
  hwid: string;
  /** Same key, same caller: the licence generated the first time is returned, and nothing new is generated. */
  idempotencyKey?: string | null | undefined;
  /** A free-text note, at most 1000 characters. */
  note?: string | null | undefined;
  /** The product assignment to take the licence from, a positive integer. */
  productAssignmentId: string | number;
};

export type LicenceOverviewQueryVariables = Exact<{ [key: string]: never; }>;


export type LicenceOverviewQuery = { productAssignments: Array<{ id: string, productName: string, totalLicenseCount: number | null, usedLicenseCount: number, remainingLicenseCount: number | null, validUntil: string | null, licenses: { totalCount: number, nodes: Array<{ id: string, hwid: string | null, expirationDate: string, expired: boolean, detail: { fileName: string, downloadUrl: string } | null }> } | null }> | null };

export type GenerateLicenceMutationVariables = Exact<{
  input: GenerateLicenseInput;
}>;


export type GenerateLicenceMutation = { generateLicense: { license: { id: string, hwid: string | null, expirationDate: string, detail: { fileName: string, downloadUrl: string } | null }, productAssignment: { id: string, usedLicenseCount: number, remainingLicenseCount: number | null } | null } | null };


export const LicenceOverviewDocument = {"__meta__":{"hash":"sha256:86f586be19a6c52f40f51da8de146370827afec37c7e37e72243d35a42de0b15"}} as unknown as DocumentNode<LicenceOverviewQuery, LicenceOverviewQueryVariables>;
export const GenerateLicenceDocument = {"__meta__":{"hash":"sha256:2734003be2d3ac766ba90304c8c978a9fe71add531ee598ad445a07bbad7b26e"}} as unknown as DocumentNode<GenerateLicenceMutation, GenerateLicenceMutationVariables>;