/**
 * The schema model against `schema.graphql` itself: every field of every object type described, nothing described
 * that the schema lacks, and each description fitting its field's type. The compiler holds the model to the
 * generated types; this holds it to the schema as written, before `npm run codegen` has run.
 */
import {
  buildSchema,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  type GraphQLField,
  type GraphQLObjectType,
} from 'graphql';
import { loadTypeDefs } from '../../src/graphql/apollo';
import { describedFields, type FieldModel } from '../../src/schema/schemaModel';

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
