/**
 * The demand of one operation, measured before it runs.
 *
 * Cost follows Apollo Router's static estimate (demand control) over the schema's own `@cost` and
 * `@listSize`, so this subgraph and a router in front of it price a field alike: an object costs
 * 1, a scalar or enum 0, a list its size × its item's cost, `@cost(weight:)` replaces a field's
 * (or its type's) cost, arguments cost their `@cost` (input objects 1), a mutation 10 more.
 * A list's size is its largest slicing argument, else its `assumedSize`, else DEFAULT_LIST_SIZE.
 *
 * Where the arguments say how much a field computes (work.ts) the estimate is exact instead of
 * assumed: lists of buckets have the window's length, and a field whose window holds more
 * buckets than its default one costs one more per extra bucket — "1m buckets over 30 days"
 * is 43,200 buckets, not a scalar.
 *
 * Aliases and introspection fields (`__schema`, `__type`) are counted with fragments expanded,
 * aliases inside introspection too. Introspection is not costed (a router answers it itself);
 * it is limited by these counts instead.
 * Fragments are measured once per context, so the walk is linear in the document's size.
 */
import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isCompositeType,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  type ASTNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type FragmentSpreadNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  valueFromASTUntyped,
} from "graphql";
import { FIELD_WORK } from "./work.js";

/** A router's `list_size` for lists without @listSize (every list of this schema has one). */
export const DEFAULT_LIST_SIZE = 10;
const MUTATION_COST = 10;
const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);

export interface Demand {
  cost: number;
  aliases: number;
  introspectionFields: number;
}

const NONE: Demand = Object.freeze({ cost: 0, aliases: 0, introspectionFields: 0 });
const add = (a: Demand, b: Demand): Demand => ({ cost: a.cost + b.cost, aliases: a.aliases + b.aliases, introspectionFields: a.introspectionFields + b.introspectionFields });

interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
  sizedFields?: string[];
  requireOneSlicingArgument: boolean;
}

/** The arguments of a directive as written in the SDL (its values are literals). */
function directiveArgs(node: { directives?: readonly DirectiveNode[] } | null | undefined, name: string): Record<string, unknown> | null {
  const found = node?.directives?.find((d) => d.name.value === name);
  if (!found) return null;
  return Object.fromEntries((found.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]));
}

/** `@cost(weight:)` on a schema element or any of its extensions. */
function costOf(element: { astNode?: ASTNode | null; extensionASTNodes?: readonly ASTNode[] }): number | null {
  for (const node of [element.astNode, ...(element.extensionASTNodes ?? [])]) {
    const args = directiveArgs(node as { directives?: readonly DirectiveNode[] }, "cost");
    if (args && typeof args.weight === "number") return args.weight;
  }
  return null;
}

function listSizeOf(field: GraphQLField<unknown, unknown>): ListSize | null {
  const args = directiveArgs(field.astNode, "listSize");
  if (!args) return null;
  return {
    assumedSize: typeof args.assumedSize === "number" ? args.assumedSize : undefined,
    slicingArguments: Array.isArray(args.slicingArguments) ? (args.slicingArguments as string[]) : undefined,
    sizedFields: Array.isArray(args.sizedFields) ? (args.sizedFields as string[]) : undefined,
    requireOneSlicingArgument: args.requireOneSlicingArgument !== false,
  };
}

/** The size @listSize gives for these arguments: the largest slicing argument, else assumedSize. */
function expectedSize(listSize: ListSize, args: Record<string, unknown>): number | undefined {
  const slices = (listSize.slicingArguments ?? []).map((name) => args[name]).filter((v): v is number => typeof v === "number");
  return slices.length > 0 ? Math.max(...slices) : listSize.assumedSize;
}

/** An argument's cost as a router scores it: input objects 1 (or their @cost) plus their fields. */
function inputCost(value: unknown, type: GraphQLInputType, weight: number | null): number {
  if (value === null || value === undefined) return 0;
  const t = isNonNullType(type) ? type.ofType : type;
  if (Array.isArray(value)) {
    const item = isListType(t) ? t.ofType : t;
    return value.reduce((sum: number, v) => sum + inputCost(v, item, weight), weight ?? 0);
  }
  if (isInputObjectType(t) && typeof value === "object") {
    const fields = t.getFields();
    let cost = weight ?? 1;
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      const f = fields[name];
      if (f) cost += inputCost(v, f.type, costOf(f));
    }
    return cost;
  }
  return weight ?? 0;
}

class Measure {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly memo = new Map<string, Demand>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly variables: Record<string, unknown>,
    private readonly now: Date,
  ) {
    for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(def.name.value, def);
  }

  private skipped(node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean {
    try {
      return getDirectiveValues(GraphQLSkipDirective, node, this.variables)?.if === true || getDirectiveValues(GraphQLIncludeDirective, node, this.variables)?.if === false;
    } catch {
      return false;
    }
  }

  selectionSet(set: SelectionSetNode | undefined, type: GraphQLNamedType, sized: ReadonlyMap<string, number> | null): Demand {
    let total = NONE;
    for (const sel of set?.selections ?? []) {
      if (sel.kind !== Kind.FIELD && this.skipped(sel)) continue;
      if (sel.kind === Kind.FIELD) total = add(total, this.field(sel, type, sized?.get(sel.name.value)));
      else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? this.schema.getType(sel.typeCondition.name.value) : type;
        total = add(total, this.selectionSet(sel.selectionSet, on ?? type, sized));
      } else {
        const fragment = this.fragments.get(sel.name.value);
        if (!fragment) continue;
        const key = `${fragment.name.value}|${sized ? JSON.stringify([...sized]) : ""}`;
        let found = this.memo.get(key);
        if (!found) {
          found = this.selectionSet(fragment.selectionSet, this.schema.getType(fragment.typeCondition.name.value) ?? type, sized);
          this.memo.set(key, found);
        }
        total = add(total, found);
      }
    }
    return total;
  }

  private field(node: FieldNode, parent: GraphQLNamedType, upstreamSize: number | undefined): Demand {
    const name = node.name.value;
    const aliases = node.alias ? 1 : 0;
    if (name === "__typename" || this.skipped(node)) return { ...NONE, aliases };
    if (INTROSPECTION_ROOTS.has(name)) {
      // Not costed, but its aliases count: 1,000 aliases of `types { fields { name } }` inside one
      // __schema would answer the whole schema 1,000 times.
      const meta = this.schema.getType(name === "__schema" ? "__Schema" : "__Type");
      const inner = meta ? this.selectionSet(node.selectionSet, meta, null) : NONE;
      return { cost: 0, aliases: aliases + inner.aliases, introspectionFields: 1 + inner.introspectionFields };
    }
    const def = "getFields" in parent ? (parent.getFields() as Record<string, GraphQLField<unknown, unknown>>)[name] : undefined;
    if (!def) return { ...NONE, aliases };

    const args = this.argumentValues(def, node);
    const work = FIELD_WORK[`${parent.name}.${name}`]?.(args, this.now) ?? null;
    const listSize = listSizeOf(def);
    const expected = listSize ? expectedSize(listSize, args) : undefined;
    const named = getNamedType(def.type);
    const instances = isListType(getNullableType(def.type)) ? (work?.length ?? upstreamSize ?? expected ?? DEFAULT_LIST_SIZE) : 1;

    const sized = new Map<string, number>();
    if (expected !== undefined) for (const f of listSize?.sizedFields ?? []) sized.set(f, expected);
    for (const [f, n] of Object.entries(work?.sizes ?? {})) sized.set(f, n);
    const children = this.selectionSet(node.selectionSet, named, sized.size > 0 ? sized : null);

    const extraBuckets = work?.buckets !== undefined ? Math.max(0, work.buckets - (work.assumedBuckets ?? 0)) : 0;
    const typeCost = (costOf(def) ?? costOf(named) ?? (isCompositeType(named) ? 1 : 0)) + extraBuckets + children.cost;
    let argumentsCost = 0;
    for (const arg of node.arguments ?? []) {
      const argDef = def.args.find((a) => a.name === arg.name.value);
      if (argDef) argumentsCost += inputCost(args[argDef.name], argDef.type, costOf(argDef));
    }
    return { cost: instances * typeCost + argumentsCost, aliases: aliases + children.aliases, introspectionFields: children.introspectionFields };
  }

  /** The field's arguments with variables applied; none when they do not coerce (execution will refuse them). */
  private argumentValues(def: GraphQLField<unknown, unknown>, node: FieldNode): Record<string, unknown> {
    try {
      return getArgumentValues(def, node, this.variables);
    } catch {
      return {};
    }
  }
}

/** Measures `operation` of `document` (already validated) with the request's raw variables. */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown> | undefined,
  now: Date,
): Demand {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  const measure = new Measure(schema, document, coerced.coerced ?? {}, now);
  const root = schema.getRootType(operation.operation);
  if (!root) return NONE;
  const body = measure.selectionSet(operation.selectionSet, root, null);
  return operation.operation === "mutation" ? { ...body, cost: body.cost + MUTATION_COST } : body;
}
