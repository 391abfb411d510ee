/**
 * The kinds of record the portal serves, and the one vocabulary the planner, the answer counter and the schema
 * model name them by. Each kind says which GraphQL type it is, which portal list brings every record of it, and
 * under which key the loaders' `RecordIds` hold its ids.
 */
import type { RecordIds } from '../loaders/loaders';

/**
 * The kinds of record the portal serves by a key: an assignment, a licence and a detail (keyed by its licence's
 * id, not its own), and the licences of one assignment (keyed by the assignment's id).
 */
export type RecordKind = 'assignment' | 'license' | 'detail' | 'licensesOfAssignment';

/** The kinds that are one record, which a field can name by its key. */
export type OneRecordKind = Exclude<RecordKind, 'licensesOfAssignment'>;

/** The portal's lists of every record of one kind, by the name their sizes are remembered under. */
type PortalList = 'assignments' | 'licenses' | 'details';

/** How many records of each list a caller's last answers held; undefined when never seen. */
export type ListSizes = { [List in PortalList]?: number };

interface OneRecordKindModel {
  /** The GraphQL type a record of this kind is. */
  readonly type: 'ProductAssignment' | 'License' | 'LicenseDetail';
  /** The list that brings every record of this kind. */
  readonly list: PortalList;
  /** Where the loaders' `RecordIds` hold ids of this kind. */
  readonly ids: keyof RecordIds;
  /**
   * Whether the type's `id` field is the key the kind is found by (its show call's id). A detail's `id` is its own,
   * which only the detail list holds: the kind is keyed by its licence's id.
   */
  readonly idIsKey: boolean;
}

export const RECORD_KINDS: { readonly [Kind in OneRecordKind]: OneRecordKindModel } = {
  assignment: { type: 'ProductAssignment', list: 'assignments', ids: 'assignments', idIsKey: true },
  license: { type: 'License', list: 'licenses', ids: 'licenses', idIsKey: true },
  detail: { type: 'LicenseDetail', list: 'details', ids: 'details', idIsKey: false },
};
