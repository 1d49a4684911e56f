/**
 * Conformance at the edges: inputs the specs allow (or refuse) that a careless implementation gets
 * wrong — entity representations of non-entity types, tag keys that name Object.prototype members,
 * RFC 3339 in all its allowed spellings, pre-epoch timestamps, a stop sent before its start, and
 * each surface's envelope on the errors the framework raises before a route runs (404, 405, 431,
 * a BOM, a bad header).
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ENVELOPES, type Envelope } from "../helpers/envelopes.js";
import { ingest, operation, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T00:00:00Z";
const json = { "content-type": "application/json" };
const ndjson = { "content-type": "application/x-ndjson" };

let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await startTestApp({ label: "conformance", clock: fixedClock(NOW) });
  key = await t.key("acme", "alice", ["read", "ingest", "admin"]);
  await ingest(t, key, [start("base", "2026-05-27T10:00:00Z", { sandbox_id: "sb-base", external_user_id: "ext-base" }), stop("base", "2026-05-27T11:00:00Z", { sandbox_id: "sb-base" })]);
}, 60_000);
afterAll(() => t.close());

const post = (url: string, payload: string, headers: Record<string, string> = json) =>
  t.app.inject({ method: "POST", url, headers: { ...bearer(key), ...headers }, payload });
const postEvents = (events: unknown[]) => post("/api/v1/usage/events", JSON.stringify({ events }));
const postNdjson = (events: unknown[]) => post("/api/v1/usage/events", events.map((e) => JSON.stringify(e)).join("\n"), ndjson);

const RECORD = "mutation ($e: [UsageEventInput!]!) { recordUsageEvents(events: $e) { accepted duplicates } }";

/** An event in GraphQL's camelCase input shape; tags as [{key, value}] in the order given. */
function gqlEvent(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === "type") out.type = v === "sandbox.memory" ? "SANDBOX_MEMORY" : "SANDBOX_OPERATION";
    else if (k === "tags") out.tags = Object.entries(v as Record<string, string>).map(([key, value]) => ({ key, value }));
    else out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  return out;
}

const sorted = (o: Record<string, unknown>) => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));

describe("1. _entities of a type that is not an entity", () => {
  for (const typename of ["Viewer", "Query", "UsageBucket", "__Schema", "Nope"]) {
    for (const withKey of [true, false]) {
      it(`${typename} ${withKey ? "with" : "without"} a key → BAD_USER_INPUT`, async () => {
        const rep = withKey ? { __typename: typename, id: "x" } : { __typename: typename };
        const res = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", { r: [rep] }, bearer(key));
        expect(res.status).toBeLessThan(500);
        const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
        expect(codes.length, JSON.stringify(res.body)).toBeGreaterThan(0);
        expect(codes.every((c) => c === "BAD_USER_INPUT"), JSON.stringify(res.body)).toBe(true);
      });
    }
  }

  it("a bad representation among good ones fails only its own item", async () => {
    const reps = [{ __typename: "Organization", id: "acme" }, { __typename: "Viewer", id: "x" }];
    const res = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Organization { id } } }", { r: reps }, bearer(key));
    expect(res.body.data?._entities?.[0]).toEqual({ __typename: "Organization", id: "acme" });
    expect(res.body.data?._entities?.[1]).toBeNull();
    expect(res.body.errors?.map((e) => [e.extensions?.code, (e as { path?: unknown }).path])).toEqual([["BAD_USER_INPUT", ["_entities", 1]]]);
  });

  it("the refusal names __typename as sent (a field name, never camel-cased), for non-objects and missing names too", async () => {
    for (const rep of [{ __typename: "_Entity" }, { __typename: "SandboxUsageOperation", id: "x" }, { id: "sb-base" }, { __typename: 7 }, "Sandbox"]) {
      const res = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", { r: [rep] }, bearer(key));
      expect((res.body.errors ?? []).map((e) => e.extensions?.code), JSON.stringify(res.body)).toEqual(["BAD_USER_INPUT"]);
      expect(res.body.errors![0]!.extensions!.issues.map((i: { loc: unknown[] }) => i.loc), JSON.stringify(rep)).toEqual([["representations", "__typename"]]);
    }
    // null is refused by GraphQL's own coercion of [_Any!]!, before any resolver runs.
    const nul = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", { r: [null] }, bearer(key));
    expect((nul.body.errors ?? []).map((e) => e.extensions?.code), JSON.stringify(nul.body)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("2. tag keys are data, never object properties", () => {
  const KEYS = ["__proto__", "constructor", "valueOf", "toString", "hasOwnProperty"];
  const tagsFor = (surface: string) => Object.fromEntries(KEYS.map((k) => [k, `${surface}-${k}`]));
  const window = "from=2026-05-27T00:00:00Z&to=2026-05-28T00:00:00Z";

  beforeAll(async () => {
    const events = (surface: string) => [
      start(`tag-${surface}`, "2026-05-27T10:00:00Z", { sandbox_id: `sb-${surface}`, tags: tagsFor(surface) }),
      stop(`tag-${surface}`, "2026-05-27T11:00:00Z", { sandbox_id: `sb-${surface}` }),
    ];
    const rest = await postEvents(events("json"));
    expect([rest.statusCode, rest.json()]).toEqual([200, { accepted: 2, duplicates: 0 }]);
    const nd = await postNdjson(events("ndjson"));
    expect([nd.statusCode, nd.json()]).toEqual([200, { accepted: 2, duplicates: 0 }]);
    const gql = await t.graphql(RECORD, { e: events("graphql").map(gqlEvent) }, bearer(key));
    expect(gql.body).toEqual({ data: { recordUsageEvents: { accepted: 2, duplicates: 0 } } });
  });

  it("are stored as sent from REST JSON, NDJSON and GraphQL ingest, and read back on REST and GraphQL", async () => {
    for (const surface of ["json", "ndjson", "graphql"]) {
      const res = await t.app.inject({ method: "GET", url: `/api/sandboxes/sb-${surface}/tags`, headers: { "x-api-key": key } });
      expect(res.statusCode, res.body).toBe(200);
      // The raw text, so no JSON.parse or object on this side can hide a key.
      for (const k of KEYS) expect(res.body, surface).toContain(`"${k}":"${surface}-${k}"`);
      expect(sorted(res.json().tags)).toEqual(sorted(tagsFor(surface)));
      const gql = await t.graphql("query ($id: ID!) { sandbox(id: $id) { tags { key value } } }", { id: `sb-${surface}` }, { "x-api-key": key });
      expect(gql.body.data!.sandbox.tags).toEqual(KEYS.map((k) => ({ key: k, value: `${surface}-${k}` })).sort((a, b) => (a.key < b.key ? -1 : 1)));
    }
  });

  it("are set by PUT /api/sandboxes/{id}/tags and Mutation.setSandboxTags alike", async () => {
    const put = await t.app.inject({ method: "PUT", url: "/api/sandboxes/sb-base/tags", headers: { "x-api-key": key, ...json }, payload: JSON.stringify(tagsFor("put")) });
    expect(put.statusCode, put.body).toBe(200);
    expect(sorted(put.json().tags)).toEqual(sorted(tagsFor("put")));
    const gql = await t.graphql("mutation ($id: ID!, $tags: [SandboxTagInput!]!) { setSandboxTags(id: $id, tags: $tags) { tags { key value } } }", {
      id: "sb-base",
      tags: KEYS.map((k) => ({ key: k, value: `mut-${k}` })),
    }, { "x-api-key": key });
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data!.setSandboxTags.tags).toHaveLength(KEYS.length);
    const back = await t.app.inject({ method: "PUT", url: "/api/sandboxes/sb-base/tags", headers: { "x-api-key": key, ...json }, payload: "{}" });
    expect(back.statusCode).toBe(200);
  });

  it("are listed by GET /api/tags and grouped by on GET /api/usage", async () => {
    const tags = await t.app.inject({ method: "GET", url: "/api/tags", headers: { "x-api-key": key } });
    const listed = (tags.json().keys as Array<{ key: string; sandboxCount: number; valueCount: number }>).filter((k) => KEYS.includes(k.key));
    expect(listed.map((k) => k.key).sort()).toEqual([...KEYS].sort());
    for (const k of listed) expect([k.key, k.sandboxCount, k.valueCount]).toEqual([k.key, 3, 3]);
    for (const k of KEYS) {
      const res = await t.app.inject({ method: "GET", url: `/api/usage?groupBy=${encodeURIComponent(`tag:${k}`)}&${window}`, headers: { "x-api-key": key } });
      expect(res.statusCode, res.body).toBe(200);
      const items = res.json().items as Array<{ tagKey: string; tagValue: string; sandboxCount: number }>;
      expect(items.map((i) => [i.tagKey, i.tagValue, i.sandboxCount]).sort()).toEqual(["graphql", "json", "ndjson"].map((s) => [k, `${s}-${k}`, 1]));
      const filtered = await t.app.inject({ method: "GET", url: `/api/usage?groupBy=sandbox&${window}&${encodeURIComponent(`filter[tag:${k}]`)}=json-${k}`, headers: { "x-api-key": key } });
      expect((filtered.json().items as Array<{ sandboxId: string }>).map((i) => i.sandboxId), filtered.body).toEqual(["sb-json"]);
    }
  });

  it("a real duplicate key in GraphQL is refused; a key named like an Object member is not a duplicate", async () => {
    const dup = await t.graphql(RECORD, { e: [{ ...gqlEvent(start("dup", "2026-05-27T12:00:00Z")), tags: [{ key: "team", value: "a" }, { key: "team", value: "b" }] }] }, bearer(key));
    expect(dup.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(dup.body.errors?.[0]?.message).toMatch(/duplicate tag key/);
    for (const k of KEYS) {
      const one = await t.graphql(RECORD, { e: [{ ...gqlEvent(start(`single-${k}`, "2026-05-27T12:00:00Z")), tags: [{ key: k, value: "v" }] }] }, bearer(key));
      expect(one.body, k).toEqual({ data: { recordUsageEvents: { accepted: 1, duplicates: 0 } } });
    }
  });

  it("a bad tag is located by its key, unchanged (never camel-cased), on every surface", async () => {
    const bad = start("bad-tag", "2026-05-27T12:00:00Z", { tags: { my_key: "x".repeat(300), __proto__x: "ok" } });
    const rest = await postEvents([bad]);
    expect(rest.statusCode).toBe(422);
    expect(rest.json().detail.map((d: { loc: unknown[] }) => d.loc)).toEqual([["body", "events", 0, "tags", "my_key"]]);
    const nd = await postNdjson([bad]);
    expect(nd.json().detail.map((d: { loc: unknown[] }) => d.loc)).toEqual([["body", 0, "tags", "my_key"]]);
    const gql = await t.graphql(RECORD, { e: [gqlEvent(bad)] }, bearer(key));
    expect(gql.body.errors![0]!.extensions!.issues.map((i: { loc: unknown[] }) => i.loc)).toEqual([["events", 0, "tags", "my_key"]]);
    const set = await t.graphql("mutation ($t: [SandboxTagInput!]!) { setSandboxTags(id: \"sb-base\", tags: $t) { id } }", { t: [{ key: "my_key", value: "x".repeat(300) }] }, { "x-api-key": key });
    expect(set.body.errors![0]!.extensions!.issues.map((i: { loc: unknown[] }) => i.loc)).toEqual([["tags", "my_key"]]);
    // Field names are still camelCase in GraphQL's locations.
    const field = await t.graphql(RECORD, { e: [{ ...gqlEvent(start("bad-field", "2026-05-27T12:00:00Z")), externalUserId: "" }] }, bearer(key));
    expect(field.body.errors![0]!.extensions!.issues.map((i: { loc: unknown[] }) => i.loc)).toEqual([["events", 0, "externalUserId"]]);
  });

  it("an event field named __proto__ is refused alike on REST JSON and NDJSON", async () => {
    const text = JSON.stringify(start("proto-field", "2026-05-27T12:00:00Z")).replace(/^\{/, '{"__proto__":{"vcpus":64},');
    const rest = await post("/api/v1/usage/events", `{"events":[${text}]}`);
    const nd = await post("/api/v1/usage/events", text, ndjson);
    expect([rest.statusCode, rest.json()]).toEqual([422, { detail: [{ loc: ["body", "events", 0, "__proto__"], msg: "Extra inputs are not permitted", type: "extra_forbidden" }] }]);
    expect([nd.statusCode, nd.json()]).toEqual([422, { detail: [{ loc: ["body", 0, "__proto__"], msg: "Extra inputs are not permitted", type: "extra_forbidden" }] }]);
  });
});

describe("3 and 4. timestamps: RFC 3339 as the RFC allows, from 1970-01-01T00:00:00Z", () => {
  const INSTANT = Date.parse("2026-05-27T10:00:00Z");
  const FORMS = [
    "2026-05-27T10:00:00Z",
    "2026-05-27t10:00:00z",
    "2026-05-27T10:00:00z",
    "2026-05-27t10:00:00Z",
    "2026-05-27 10:00:00Z",
    "2026-05-27T10:00:00+00:00",
    "2026-05-27T10:00:00-00:00",
    "2026-05-27T12:00:00+02:00",
    "2026-05-27T05:00:00-05:00",
    "2026-05-27T15:45:00+05:45",
    "2026-05-27t10:00:00.000z",
    "2026-05-27T10:00:00.000000000Z",
  ];

  const storedTs = async (id: string) => (await t.mongo.db.collection("usage_events").findOne({ event_id: id }))?.ts as Date | undefined;

  it("every RFC 3339 form is accepted at REST JSON, NDJSON and GraphQL ingest, at the instant it names", async () => {
    for (const [i, timestamp] of FORMS.entries()) {
      const restId = `rfc-json-${i}`;
      const ndId = `rfc-nd-${i}`;
      const gqlId = `rfc-gql-${i}`;
      const rest = await postEvents([{ ...operation("rfc", "turn", timestamp), id: restId }]);
      expect(rest.statusCode, `${timestamp}: ${rest.body}`).toBe(200);
      const nd = await postNdjson([{ ...operation("rfc", "turn", timestamp), id: ndId }]);
      expect(nd.statusCode, `${timestamp}: ${nd.body}`).toBe(200);
      const gql = await t.graphql(RECORD, { e: [gqlEvent({ ...operation("rfc", "turn", timestamp), id: gqlId })] }, bearer(key));
      expect(gql.body.errors, timestamp).toBeUndefined();
      for (const id of [restId, ndId, gqlId]) expect((await storedTs(id))?.getTime(), `${id} ${timestamp}`).toBe(INSTANT);
    }
  });

  it("what RFC 3339 does not allow is still refused, naming the field", async () => {
    for (const timestamp of ["2026-05-27T10:00:00", "2026-05-27", "2026-05-27T10:00Z", "2026-05-27T10:00:00+0000", "2026-05-27T10:00:00+00", "2026-05-27T10:00:00 Z",
      "2026-02-30T10:00:00Z", "2026-05-27T24:00:00Z", "2026-05-27T10:00:00+24:00", "2026-05-27T10:00:00.Z", "2026-05-27X10:00:00Z", " 2026-05-27T10:00:00Z", "+002026-05-27T10:00:00Z", "1779876000"]) {
      const res = await postEvents([operation("rfc-bad", "turn", timestamp)]);
      expect([res.statusCode, res.json().detail?.[0]?.loc], timestamp).toEqual([422, ["body", "events", 0, "timestamp"]]);
    }
  });

  it("refuses instants before 1970-01-01T00:00:00Z with a clear 422 on every ingest surface", async () => {
    for (const timestamp of ["1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"]) {
      const rest = await postEvents([operation("old", "turn", timestamp)]);
      expect(rest.statusCode, timestamp).toBe(422);
      expect(rest.json().detail, timestamp).toEqual([{ loc: ["body", "events", 0, "timestamp"], msg: "timestamp must be at or after 1970-01-01T00:00:00Z", type: "greater_than_equal" }]);
      const nd = await postNdjson([operation("old", "turn", timestamp)]);
      expect(nd.json().detail, timestamp).toEqual([{ loc: ["body", 0, "timestamp"], msg: "timestamp must be at or after 1970-01-01T00:00:00Z", type: "greater_than_equal" }]);
      const gql = await t.graphql(RECORD, { e: [gqlEvent(operation("old", "turn", timestamp))] }, bearer(key));
      expect(gql.body.errors?.[0]?.extensions?.issues, timestamp).toEqual([{ loc: ["events", 0, "timestamp"], msg: "timestamp must be at or after 1970-01-01T00:00:00Z", type: "greater_than_equal" }]);
    }
    const epoch = await postEvents([operation("epoch", "turn", "1970-01-01T00:00:00Z")]);
    expect(epoch.statusCode, epoch.body).toBe(200);
  });
});

describe("5. a stop before its session_start ends nothing", () => {
  const STOP = "2026-05-26T09:00:00Z";
  const START = "2026-05-26T10:00:00Z";
  const TERMINATE = "2026-05-26T11:00:00Z";
  const rollup = async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/v1/usage?period=custom&start=2026-05-26T00:00:00Z&end=2026-05-27T00:00:00Z", headers: bearer(key) });
    expect(res.statusCode, res.body).toBe(200);
    return new Map((res.json().results as Array<{ external_user_id: string; sandbox_seconds: number }>).map((r) => [r.external_user_id, r.sandbox_seconds]));
  };

  it("runs from the start to the terminate after it, whatever order the three arrive in", async () => {
    const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (const [n, order] of orders.entries()) {
      const s = `late-${n}`;
      const events = [
        operation(s, "session_stop", STOP),
        start(s, START, { external_user_id: `order-${n}` }),
        operation(s, "session_terminate", TERMINATE),
      ];
      for (const i of order) await ingest(t, key, [events[i]!]);
    }
    const together = "late-together";
    await ingest(t, key, [operation(together, "session_stop", STOP), start(together, START, { external_user_id: "together" }), operation(together, "session_terminate", TERMINATE)]);
    const seconds = await rollup();
    for (let n = 0; n < orders.length; n++) expect(seconds.get(`order-${n}`), `order ${orders[n]}`).toBe(3600);
    expect(seconds.get("together")).toBe(3600);
  });
});

describe("6. errors outside any route, in each surface's envelope", () => {
  const SURFACES: Array<{ name: string; envelope: Envelope; unknown: string[] }> = [
    { name: "OpenComputer", envelope: ENVELOPES.opencomputer, unknown: ["/api/nope", "/api/sandboxes/sb-base/nope", "/api/sandboxes", "/api/usage/extra", "/api/tags/x"] },
    { name: "MIOSA", envelope: ENVELOPES.miosa, unknown: ["/api/v1/usage/nope", "/api/v1/usage/rollup/x", "/api/v1/orgs/acme/budgets/b1/nope"] },
    { name: "Dreadnode", envelope: ENVELOPES.dreadnode, unknown: ["/api/v1/org/acme", "/api/v1/org/acme/nope", "/api/v1/org/acme/sandboxes/usage/x"] },
    { name: "FastAPI", envelope: ENVELOPES.fastapi, unknown: ["/api/v1/nope", "/api/v1/sandbox/usage/x", "/api/v1/usage/events/x", "/nope"] },
  ];

  for (const s of SURFACES) {
    it(`unknown paths under ${s.name}'s prefix: 404 in its envelope`, async () => {
      for (const url of s.unknown) {
        const res = await t.app.inject({ method: "GET", url, headers: bearer(key) });
        expect(res.statusCode, url).toBe(404);
        expect(s.envelope(404, res.json()), `${url} → ${res.body}`).toBe(true);
      }
    });
  }

  it("a known path with another method: 405 with Allow, in the surface's envelope", async () => {
    const cases: Array<[string, string, Envelope | "graphql", string]> = [
      ["DELETE", "/api/usage", ENVELOPES.opencomputer, "GET, HEAD"],
      ["POST", "/api/tags", ENVELOPES.opencomputer, "GET, HEAD"],
      ["DELETE", "/api/sandboxes/sb-base/tags", ENVELOPES.opencomputer, "GET, HEAD, PUT"],
      ["POST", "/api/sandboxes/sb-base/usage", ENVELOPES.opencomputer, "GET, HEAD"],
      ["POST", "/api/v1/usage", ENVELOPES.miosa, "GET, HEAD"],
      ["PUT", "/api/v1/orgs/acme/budgets", ENVELOPES.miosa, "GET, HEAD, POST"],
      ["DELETE", "/api/v1/org/acme/sandboxes/usage", ENVELOPES.dreadnode, "GET, HEAD"],
      ["POST", "/api/v1/sandbox/usage", ENVELOPES.fastapi, "GET, HEAD"],
      ["GET", "/api/v1/usage/events", ENVELOPES.fastapi, "POST"],
      ["DELETE", "/api/v1/orgs/acme/prices", ENVELOPES.fastapi, "GET, HEAD, PUT"],
      ["PUT", "/graphql", "graphql", "GET, HEAD, OPTIONS, POST"],
    ];
    for (const [method, url, envelope, allow] of cases) {
      const res = await t.app.inject({ method: method as "GET", url, headers: { ...bearer(key), ...json }, payload: "{}" });
      expect(res.statusCode, `${method} ${url} → ${res.body}`).toBe(405);
      expect(res.headers.allow, `${method} ${url}`).toBe(allow);
      if (envelope === "graphql") expect(res.json().errors[0].extensions.code, res.body).toBe("BAD_REQUEST");
      else expect(envelope(405, res.json()), `${method} ${url} → ${res.body}`).toBe(true);
    }
    // The MIOSA and Dreadnode bodies name what happened.
    expect((await t.app.inject({ method: "POST", url: "/api/v1/usage", headers: bearer(key) })).json()).toEqual({ error: { code: "method_not_allowed", message: "Method POST is not allowed on /api/v1/usage; allowed: GET, HEAD" } });
    expect((await t.app.inject({ method: "POST", url: "/api/v1/org/acme/sandboxes/usage", headers: bearer(key) })).json()).toMatchObject({ code: 405, type: "method_not_allowed", errors: null });
  });

  describe("an over-long URL (431), answered on a real socket", () => {
    let port: number;
    beforeAll(async () => {
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      port = (t.app.server.address() as { port: number }).port;
    });

    /** One raw request; the whole answer (status line, headers, body) as text. */
    const raw = (request: string) =>
      new Promise<{ status: number; body: string; head: string }>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let text = "";
        socket.on("data", (d) => (text += d.toString("utf8")));
        socket.on("error", reject);
        socket.on("close", () => {
          const [head = "", body = ""] = text.split("\r\n\r\n");
          resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body });
        });
        socket.end(request);
      });

    const cases: Array<[string, Envelope | "graphql"]> = [
      ["/api/usage?groupBy=sandbox&x=", ENVELOPES.opencomputer],
      ["/api/sandboxes/sb-base/usage?x=", ENVELOPES.opencomputer],
      ["/api/v1/usage?x=", ENVELOPES.miosa],
      ["/api/v1/org/acme/sandboxes/usage?x=", ENVELOPES.dreadnode],
      ["/api/v1/sandbox/usage?x=", ENVELOPES.fastapi],
      ["/graphql?query=", "graphql"],
    ];
    for (const [prefix, envelope] of cases) {
      it(`${prefix.split("?")[0]}`, async () => {
        const res = await raw(`GET ${prefix}${"a".repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\n\r\n`);
        expect(res.status, res.head).toBe(431);
        expect(res.head).toMatch(/content-type: application\/json/i);
        const body = JSON.parse(res.body);
        if (envelope === "graphql") expect(body.errors[0].extensions.code).toBe("BAD_REQUEST");
        else expect(envelope(431, body), res.body).toBe(true);
      });
    }

    it("and alike through app.inject, where no Node parser stands in front (a 100 KB query string)", async () => {
      for (const [prefix, envelope] of cases) {
        const res = await t.app.inject({ method: "GET", url: `${prefix}${"a".repeat(100_000)}`, headers: bearer(key) });
        expect(res.statusCode, `${prefix} → ${res.body.slice(0, 200)}`).toBe(431);
        if (envelope === "graphql") expect(res.json().errors[0].extensions.code, res.body).toBe("BAD_REQUEST");
        else expect(envelope(431, res.json()), `${prefix} → ${res.body}`).toBe(true);
      }
      // Just under the bound, the request is served.
      const ok = await t.app.inject({ method: "GET", url: `/api/usage?groupBy=sandbox&x=${"a".repeat(16 * 1024 - 100)}`, headers: bearer(key) });
      expect(ok.statusCode, ok.body.slice(0, 200)).toBe(200);
    });
  });

  it("MIOSA reports a bad X-On-Behalf-Of in its own envelope, with its own kind of code", async () => {
    for (const value of [" ", "x".repeat(300)]) {
      const res = await t.app.inject({ method: "GET", url: "/api/v1/usage", headers: { ...bearer(key), "x-on-behalf-of": value } });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ error: { code: "invalid X-On-Behalf-Of", message: "X-On-Behalf-Of must be 1-256 characters" } });
    }
    // FastAPI's surfaces name it as pydantic would a too-short or too-long string.
    const mka1 = await t.app.inject({ method: "GET", url: "/api/v1/sandbox/usage?start_time=0", headers: { ...bearer(key), "x-on-behalf-of": " " } });
    expect(mka1.json()).toEqual({ detail: [{ loc: ["header", "X-On-Behalf-Of"], msg: "must be 1-256 characters", type: "string_too_short" }] });
    const long = await t.app.inject({ method: "GET", url: "/api/v1/sandbox/usage?start_time=0", headers: { ...bearer(key), "x-on-behalf-of": "x".repeat(300) } });
    expect(long.json().detail[0].type).toBe("string_too_long");
  });

  it("ingest bodies that start with a UTF-8 byte-order mark are accepted, NDJSON and JSON", async () => {
    const nd = await post("/api/v1/usage/events", `\uFEFF${JSON.stringify(operation("bom", "turn", "2026-05-27T12:00:00Z"))}\n${JSON.stringify(operation("bom", "turn", "2026-05-27T12:01:00Z"))}`, ndjson);
    expect([nd.statusCode, nd.body]).toEqual([200, JSON.stringify({ accepted: 2, duplicates: 0 })]);
    const body = await post("/api/v1/usage/events", `\uFEFF${JSON.stringify({ events: [operation("bom", "turn", "2026-05-27T12:02:00Z")] })}`);
    expect([body.statusCode, body.body]).toEqual([200, JSON.stringify({ accepted: 1, duplicates: 0 })]);
    // As raw bytes too, not only as a decoded character.
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(operation("bom", "turn", "2026-05-27T12:03:00Z")))]);
    const rawNd = await t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), ...ndjson }, payload: bytes });
    expect([rawNd.statusCode, rawNd.body]).toEqual([200, JSON.stringify({ accepted: 1, duplicates: 0 })]);
  });

  it("Authorization: Bearer and X-API-Key are both accepted on every REST surface", async () => {
    const urls = [
      "/api/v1/sandbox/usage?start_time=1779840000&end_time=1779926400",
      "/api/v1/usage",
      "/api/v1/org/acme/sandboxes/usage",
      "/api/sandboxes/sb-base/usage",
      "/api/usage?groupBy=sandbox",
      "/api/tags",
      "/api/v1/api-keys",
      "/api/v1/orgs/acme/prices",
      "/api/v1/orgs/acme/budgets",
    ];
    for (const url of urls) {
      for (const headers of [bearer(key), { "x-api-key": key }]) {
        const res = await t.app.inject({ method: "GET", url, headers });
        expect(res.statusCode, `${url} ${Object.keys(headers)[0]} → ${res.body.slice(0, 200)}`).toBe(200);
      }
    }
  });
});
