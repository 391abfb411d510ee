/**
 * The schema model against `schema.graphql` itself: every field of every object type described, nothing described
 * that the schema lacks, and each description fitting its field's type. The compiler holds the model to the
 * generated types; this holds it to the schema as written, before `npm run codegen` has run.
 */
import {
  Kind,
  buildSchema,
  parse,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  type GraphQLField,
  type GraphQLObjectType,
  type OperationDefinitionNode,
} from 'graphql';
import { loadTypeDefs } from '../../src/graphql/apollo';
import { argumentsAccepted } from '../../src/graphql/plugins';
import { answerShape, countAnswer } from '../../src/graphql/resultSize';
import { planOperation } from '../../src/planner/operationPlan';
import { describedFields, fieldModel, type FieldModel } from '../../src/schema/schemaModel';
import { licenseRecord } from '../helpers/wireRecords';

const schema = buildSchema(loadTypeDefs());
const MODEL_FILE = 'src/schema/schemaModel.ts';

/** The schema's own object types (not introspection's), by name. */
const objectTypes: GraphQLObjectType[] = Object.values(schema.getTypeMap()).filter(
  (type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'),
);

/** What is wrong with a field's description, or undefined when it fits the field. */
function misfit(field: GraphQLField<unknown, unknown>, model: FieldModel): string | undefined {
  const named = getNamedType(field.type);
  const list = isListType(getNullableType(field.type));
  if (!isObjectType(named)) {
    const fits = list ? model.kind === 'scalarList' : model.kind === 'scalar' || model.kind === 'computed';
    return fits ? undefined : `is ${String(field.type)}, but described as ${model.kind}`;
  }
  if (model.kind === 'scalar' || model.kind === 'computed' || model.kind === 'scalarList')
    return `is ${String(field.type)}, but described as ${model.kind}`;
  if (model.kind === 'service' || model.kind === 'entities') return `is described as the subgraph's ${model.kind}`;
  if (model.type !== named.name) return `is ${String(field.type)}, but described as a ${model.kind} of ${model.type}`;
  const argumentNames = new Set(field.args.map((argument) => argument.name));
  if (model.kind === 'recordById' && !argumentNames.has(model.argument))
    return `has no argument ${model.argument}, which its description reads the id from`;
  if (model.kind === 'page' && !argumentNames.has('first')) return 'is described as a page, but takes no `first`';
  return undefined;
}

describe('the schema model describes schema.graphql', () => {
  test('every field of every object type of the schema is described', () => {
    const undescribed = objectTypes.flatMap((type) =>
      Object.keys(type.getFields())
        .filter((name) => describedFields().get(type.name)?.get(name) === undefined)
        .map((name) => `${type.name}.${name} is in schema.graphql but not described in ${MODEL_FILE}`),
    );
    expect(undescribed).toEqual([]);
  });

  test('the model describes no type or field the schema lacks', () => {
    const extra = [...describedFields()].flatMap(([typeName, fields]) => {
      const type = schema.getType(typeName);
      if (!isObjectType(type))
        return [`${typeName} is described in ${MODEL_FILE} but is no object type of schema.graphql`];
      return [...fields.keys()]
        .filter((name) => type.getFields()[name] === undefined)
        .map((name) => `${typeName}.${name} is described in ${MODEL_FILE} but not in schema.graphql`);
    });
    expect(extra).toEqual([]);
  });

  test("each description fits its field's type and arguments", () => {
    const misfits = objectTypes.flatMap((type) =>
      Object.values(type.getFields()).flatMap((field) => {
        const model = describedFields().get(type.name)?.get(field.name);
        const wrong = model && misfit(field, model);
        return wrong ? [`${type.name}.${field.name} ${wrong}`] : [];
      }),
    );
    expect(misfits).toEqual([]);
  });
});

/** A computed field's value for `record`, as its resolver would answer it. */
function computed(typeName: string, fieldName: string, record: object): unknown {
  const model = fieldModel(typeName, fieldName);
  if (model?.kind !== 'computed') throw new Error(`${typeName}.${fieldName} is not described as computed`);
  return model.compute(record);
}

describe('License.daysUntilExpiry, added through schema.graphql and the model alone', () => {
  afterEach(() => jest.useRealTimers());

  test.each([
    ['2026-12-06T00:00:00Z', '2026-12-31', 25],
    ['2026-12-31T23:59:59Z', '2026-12-31', 0],
    ['2027-01-01T00:00:00Z', '2026-12-31', -1],
    ['2028-02-28T12:00:00Z', '2028-03-01', 2],
  ])('at %s, a licence valid through %s has %i days left, negative exactly when expired', (now, date, days) => {
    jest.useFakeTimers({ now: new Date(now) });
    const license = licenseRecord(7, { expiration_date: date });
    expect(computed('License', 'daysUntilExpiry', license)).toBe(days);
    expect(computed('License', 'expired', license)).toBe(days < 0);
  });

  const operationOf = (query: string) => {
    const document = parse(query);
    const operation = document.definitions.find(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    )!;
    return { document, operation };
  };
  const sizes = { assignments: 4, licenses: 40, details: 40 };
  const planOf = (query: string) => {
    const { document, operation } = operationOf(query);
    return planOperation(document, operation, undefined, { accepts: argumentsAccepted, listSizes: sizes, budget: 50 });
  };
  const countOf = (query: string) => {
    const { document, operation } = operationOf(query);
    return countAnswer(answerShape(schema, document, operation, undefined), undefined, sizes).objects;
  };

  test.each([
    ['a page of licences', '{ licenses(first: 10) { nodes { id FIELD } } }', 11],
    ['one licence with its detail', '{ license(id: 5) { FIELD detail { id } } }', 2],
    [
      'the nested overview',
      '{ productAssignments { licenses { nodes { FIELD productAssignment { id } } } } }',
      4 + 4 * (1 + 10 + 10),
    ],
    [
      'a licence just generated',
      'mutation { generateLicense(input: { productAssignmentId: 1, hwid: "HW-1", expirationDate: "2027-01-01" }) { license { id FIELD } } }',
      2,
    ],
  ])('%s: the same calls and the same count as without it', (_name, query, objects) => {
    const withIt = query.replace('FIELD', 'daysUntilExpiry');
    const without = query.replace('FIELD', '');
    expect(planOf(withIt)).toEqual(planOf(without));
    expect(countOf(withIt)).toBe(objects);
    expect(countOf(without)).toBe(objects);
  });
});
