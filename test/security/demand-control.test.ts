/**
 * Demand control: the attacks that took the service down or stalled every tenant are refused
 * before they run, as 400 GRAPHQL_VALIDATION_FAILED, while Apollo Sandbox's introspection and
 * every GraphQL example of the README still run. The numbers in the comments are the estimates of
 * src/graphql/demand/cost.ts (see docs/demand-control.md).
 */
import { readFileSync } from "node:fs";
import { getIntrospectionQuery, type IntrospectionOptions } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start } from "../helpers/events.js";

const NOW = "2026-05-31T00:00:00Z";
const DAY_S = 86_400;
const nowS = Date.parse(NOW) / 1000;

/** `{ a0: <field> a1: <field> … }`, the field given the alias index. */
const aliased = (n: number, field: (i: number) => string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(" ")} }`;

/** A 30-day memory window shifted by i minutes, as in the report that stalled every tenant. */
const memory30d = (i: number) => {
  const to = new Date(Date.parse(NOW) - i * 60_000);
  const from = new Date(to.getTime() - 30 * DAY_S * 1000);
  return `sandbox(id: "sb-1") { memoryUsage(from: "${from.toISOString()}", to: "${to.toISOString()}") { totals { uptimeSeconds } } }`;
};

function expectRefused(res: { status: number; body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, any> }> } }, reason: RegExp) {
  expect(res.status).toBe(400);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  expect(res.body.errors?.[0]?.message).toMatch(reason);
}

describe("GraphQL demand control", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ label: "demand", clock: fixedClock(NOW) });
    key = await t.key("acme", "alice", ["read", "ingest", "admin"]);
    await ingest(t, key, [start("s-1", "2026-05-01T00:00:00Z", { sandbox_id: "sb-1" }), memorySample("sb-1", "2026-05-30T23:30:00Z", 512)]);
  });
  afterAll(() => t.close());

  const gql = (query: string, variables?: Record<string, unknown>) => t.graphql(query, variables, { "x-api-key": key });

  describe("introspection, without a key", () => {
    it("refuses 60,000 aliased __schema selections (1.5 MB) at the token limit, without parsing them", async () => {
      const query = `${aliased(60_000, () => "__schema { ...F }")} fragment F on __Schema { types { name } }`;
      expect(query.length).toBeGreaterThan(1_500_000);
      const heapBefore = process.memoryUsage().heapUsed;
      const res = await t.graphql(query);
      expectRefused(res, /more than 10000 tokens/);
      // The process that answered is this one: it did not build a 60,000-schema answer (≈ 500 MB).
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
      expect((await t.graphql("{ __schema { queryType { name } } }")).body.data).toEqual({ __schema: { queryType: { name: "Query" } } });
    });

    it("refuses 10,000 aliased __schema selections", async () => {
      expectRefused(await t.graphql(aliased(10_000, () => "__schema { queryType { name } }")), /tokens/);
    });

    it("refuses more __schema/__type selections than GRAPHQL_MAX_INTROSPECTION_FIELDS (5), fragments expanded", async () => {
      const res = await t.graphql(`${aliased(6, () => "__type(name: \"Query\") { ...T }")} fragment T on __Type { name }`);
      expectRefused(res, /selects __schema or __type 6 times, more than the 5 allowed/);
      expect(res.body.errors?.[0]?.extensions?.demand).toMatchObject({ introspectionFields: 6, maxIntrospectionFields: 5 });
      // The same count through a fragment spread three times (3 × 2 selections).
      const spread = `{ a: __schema { ...S } b: __schema { ...S } c: __schema { ...S } } fragment S on __Schema { queryType { ...Q } } fragment Q on __Type { name }`;
      expect((await t.graphql(spread)).status).toBe(200);
      expectRefused(await t.graphql(`{ ...R a: __schema { queryType { name } } } fragment R on Query { b: __schema { queryType { name } } c: __type(name: "Query") { name } d: __type(name: "Sandbox") { name } e: __type(name: "User") { name } f: __type(name: "Organization") { name } }`), /6 times/);
    });

    it("counts aliases inside introspection: one __schema cannot answer the schema 31 times", async () => {
      const res = await t.graphql(`{ __schema ${aliased(31, () => "types { fields { name } }")} }`);
      expectRefused(res, /31 aliases/);
    });

    it("refuses fragments that multiply aliases when expanded (2^20 of them from a few hundred tokens)", async () => {
      let doc = "{ ...F0 }";
      for (let i = 0; i < 20; i++) doc += ` fragment F${i} on Query { x${i}: __typename ...F${i + 1} y${i}: __typename ...F${i + 1} }`;
      doc += " fragment F20 on Query { __typename }";
      // Refused by the depth limit here; the alias count of the same document is unit-tested (demand-cost.test.ts).
      expectRefused(await t.graphql(doc), /depth|aliases/);
    });

    const variants: Array<[string, IntrospectionOptions]> = [
      ["graphql-js defaults", {}],
      ["without descriptions", { descriptions: false }],
      ["Apollo Sandbox's options", { descriptions: true, specifiedByUrl: true, inputValueDeprecation: true, directiveIsRepeatable: true, schemaDescription: true }],
      ["with oneOf", { inputValueDeprecation: true, oneOf: true }],
    ];
    it.each(variants)("runs getIntrospectionQuery() (%s)", async (_name, options) => {
      const res = await t.graphql(getIntrospectionQuery(options));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.__schema?.types?.some((type: { name: string }) => type.name === "Sandbox")).toBe(true);
    });
  });

  describe("usage fields", () => {
    it("refuses 300 aliases of a 30-day memory series, each window shifted by a minute", async () => {
      const res = await gql(aliased(300, memory30d));
      expectRefused(res, /300 aliases, more than the 30 allowed/);
      // Each is 43,200 one-minute buckets: 300 × (sandbox 5 + memoryUsage 20 + 43,140 extra buckets + totals 1).
      expect(res.body.errors?.[0]?.message).toMatch(/estimated cost is 12,949,800, more than the 100,000 allowed/);
    });

    it("refuses 300 aliases of a 30-day sandboxUsage", async () => {
      const res = await gql(aliased(300, () => `sandboxUsage(startTime: ${nowS - 30 * DAY_S}) { data { startTime results { numOperations } } }`));
      expectRefused(res, /300 aliases/);
    });

    it("refuses 1m buckets over long ranges through a few fields, within the alias limit", async () => {
      // One full page of 1m buckets: 20 + 1,380 extra buckets + 1,440 × (1 + 20 results) = 31,640.
      const page = (i: number) => `sandboxUsage(startTime: ${nowS - (i + 1) * DAY_S}, bucketWidth: "1m", limit: 1440) { data { startTime results { numOperations } } }`;
      expect((await gql(aliased(3, page))).body.errors).toBeUndefined();
      expectRefused(await gql(aliased(4, page)), /estimated cost is 126,560/);
      // Three 30-day memory series without their points: 3 × 43,166.
      expectRefused(await gql(aliased(3, memory30d)), /estimated cost is 129,498/);
      // The same through variables, which a validation rule would not see.
      const withVariables = `query ($from: String, $to: String) { a: sandbox(id: "sb-1") { memoryUsage(from: $from, to: $to) { totals { uptimeSeconds } } } b: sandbox(id: "sb-1") { memoryUsage(from: $from, to: $to) { totals { uptimeSeconds } } } c: sandbox(id: "sb-1") { memoryUsage(from: $from, to: $to) { totals { uptimeSeconds } } } }`;
      expectRefused(await gql(withVariables, { from: "2026-05-01", to: "2026-05-31" }), /estimated cost/);
      expect((await gql(withVariables, { from: "2026-05-30T23:00:00Z" })).body.errors).toBeUndefined();
    });

    it("runs one 30-day per-minute memory series with every point", async () => {
      const res = await gql(`{ sandbox(id: "sb-1") { memoryUsage(from: "2026-05-01", to: "2026-05-31") { totals { uptimeSeconds } points { ts usedMemoryMbAvg } } } }`);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.sandbox.memoryUsage.points).toHaveLength(43_200);
      expect(res.body.data!.sandbox.memoryUsage.totals.uptimeSeconds).toBe(30 * DAY_S);
    });

    it("prices _entities by the representations it is sent", async () => {
      const query = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Sandbox { memoryUsage(from: "2026-05-01", to: "2026-05-31") { totals { uptimeSeconds } } } } }`;
      const reps = (n: number) => ({ r: Array.from({ length: n }, (_, i) => ({ __typename: "Sandbox", id: `sb-${i}` })) });
      expect((await gql(query, reps(2))).body.errors).toBeUndefined();
      expectRefused(await gql(query, reps(3)), /estimated cost/);
    });

    it("refuses with the demand measured, so a client knows what to change", async () => {
      const res = await gql(aliased(31, () => "viewer { keyId }"));
      expectRefused(res, /31 aliases/);
      expect(res.body.errors?.[0]?.extensions?.demand).toEqual({ cost: 31, maxCost: 100_000, aliases: 31, maxAliases: 30, introspectionFields: 0, maxIntrospectionFields: 5 });
    });
  });

  describe("every GraphQL example of the README", () => {
    const examples = readmeGraphqlExamples(readFileSync(new URL("../../README.md", import.meta.url), "utf8"));

    it("has examples to run", () => {
      expect(examples.length).toBeGreaterThanOrEqual(5);
    });

    it.each(examples)("runs %s", async (query) => {
      const res = await gql(query);
      expect(res.body.errors?.filter((e) => e.extensions?.code === "GRAPHQL_VALIDATION_FAILED") ?? []).toEqual([]);
      expect(res.status).not.toBe(400);
    });
  });
});

/**
 * GraphQL operations in a README: inline code that starts like one (`{ …`, `query …`,
 * `mutation …`), also across a line break, and the `"query":"…"` of JSON bodies in code blocks.
 */
function readmeGraphqlExamples(markdown: string): string[] {
  const found = new Set<string>();
  const fences = markdown.split(/^```.*$/m);
  fences.forEach((part, i) => {
    if (i % 2 === 1) {
      for (const m of part.matchAll(/"query"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) found.add(JSON.parse(`"${m[1]}"`) as string);
      return;
    }
    for (const m of part.matchAll(/`([^`]+)`/g)) {
      const text = m[1]!.replace(/\s+/g, " ").trim();
      if (/^(\{ |query\b|mutation\b)/.test(text)) found.add(text);
    }
  });
  return [...found];
}
