/**
 * Reading an operation's selections as graphql-js will execute them: fragments expanded, `@skip` and `@include`
 * honoured, argument values with the request's variables. Shared by the call planner and the answer's size.
 */
import {
  Kind,
  valueFromASTUntyped,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import { ENTITY_UNION } from '../schema/entities';

export class Selections {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();

  constructor(
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
  ) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  /**
   * The fields of a selection set, with fragments expanded and skipped selections left out. As in graphql-js's
   * field collection, each fragment is expanded at most once per selection set: a document whose fragments spread
   * each other twice over must not cost 2^n walks (a 1 KB document would block the server for minutes).
   */
  fields(selectionSet: SelectionSetNode | undefined, typeName?: string): FieldNode[] {
    const collected: FieldNode[] = [];
    this.collect(selectionSet, new Set(), collected, typeName);
    return collected;
  }

  /** One argument's value, variables substituted; undefined when absent. */
  argument(field: FieldNode, name: string): unknown {
    const node = field.arguments?.find((argument) => argument.name.value === name);
    return node ? this.value(node.value) : undefined;
  }

  /** Every argument given, variables substituted. */
  arguments(field: FieldNode): Record<string, unknown> {
    const args: Record<string, unknown> = {};
    for (const argument of field.arguments ?? []) args[argument.name.value] = this.value(argument.value);
    return args;
  }

  /**
   * `typeName`, when given, is the object type the selections are made on: a fragment on another object type is left
   * out (below a union, `_entities { ... on License { … } ... on ProductAssignment { … } }`). Every other type of
   * this schema is an object type, so a fragment's condition is its own, or the union's.
   */
  private collect(
    selectionSet: SelectionSetNode | undefined,
    visited: Set<string>,
    into: FieldNode[],
    typeName: string | undefined,
  ): void {
    if (!selectionSet) return;
    for (const selection of selectionSet.selections) {
      if (!this.included(selection.directives)) continue;
      if (selection.kind === Kind.FIELD) into.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (appliesTo(selection.typeCondition?.name.value, typeName))
          this.collect(selection.selectionSet, visited, into, typeName);
      } else {
        const name = selection.name.value;
        const fragment = this.fragments.get(name);
        if (!fragment || visited.has(name) || !appliesTo(fragment.typeCondition.name.value, typeName)) continue;
        visited.add(name);
        this.collect(fragment.selectionSet, visited, into, typeName);
      }
    }
  }

  private included(directives: readonly DirectiveNode[] | undefined): boolean {
    for (const directive of directives ?? []) {
      const condition = directive.arguments?.find((argument) => argument.name.value === 'if');
      const value = condition ? this.value(condition.value) : undefined;
      if (directive.name.value === 'skip' && value === true) return false;
      if (directive.name.value === 'include' && value === false) return false;
    }
    return true;
  }

  private value(node: ValueNode): unknown {
    return valueFromASTUntyped(node, this.variables);
  }
}

/** Whether a fragment on `condition` applies to an object of `typeName` (unknown: it does). */
function appliesTo(condition: string | undefined, typeName: string | undefined): boolean {
  return condition === undefined || typeName === undefined || condition === typeName || condition === ENTITY_UNION;
}
