/**
 * Hostile input, property-based (fast-check, fixed seeds): every REST parameter, path segment and
 * body field, and every GraphQL argument, fed random strings, huge and fractional numbers, arrays
 * where scalars belong and operator objects. Every answer is a 4xx (or a well-formed 200 when the
 * input happens to be valid) in its surface's envelope — never a 5xx — and no command the service
 * sends to MongoDB carries an operator or key that came from the input (the generators plant
 * marker keys, `$zzinject`, `$where` and `zz.inject`, which the service itself never uses).
 */
import fc from "fast-check";
import type { CommandStartedEvent } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { type Envelope, ENVELOPES, isObj } from "../helpers/envelopes.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const MARKERS = ["$zzinject", "$where", "zz.inject"];
const RUNS = { numRuns: 60, seed: 20261122 };

/** Strings an attacker or a broken client sends. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", " ", "\u0000", "null", "undefined", "NaN", "Infinity", "-1", "1e308", "1.5", "9007199254740993", "-9999999999999",
    "2026-02-30", "2026-05-27T25:00:00Z", "0001-01-01", "99999-01-01", '{"$gt":""}', '{"$zzinject":1}', "$where", "zz.inject",
    "__proto__", "constructor", "../../etc/passwd", "%00", "a,b,,c", "tag:", "tag:$zzinject", "'; drop table x; --"),
  fc.string({ minLength: 300, maxLength: 5000 }),
  fc.double({ noNaN: false }).map(String),
  fc.integer().map(String),
);

/** JSON values where a scalar (or anything) belongs. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, []),
  fc.constantFrom({ $zzinject: "" }, { $where: "sleep(1000)" }, { "zz.inject": 1 }, { $gt: "", $zzinject: 1 }, [{ $zzinject: 1 }], { nested: { $where: "1" } }),
  fc.array(hostileString, { maxLength: 3 }),
);

/** Every object key anywhere in a command the driver sent. */
function keysOf(value: unknown, into: Set<string>, depth = 0): Set<string> {
  if (depth > 64 || value === null || typeof value !== "object") return into;
  if (Array.isArray(value)) {
    for (const v of value) keysOf(v, into, depth + 1);
    return into;
  }
  if (value instanceof Date || ArrayBuffer.isView(value)) return into;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    into.add(k);
    keysOf(v, into, depth + 1);
  }
  return into;
}

describe("hostile input", () => {
  let t: TestApp;
  let key: string;
  const sent: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp({ label: "hostile", clock: fixedClock("2026-05-28T00:00:00Z"), monitorCommands: true });
    key = await t.key("acme", "alice", ["read", "ingest", "admin"]);
    await ingest(t, key, [
      start("h1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-1", external_user_id: "cust-1", tags: { team: "core" } }),
      stop("h1", "2026-05-27T11:00:00Z", { sandbox_id: "sb-1" }),
      memorySample("sb-1", "2026-05-27T10:00:30Z", 512),
    ]);
    t.mongo.client.on("commandStarted", (e: CommandStartedEvent) => sent.push(e.command));
  }, 60_000);
  afterAll(() => t.close());

  /** Sends a request; asserts no 5xx, the envelope on errors, and no marker in any command. */
  async function check(req: { method?: "GET" | "POST" | "PUT" | "DELETE"; url: string; headers: Record<string, string>; payload?: string }, envelope: Envelope | "graphql") {
    sent.length = 0;
    const res = await t.app.inject({ method: req.method ?? "GET", url: req.url, headers: req.headers, ...(req.payload !== undefined && { payload: req.payload }) });
    expect(res.statusCode, `${req.method ?? "GET"} ${req.url.slice(0, 200)} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
    const body = res.json() as unknown;
    if (envelope === "graphql") {
      const errors = isObj(body) && Array.isArray(body.errors) ? (body.errors as Array<{ extensions?: { code?: string } }>) : [];
      expect(errors.map((e) => e.extensions?.code), res.body.slice(0, 300)).not.toContain("INTERNAL_SERVER_ERROR");
    } else if (res.statusCode >= 400) {
      expect(envelope(res.statusCode, body), `${req.url.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBe(true);
    }
    const keys = keysOf(sent, new Set());
    for (const m of MARKERS) expect(keys.has(m), `${m} reached MongoDB via ${req.url.slice(0, 200)}`).toBe(false);
    return res;
  }

  /** A query string from (name → values), repeated names allowed, everything URL-encoded. */
  const qs = (params: Array<[string, string]>) => params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const paramValue = fc.oneof(hostileString.map((v) => [v]), fc.array(hostileString, { minLength: 2, maxLength: 3 }));

  const GET_ENDPOINTS: Array<{ path: string; params: string[]; headers: () => Record<string, string>; envelope: Envelope }> = [
    { path: "/api/v1/sandbox/usage", params: ["start_time", "end_time", "bucket_width", "group_by", "all_orgs", "org_ids", "limit", "page"], headers: () => bearer(key), envelope: ENVELOPES.fastapi },
    { path: "/api/v1/usage", params: ["group_by", "period", "start", "end"], headers: () => bearer(key), envelope: ENVELOPES.miosa },
    { path: "/api/sandboxes/sb-1/usage", params: ["from", "to"], headers: () => ({ "x-api-key": key }), envelope: ENVELOPES.opencomputer },
    { path: "/api/v1/api-keys", params: ["org_id"], headers: () => bearer(key), envelope: ENVELOPES.fastapi },
    { path: "/api/usage", params: ["groupBy", "from", "to", "sort", "limit", "cursor", "filter[tag:team]", "filter[tag:$zzinject]", "filter[zz.inject]"], headers: () => ({ "x-api-key": key }), envelope: ENVELOPES.opencomputer },
  ];

  for (const ep of GET_ENDPOINTS) {
    it(`GET ${ep.path}: every parameter, hostile values, repeats and operator-shaped names (seed ${RUNS.seed})`, async () => {
      const param = fc.tuple(fc.oneof(fc.constantFrom(...ep.params), fc.constantFrom(...ep.params).map((p) => `${p}[$zzinject]`), fc.constantFrom("$where", "zz.inject")), paramValue);
      await fc.assert(
        fc.asyncProperty(fc.array(param, { minLength: 1, maxLength: 5 }), async (ps) => {
          const pairs = ps.flatMap(([name, values]) => values.map((v): [string, string] => [name, v]));
          await check({ url: `${ep.path}?${qs(pairs)}`, headers: ep.headers() }, ep.envelope);
        }),
        RUNS,
      );
    }, 60_000);
  }

  it("path segments: org and sandbox ids of every shape", async () => {
    await fc.assert(
      fc.asyncProperty(hostileString.filter((s) => s.length > 0), async (raw) => {
        const seg = encodeURIComponent(raw);
        await check({ url: `/api/v1/org/${seg}/sandboxes/usage`, headers: bearer(key) }, ENVELOPES.dreadnode);
        await check({ url: `/api/sandboxes/${seg}/usage`, headers: { "x-api-key": key } }, ENVELOPES.opencomputer);
        await check({ url: `/api/sandboxes/${seg}/tags`, headers: { "x-api-key": key } }, ENVELOPES.opencomputer);
        await check({ url: `/api/v1/orgs/${seg}/prices`, headers: bearer(key) }, ENVELOPES.fastapi);
        await check({ url: `/api/v1/orgs/${seg}/budgets`, headers: bearer(key) }, ENVELOPES.miosa);
        await check({ url: `/api/v1/orgs/acme/budgets/${seg}`, headers: bearer(key) }, ENVELOPES.miosa);
        await check({ url: `/api/v1/orgs/acme/budgets/${seg}/deliveries`, headers: bearer(key) }, ENVELOPES.miosa);
        // Never one of this org's key ids, so the key doing the revoking stays valid.
        const revoked = await check({ method: "DELETE", url: `/api/v1/api-keys/${seg}`, headers: bearer(key) }, ENVELOPES.fastapi);
        expect(revoked.statusCode).not.toBe(200);
      }),
      RUNS,
    );
  }, 60_000);

  it("ingest: any event field replaced by a hostile JSON value is a 422 naming it, and nothing is stored", async () => {
    const fields = ["id", "type", "timestamp", "org_id", "sandbox_id", "session_id", "user_id", "api_key_id", "provider", "session_kind", "operation",
      "request_count", "duration_ms", "oom_killed", "peak_memory_mib", "vcpus", "memory_mb", "disk_mb", "tags", "alias", "external_user_id", "$zzinject", "zz.inject"];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), hostileJson, async (field, value) => {
        const event: Record<string, unknown> = { ...start(`hx-${n++}`, "2026-05-27T12:00:00Z", { sandbox_id: "sb-2" }), [field]: value };
        const before = await t.mongo.db.collection("usage_events").countDocuments();
        const res = await check({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify({ events: [event] }) }, ENVELOPES.fastapi);
        if (res.statusCode !== 200) {
          expect(res.statusCode).toBe(422);
          expect(await t.mongo.db.collection("usage_events").countDocuments()).toBe(before);
        }
      }),
      { ...RUNS, numRuns: 120 },
    );
  }, 60_000);

  it("budgets: any field of a valid budget replaced by a hostile JSON value is a 201 or a 422 in MIOSA's envelope", async () => {
    const valid = {
      name: "b",
      metric: "credit_cents",
      scope: { tag: { key: "team", value: "core" } },
      period: "month",
      time_zone: "UTC",
      thresholds: [1, 2],
      webhook: { url: "https://hooks.example.com/x", secret: "whsec_0123456789abcdef" },
    };
    const paths = ["name", "metric", "scope", "scope.tag", "scope.tag.key", "scope.tag.value", "period", "time_zone", "thresholds", "thresholds.0", "webhook", "webhook.url", "webhook.secret", "$zzinject", "scope.$zzinject"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), hostileJson, async (path, value) => {
        const body = structuredClone(valid) as Record<string, any>;
        const parts = path.split(".");
        let at = body;
        for (const p of parts.slice(0, -1)) at = at[p];
        at[parts.at(-1)!] = value;
        const res = await check({ method: "POST", url: "/api/v1/orgs/acme/budgets", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify(body) }, ENVELOPES.miosa);
        expect([201, 422]).toContain(res.statusCode);
      }),
      RUNS,
    );
    await t.mongo.db.collection("budgets").deleteMany({});
  }, 60_000);

  it("bodies: tags, prices and API keys with hostile JSON, and non-JSON bodies", async () => {
    const body = fc.oneof(
      hostileJson.map((v) => JSON.stringify(v)),
      fc.dictionary(fc.oneof(hostileString, fc.constantFrom("$zzinject", "zz.inject", "$where", "team")), hostileJson, { maxKeys: 4 }).map((d) => JSON.stringify(d)),
      fc.constantFrom("{", "[}", "not json", "{\"a\":}", "\u0000"),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const json = { "content-type": "application/json" };
        await check({ method: "PUT", url: "/api/sandboxes/sb-1/tags", headers: { "x-api-key": key, ...json }, payload }, ENVELOPES.opencomputer);
        await check({ method: "PUT", url: "/api/v1/orgs/acme/prices", headers: { ...bearer(key), ...json }, payload }, ENVELOPES.fastapi);
        await check({ method: "POST", url: "/api/v1/api-keys", headers: { ...bearer(key), ...json }, payload }, ENVELOPES.fastapi);
        await check({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), ...json }, payload }, ENVELOPES.fastapi);
        await check({ method: "POST", url: "/api/v1/orgs/acme/budgets", headers: { ...bearer(key), ...json }, payload }, ENVELOPES.miosa);
      }),
      RUNS,
    );
    // The tag set the properties may have replaced is put back for the GraphQL checks below.
    await t.app.inject({ method: "PUT", url: "/api/sandboxes/sb-1/tags", headers: { "x-api-key": key, "content-type": "application/json" }, payload: '{"team":"core"}' });
  }, 60_000);

  const GRAPHQL_FIELDS: Array<{ query: string; vars: string[] }> = [
    { query: "query($a: Int!, $b: Int, $c: String, $d: [UsageGroupBy!], $e: Boolean, $f: [ID!], $g: Int, $h: String) { sandboxUsage(startTime: $a, endTime: $b, bucketWidth: $c, groupBy: $d, allOrgs: $e, orgIds: $f, limit: $g, page: $h) { hasMore } }", vars: ["a", "b", "c", "d", "e", "f", "g", "h"] },
    { query: "query($a: RollupGroupBy, $b: String, $c: String, $d: String) { usageRollup(groupBy: $a, period: $b, start: $c, end: $d) { periodStart } }", vars: ["a", "b", "c", "d"] },
    { query: "query($a: ID!) { sandboxUsageSummary(org: $a) { sessionsCount } prices(org: $a) { storageGbHourCents } }", vars: ["a"] },
    { query: "query($a: ID!, $b: String, $c: String) { sandbox(id: $a) { id memoryUsage(from: $b, to: $c) { totals { uptimeSeconds } } usage(from: $b, to: $c) { memoryGbSeconds } } }", vars: ["a", "b", "c"] },
    { query: "query($a: String!, $b: String, $c: String, $d: [TagFilterInput!], $e: String, $f: Int, $g: String) { usage(groupBy: $a, from: $b, to: $c, filter: $d, sort: $e, limit: $f, cursor: $g) { nextCursor } }", vars: ["a", "b", "c", "d", "e", "f", "g"] },
    { query: "mutation($a: ID!, $b: [SandboxTagInput!]!) { setSandboxTags(id: $a, tags: $b) { id } }", vars: ["a", "b"] },
    { query: "mutation($a: ID!, $b: PriceTableInput!) { setPrices(org: $a, prices: $b) { sandboxVcpuHourCents } }", vars: ["a", "b"] },
    { query: "mutation($a: [UsageEventInput!]!) { recordUsageEvents(events: $a) { accepted } }", vars: ["a"] },
    { query: "query($a: [_Any!]!) { _entities(representations: $a) { ... on Sandbox { id usage { memoryGbSeconds } } ... on User { runtimeSummary { sessionsCount } } ... on Organization { usageRollup { periodStart } } } }", vars: ["a"] },
  ];

  for (const [i, field] of GRAPHQL_FIELDS.entries()) {
    it(`GraphQL #${i + 1}: every argument with hostile variables (${field.query.slice(0, 60)}…)`, async () => {
      const value = fc.oneof(hostileJson, fc.array(fc.record({ __typename: fc.constantFrom("Sandbox", "User", "Organization"), id: hostileJson }), { maxLength: 3 }));
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.constantFrom(...field.vars), value), async (variables) => {
          await check({ method: "POST", url: "/graphql", headers: { "x-api-key": key, "content-type": "application/json" }, payload: JSON.stringify({ query: field.query, variables }) }, "graphql");
        }),
        RUNS,
      );
    }, 60_000);
  }

  it("classic injections, always: operator objects in bodies, bracket names in query strings, entity ids", async () => {
    const json = { "content-type": "application/json" };
    const cases: Array<{ method?: "POST" | "PUT"; url: string; headers: Record<string, string>; payload?: string; envelope: Envelope }> = [
      { method: "POST" as const, url: "/api/v1/usage/events", headers: { ...bearer(key), ...json }, payload: JSON.stringify({ events: [{ ...start("inj", "2026-05-27T12:00:00Z"), sandbox_id: { $zzinject: "" }, org_id: { $ne: null } }] }), envelope: ENVELOPES.fastapi },
      { url: "/api/v1/sandbox/usage?start_time[$zzinject]=0&org_ids[$where]=1", headers: bearer(key), envelope: ENVELOPES.fastapi },
      { url: "/api/usage?groupBy=sandbox&filter%5Btag%3A%24zzinject%5D=x", headers: { "x-api-key": key }, envelope: ENVELOPES.opencomputer },
      { method: "PUT" as const, url: "/api/sandboxes/sb-1/tags", headers: { "x-api-key": key, ...json }, payload: JSON.stringify({ $zzinject: "x", "zz.inject": { $where: "1" } }), envelope: ENVELOPES.opencomputer },
    ];
    for (const c of cases) {
      const res = await check(c, c.envelope);
      expect(res.statusCode, c.url).toBeGreaterThanOrEqual(400);
    }
    const gql = await check({ method: "POST", url: "/graphql", headers: { "x-api-key": key, ...json }, payload: JSON.stringify({ query: "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { runtimeSummary { sessionsCount } } } }", variables: { r: [{ __typename: "User", id: { $zzinject: "" } }] } }) }, "graphql");
    expect(gql.json().errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });
});

describe("request bodies over the limit", () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await startTestApp({ label: "bodylimit", env: { INGEST_MAX_BODY_BYTES: "65536" } });
    key = await t.key("acme", "alice", ["read", "ingest", "admin"]);
    await ingest(t, key, [memorySample("sb-1", "2026-05-27T10:00:30Z", 512)]);
  });
  afterAll(() => t.close());

  const big = (bytes: number) => JSON.stringify({ events: [{ id: "x".repeat(bytes) }] });

  it("answers 413 in each surface's envelope, before reading the body", async () => {
    const ingestRes = await t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json" }, payload: big(70_000) });
    expect([ingestRes.statusCode, ingestRes.json()]).toEqual([413, { detail: "Request body is too large" }]);
    const tags = await t.app.inject({ method: "PUT", url: "/api/sandboxes/sb-1/tags", headers: { "x-api-key": key, "content-type": "application/json" }, payload: JSON.stringify({ team: "x".repeat(66_000) }) });
    expect([tags.statusCode, tags.json()]).toEqual([413, { error: "Request body is too large" }]);
    const gql = await t.app.inject({ method: "POST", url: "/graphql", headers: { "x-api-key": key, "content-type": "application/json" }, payload: JSON.stringify({ query: `{ viewer { keyId } }${" ".repeat(70_000)}` }) });
    expect(gql.statusCode).toBe(413);
    expect(gql.json().errors[0].message).toBe("Request body is too large");
  });
});
