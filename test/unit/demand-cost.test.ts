/**
 * The demand model without a server: the schema carries what a router needs to price every
 * operation (a test that fails when a list or a database-backed field is added without its
 * directive), the supergraph keeps it, and the estimate follows Apollo's rules plus the windows.
 */
import { getNullableType, getOperationAST, isListType, isObjectType, parse, type GraphQLField, type GraphQLObjectType } from "graphql";
import { describe, expect, it } from "vitest";
import { composeSupergraph, USAGE_SUBGRAPH } from "../../scripts/compose.js";
import { measureOperation } from "../../src/graphql/demand/cost.js";
import { buildSchema, subgraphSdl } from "../../src/graphql/schema.js";

const schema = buildSchema();
const NOW = new Date("2026-05-31T00:00:00Z");
const measure = (query: string, variables?: Record<string, unknown>) => {
  const doc = parse(query);
  return measureOperation(schema, doc, getOperationAST(doc)!, variables, NOW);
};

const hasDirective = (field: GraphQLField<unknown, unknown>, name: string) => field.astNode?.directives?.some((d) => d.name.value === name) ?? false;

/** Object types of this subgraph (not introspection's, not federation's `_Service`/`_Entity`…). */
const ownObjectTypes = () =>
  Object.values(schema.getTypeMap()).filter((t): t is GraphQLObjectType => isObjectType(t) && !t.name.startsWith("_"));

/**
 * Fields answered without a database round trip of their own: the caller (authenticated once per
 * request, whatever it asks) and what the sandbox document already loaded for its reference holds.
 */
const NO_ROUND_TRIP = new Set(["Query.viewer", "Sandbox.alias", "Sandbox.tags", "Sandbox.tagsLastUpdatedAt"]);

describe("the schema prices itself", () => {
  it("puts @listSize on every list field", () => {
    const missing = ownObjectTypes().flatMap((type) =>
      Object.values(type.getFields())
        .filter((f) => !f.name.startsWith("_") && isListType(getNullableType(f.type)) && !hasDirective(f, "listSize"))
        .map((f) => `${type.name}.${f.name}`),
    );
    expect(missing).toEqual([]);
  });

  it("puts @cost on every root field and every entity field that costs a database round trip", () => {
    const entities = ownObjectTypes().filter((t) => t.astNode?.directives?.some((d) => d.name.value === "key"));
    expect(entities.map((t) => t.name).sort()).toEqual(["Organization", "Sandbox", "User"]);
    const roots = [schema.getQueryType()!, schema.getMutationType()!];
    const missing = [...roots, ...entities].flatMap((type) =>
      Object.values(type.getFields())
        .filter((f) => !f.name.startsWith("_") && f.name !== "id" && !NO_ROUND_TRIP.has(`${type.name}.${f.name}`) && !hasDirective(f, "cost"))
        .map((f) => `${type.name}.${f.name}`),
    );
    expect(missing).toEqual([]);
  });

  it("keeps @cost and @listSize through composition, for a router to enforce", () => {
    const composed = composeSupergraph([{ name: USAGE_SUBGRAPH, url: "http://usage:4001/graphql", sdl: subgraphSdl() }]);
    if (!composed.ok) throw new Error(composed.errors.join("\n"));
    expect(composed.supergraphSdl).toMatch(/memoryUsage\(from: String, to: String\): SandboxMemoryUsage! @cost\(weight: 20\)/);
    expect(composed.supergraphSdl).toMatch(/@listSize\(slicingArguments: \["limit"\], sizedFields: \["data"\], assumedSize: 60, requireOneSlicingArgument: false\)/);
  });
});

describe("the estimate", () => {
  it("follows Apollo's weights: objects 1, scalars and enums 0, lists × their size, @cost in place of the type's", () => {
    // Viewer 1 + Organization 1 + User 1; scopes are enums (0 × 3).
    expect(measure("{ viewer { keyId organization { id } user { id } scopes } }").cost).toBe(3);
    // On a list field @cost replaces each item's cost: 100 (assumedSize) × 2.
    expect(measure("{ tagKeys { key sandboxCount } }").cost).toBe(200);
    // usageRollup 20 + results 100 × 1 (the default 30d period: no extra buckets).
    expect(measure("{ usageRollup { results { key } } }").cost).toBe(120);
    expect(measure("{ __typename }").cost).toBe(0);
  });

  it("sizes a sliced list by its slicing argument, also from a variable, and its sized fields with it", () => {
    // Query.usage: 20 + total 1 + items limit × 1 (a union: each member's fields are summed).
    expect(measure(`{ usage(groupBy: "sandbox", limit: 7) { total { memoryGbSeconds } items { __typename } } }`).cost).toBe(20 + 1 + 7);
    expect(measure(`query ($n: Int) { usage(groupBy: "sandbox", limit: $n) { items { __typename } } }`, { n: 300 }).cost).toBe(20 + 300);
    expect(measure(`{ usage(groupBy: "sandbox") { items { __typename } } }`).cost).toBe(20 + 50);
  });

  it("charges mutations 10 and their input objects 1 each, as a router does", () => {
    const events = Array.from({ length: 40 }, (_, i) => ({ id: `e-${i}`, type: "SANDBOX_MEMORY", timestamp: "2026-05-01T00:00:00Z", sandboxId: "sb", usedMemoryMb: 1 }));
    // 10 + recordUsageEvents 50 + 40 events × 1.
    expect(measure("mutation ($e: [UsageEventInput!]!) { recordUsageEvents(events: $e) { accepted } }", { e: events }).cost).toBe(10 + 50 + 40);
  });

  it("prices a window by its buckets: a 30-day per-minute series is 43,200 of them", () => {
    const series = (from: string, to: string, points = "") => `{ sandbox(id: "x") { memoryUsage(from: "${from}", to: "${to}") { totals { uptimeSeconds } ${points} } } }`;
    // The default hour: sandbox 5 + memoryUsage 20 + totals 1 — what a router computes.
    expect(measure(`{ sandbox(id: "x") { memoryUsage { totals { uptimeSeconds } } } }`).cost).toBe(26);
    expect(measure(series("2026-05-30T23:00:00Z", "2026-05-31T00:00:00Z")).cost).toBe(26);
    // 30 days: 43,200 − 60 extra buckets, and 43,200 points when they are asked for.
    expect(measure(series("2026-05-01", "2026-05-31")).cost).toBe(26 + 43_140);
    expect(measure(series("2026-05-01", "2026-05-31", "points { ts }")).cost).toBe(26 + 43_140 + 43_200);
    // A window the service refuses (over 30 days) is not estimated: the service answers 400 without querying.
    expect(measure(series("2026-01-01", "2026-05-31")).cost).toBe(26);
  });

  it("prices MKA1 pages by the buckets they hold, and other windows by their days", () => {
    const start = Date.parse("2026-05-30T00:00:00Z") / 1000;
    // 1d, default limit 7, but only 1 bucket until now: 20 + data 1 × (1 + results 20).
    expect(measure(`{ sandboxUsage(startTime: ${start}) { data { results { numOperations } } } }`).cost).toBe(20 + 21);
    // 1m over that day: 1,440 buckets, 1,380 more than the assumed 60.
    expect(measure(`{ sandboxUsage(startTime: ${start}, bucketWidth: "1m", limit: 1440) { hasMore } }`).cost).toBe(20 + 1_380);
    // The aggregator over 90 days instead of its default 30: 60 more.
    expect(measure(`{ usage(groupBy: "sandbox", from: "2026-03-02", to: "2026-05-31") { nextCursor } }`).cost).toBe(20 + 60);
    // A custom rollup over a year: 365 days, 335 more than 30d.
    expect(measure(`{ usageRollup(period: "custom", start: "2025-05-31", end: "2026-05-31") { periodStart } }`).cost).toBe(20 + 335);
  });

  it("counts aliases and introspection with fragments expanded, measuring each fragment once", () => {
    let doc = "{ ...F0 }";
    for (let i = 0; i < 20; i++) doc += ` fragment F${i} on Query { x${i}: __typename ...F${i + 1} y${i}: __typename ...F${i + 1} }`;
    doc += " fragment F20 on Query { __typename }";
    // 2 aliases per fragment, each fragment reached 2^i times: 2 × (2^20 − 1) + … = 2^21 − 2.
    expect(measure(doc).aliases).toBe(2 ** 21 - 2);
    expect(measure("{ a: __schema { queryType { name } } b: __type(name: \"Query\") { name } }")).toEqual({ cost: 0, aliases: 2, introspectionFields: 2 });
  });

  it("skips what @skip and @include leave out", () => {
    expect(measure(`query ($no: Boolean!) { tagKeys @include(if: $no) { key } viewer { keyId } }`, { no: false }).cost).toBe(1);
  });
});
