/**
 * OpenComputer's sandbox tags (DESIGN §1): `PUT`/`GET /api/sandboxes/{id}/tags`, `GET /api/tags`,
 * `Mutation.setSandboxTags`, `Query.tagKeys` and `Sandbox.tags`; tags carried by session_start
 * events, and which of a session_start and a PUT wins (the newer by time: the session_start's
 * timestamp against the clock time of the PUT).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T12:00:00Z";
/** "Now" is the time a PUT is stamped with; tests that move it put it back. */
const clock = { at: new Date(NOW), now() { return new Date(this.at); } };

let t: TestApp;
let reader: string;
let ingester: string;
let admin: string;
let rivalReader: string;
let rivalAdmin: string;
let statsReader: string;
let statsAdmin: string;

const xKey = (key: string) => ({ "x-api-key": key });

const getTags = (id: string, headers: Record<string, string> = xKey(reader)) =>
  t.app.inject({ method: "GET", url: `/api/sandboxes/${encodeURIComponent(id)}/tags`, headers });

function putTags(id: string, body: unknown, headers: Record<string, string> = xKey(admin)) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return t.app.inject({ method: "PUT", url: `/api/sandboxes/${encodeURIComponent(id)}/tags`, headers: { "content-type": "application/json", ...headers }, payload });
}

async function tagsOf(id: string, headers: Record<string, string> = xKey(reader)) {
  const res = await getTags(id, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const listKeys = (headers: Record<string, string>) => t.app.inject({ method: "GET", url: "/api/tags", headers });

const SANDBOX_TAGS = `query ($id: ID!) { sandbox(id: $id) { id tags { key value } tagsLastUpdatedAt } }`;
const SET_TAGS = `mutation ($id: ID!, $tags: [SandboxTagInput!]!) { setSandboxTags(id: $id, tags: $tags) { id tags { key value } tagsLastUpdatedAt } }`;
const TAG_KEYS = `{ tagKeys { key sandboxCount valueCount } }`;

beforeAll(async () => {
  t = await startTestApp({ clock, label: "octags" });
  reader = await t.key("tg", "reader", ["read"]);
  ingester = await t.key("tg", "ingester", ["ingest"]);
  admin = await t.key("tg", "admin", ["admin"]);
  await ingest(t, ingester, [
    start("ev1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-ev", tags: { team: "growth", env: "prod" } }),
    stop("ev1", "2026-05-27T10:30:00Z", { sandbox_id: "sb-ev" }),
    start("p1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-put", tags: { team: "growth", env: "prod" } }),
    stop("p1", "2026-05-27T10:10:00Z", { sandbox_id: "sb-put" }),
    start("cl1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-clear", tags: { team: "growth" } }),
    stop("cl1", "2026-05-27T11:00:00Z", { sandbox_id: "sb-clear" }),
    start("plain", "2026-05-27T10:00:00Z", { sandbox_id: "sb-plain" }),
    stop("plain", "2026-05-27T10:01:00Z", { sandbox_id: "sb-plain" }),
    start("v1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-valid", tags: { keep: "me" } }),
    stop("v1", "2026-05-27T10:01:00Z", { sandbox_id: "sb-valid" }),
    start("g1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-gql" }),
    stop("g1", "2026-05-27T10:01:00Z", { sandbox_id: "sb-gql" }),
    memorySample("sb-ghost", "2026-05-27T10:00:00Z", 100),
  ]);

  // The rival org: its own sb-r, and an "sb-ev" of its own with other tags.
  rivalReader = await t.key("rival", "reader", ["read"]);
  rivalAdmin = await t.key("rival", "admin", ["admin"]);
  await ingest(t, await t.key("rival", "ingester", ["ingest"]), [
    start("r1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-r", tags: { team: "rival", secret: "x" } }),
    start("r2", "2026-05-27T10:00:00Z", { sandbox_id: "sb-ev", tags: { team: "rival-ev" } }),
  ]);

  // org stats, only for the tag-key counts: s1 {team: growth, env: prod}, s2 {team: growth},
  // s3 {team: payments, cost.center: cc-1}, s4 none.
  statsReader = await t.key("stats", "reader", ["read"]);
  statsAdmin = await t.key("stats", "admin", ["admin"]);
  await ingest(t, await t.key("stats", "ingester", ["ingest"]), [
    start("s1", "2026-05-27T10:00:00Z", { tags: { team: "growth", env: "prod" } }),
    start("s2", "2026-05-27T10:00:00Z", { tags: { team: "growth" } }),
    start("s3", "2026-05-27T10:00:00Z", { tags: { team: "payments", "cost.center": "cc-1" } }),
    start("s4", "2026-05-27T10:00:00Z"),
  ]);
});
afterAll(() => t?.close());

describe("tags from session_start events", () => {
  it("the latest session_start carrying tags sets them; untagged and earlier starts do not", async () => {
    expect(await tagsOf("sb-ev")).toStrictEqual({ tags: { env: "prod", team: "growth" }, tagsLastUpdatedAt: "2026-05-27T10:00:00Z" });
    // A later start with tags replaces the whole set (env goes).
    await ingest(t, ingester, [start("ev2", "2026-05-27T11:00:00Z", { sandbox_id: "sb-ev", tags: { team: "platform" } })]);
    expect(await tagsOf("sb-ev")).toStrictEqual({ tags: { team: "platform" }, tagsLastUpdatedAt: "2026-05-27T11:00:00Z" });
    // A still later start without tags leaves them; an earlier one with tags arriving late loses.
    await ingest(t, ingester, [
      start("ev3", "2026-05-27T12:00:00Z", { sandbox_id: "sb-ev" }),
      start("ev0", "2026-05-27T09:00:00Z", { sandbox_id: "sb-ev", tags: { team: "old" } }),
    ]);
    expect(await tagsOf("sb-ev")).toStrictEqual({ tags: { team: "platform" }, tagsLastUpdatedAt: "2026-05-27T11:00:00Z" });
    // The rival's sandbox of the same id keeps its own tags.
    expect(await tagsOf("sb-ev", xKey(rivalReader))).toStrictEqual({ tags: { team: "rival-ev" }, tagsLastUpdatedAt: "2026-05-27T10:00:00Z" });
  });

  it("a sandbox without tags, or known only from memory samples, answers an empty set", async () => {
    expect(await tagsOf("sb-plain")).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
    expect(await tagsOf("sb-ghost")).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
  });
});

describe("PUT /api/sandboxes/{id}/tags", () => {
  it("replaces the whole set, stamped with the clock's now, and GET reads it back", async () => {
    const res = await putTags("sb-put", { team: "infra", "cost.center": "cc-9" });
    expect(res.statusCode, res.body).toBe(200);
    // env (from the session_start) is gone: a PUT replaces, it does not merge.
    const expected = { tags: { "cost.center": "cc-9", team: "infra" }, tagsLastUpdatedAt: NOW };
    expect(res.json()).toStrictEqual(expected);
    expect(await tagsOf("sb-put")).toStrictEqual(expected);
  });

  it("a later PUT wins over earlier session_starts; an even later session_start wins over the PUT", async () => {
    try {
      // The PUT above was at 12:00. A start at 11:59:59 arriving now is older: the PUT stays.
      await ingest(t, ingester, [start("p2", "2026-05-28T11:59:59Z", { sandbox_id: "sb-put", tags: { team: "stale" } })]);
      expect(await tagsOf("sb-put")).toStrictEqual({ tags: { "cost.center": "cc-9", team: "infra" }, tagsLastUpdatedAt: NOW });
      // At 13:00, a start at 12:30 (after the PUT) takes over.
      clock.at = new Date("2026-05-28T13:00:00Z");
      await ingest(t, ingester, [start("p3", "2026-05-28T12:30:00Z", { sandbox_id: "sb-put", tags: { team: "late" } })]);
      expect(await tagsOf("sb-put")).toStrictEqual({ tags: { team: "late" }, tagsLastUpdatedAt: "2026-05-28T12:30:00Z" });
      // And a PUT at 13:00 wins again.
      const res = await putTags("sb-put", { owner: "ops" });
      expect(res.json()).toStrictEqual({ tags: { owner: "ops" }, tagsLastUpdatedAt: "2026-05-28T13:00:00Z" });
      expect(await tagsOf("sb-put")).toStrictEqual({ tags: { owner: "ops" }, tagsLastUpdatedAt: "2026-05-28T13:00:00Z" });
    } finally {
      clock.at = new Date(NOW);
    }
  });

  it("an untagged session_start never changes the tags, also after a PUT older than a tagged start", async () => {
    try {
      // At 12:00 a session_start stamped 12:30 (ingest accepts up to 24 h ahead) tags sb-future.
      await ingest(t, ingester, [start("fx1", "2026-05-28T12:30:00Z", { sandbox_id: "sb-future", tags: { team: "future" } })]);
      expect(await tagsOf("sb-future")).toStrictEqual({ tags: { team: "future" }, tagsLastUpdatedAt: "2026-05-28T12:30:00Z" });
      // A PUT at 12:10.
      clock.at = new Date("2026-05-28T12:10:00Z");
      expect((await putTags("sb-future", { team: "put" })).statusCode).toBe(200);
      const afterPut = await tagsOf("sb-future");
      // A session_start without tags (12:05) must leave whatever the tags are now.
      await ingest(t, ingester, [start("fx2", "2026-05-28T12:05:00Z", { sandbox_id: "sb-future" })]);
      expect(await tagsOf("sb-future")).toStrictEqual(afterPut);
      // A PUT always takes effect: it supersedes every tagged start already seen, even one
      // stamped later than the PUT (12:30); only a tagged start later than both could take over.
      expect(afterPut).toStrictEqual({ tags: { team: "put" }, tagsLastUpdatedAt: "2026-05-28T12:10:00Z" });
    } finally {
      clock.at = new Date(NOW);
    }
  });

  it("{} clears the set: no tags, tagsLastUpdatedAt null, and older session tags do not come back", async () => {
    const res = await putTags("sb-clear", {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
    expect(await tagsOf("sb-clear")).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
    await ingest(t, ingester, [start("cl2", "2026-05-27T12:00:00Z", { sandbox_id: "sb-clear", tags: { team: "before-the-clear" } })]);
    expect(await tagsOf("sb-clear")).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
  });

  it("can tag a sandbox known only from memory samples", async () => {
    const res = await putTags("sb-ghost", { kind: "probe" });
    expect(res.json()).toStrictEqual({ tags: { kind: "probe" }, tagsLastUpdatedAt: NOW });
  });

  it("shows the PUT's tags and time in the aggregate", async () => {
    // sb-plain: 1024 MiB × 60 s = 60 GiB-s on 05-27.
    await putTags("sb-plain", { team: "qa" });
    const day = await t.app.inject({ method: "GET", url: "/api/usage?groupBy=tag:team&filter%5Btag%3Ateam%5D=qa&from=2026-05-27&to=2026-05-28", headers: xKey(reader) });
    expect(day.json().items).toStrictEqual([{ tagKey: "team", tagValue: "qa", memoryGbSeconds: 60, diskOverageGbSeconds: 0, sandboxCount: 1 }]);
    const bySandbox = await t.app.inject({ method: "GET", url: "/api/usage?groupBy=sandbox&filter%5Btag%3Ateam%5D=qa&from=2026-05-27&to=2026-05-28", headers: xKey(reader) });
    expect(bySandbox.json().items).toStrictEqual([
      { sandboxId: "sb-plain", status: "stopped", tags: { team: "qa" }, tagsLastUpdatedAt: NOW, memoryGbSeconds: 60, diskOverageGbSeconds: 0 },
    ]);
  });

  it("accepts the limits: 50 keys, a 128-character key, a 256-character value, every allowed key character", async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, "0")}`, `v${i}`]));
    expect((await putTags("sb-valid", fifty)).json().tags).toStrictEqual(fifty);
    const edge = { ["k".repeat(128)]: "v".repeat(256), "Az09_.:-x": "ok", "OC-not-reserved": "fine" };
    const res = await putTags("sb-valid", edge);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().tags).toStrictEqual(edge);
    // Back to the fixture's set for the next test.
    expect((await putTags("sb-valid", { keep: "me" })).statusCode).toBe(200);
  });

  const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, "v"]));
  it.each<[string, string]>([
    ["51 keys", JSON.stringify(tooMany)],
    ["an empty key", JSON.stringify({ "": "x" })],
    ["a 129-character key", JSON.stringify({ ["k".repeat(129)]: "x" })],
    ["a key with a space", JSON.stringify({ "team name": "x" })],
    ["a key with a slash", JSON.stringify({ "team/x": "x" })],
    ["a key with a non-ASCII letter", JSON.stringify({ "équipe": "x" })],
    ["a key with the reserved prefix oc:", JSON.stringify({ "oc:team": "x" })],
    ["the bare reserved prefix", JSON.stringify({ "oc:": "x" })],
    ["a nested object value", JSON.stringify({ team: { name: "x" } })],
    ["a number value", JSON.stringify({ team: 5 })],
    ["a null value", JSON.stringify({ team: null })],
    ["a boolean value", JSON.stringify({ team: true })],
    ["an array value", JSON.stringify({ team: ["x"] })],
    ["a 257-character value", JSON.stringify({ team: "v".repeat(257) })],
    ["a body that is an array", JSON.stringify([["team", "x"]])],
    ["a body that is a string", JSON.stringify("team=x")],
    ["a body that is a number", "42"],
    ["a body that is null", "null"],
    ["a body that is not JSON", "{team: x"],
    ["an empty body", ""],
  ])("400 for %s, leaving the tags as they were", async (_name, payload) => {
    const res = await putTags("sb-valid", payload);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toStrictEqual({ error: expect.any(String) });
    expect(await tagsOf("sb-valid")).toStrictEqual({ tags: { keep: "me" }, tagsLastUpdatedAt: NOW });
  });

  it("413 for a body over 64 KiB", async () => {
    const res = await putTags("sb-valid", { team: "v".repeat(70_000) });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toStrictEqual({ error: expect.any(String) });
  });
});

describe("tags: keys, scopes and tenancy", () => {
  it("PUT needs admin or ingest; GET needs read", async () => {
    expect((await putTags("sb-valid", { keep: "me" }, xKey(ingester))).statusCode).toBe(200);
    expect((await putTags("sb-valid", { keep: "me" }, xKey(admin))).statusCode).toBe(200);
    const readOnly = await putTags("sb-valid", { keep: "other" }, xKey(reader));
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json()).toStrictEqual({ error: expect.any(String) });
    const noRead = await getTags("sb-valid", xKey(ingester));
    expect(noRead.statusCode).toBe(403);
    expect(noRead.json()).toStrictEqual({ error: expect.any(String) });
    expect((await tagsOf("sb-valid")).tags).toStrictEqual({ keep: "me" });
  });

  it("401 without a key or with an unknown key; 403 for the bootstrap key (Bearer or X-API-Key alike)", async () => {
    for (const [headers, status] of [
      [{}, 401],
      [xKey("usk_bogus_key"), 401],
      [bearer("usk_bogus_key"), 401],
      [xKey(BOOTSTRAP_KEY), 403],
      [bearer(BOOTSTRAP_KEY), 403],
    ] as const) {
      for (const res of [await getTags("sb-valid", headers), await putTags("sb-valid", { keep: "x" }, headers), await listKeys(headers)]) {
        expect(res.statusCode, `${JSON.stringify(headers)} ${res.body}`).toBe(status);
        expect(res.json()).toStrictEqual({ error: expect.any(String) });
      }
    }
    expect((await tagsOf("sb-valid")).tags).toStrictEqual({ keep: "me" });
  });

  it("404 for an unknown sandbox and for another org's, indistinguishably, and the other org's tags stay", async () => {
    const unknownGet = await getTags("sb-nope");
    const foreignGet = await getTags("sb-r");
    const unknownPut = await putTags("sb-nope", { team: "x" });
    const foreignPut = await putTags("sb-r", { team: "x" });
    for (const res of [unknownGet, foreignGet, unknownPut, foreignPut]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toStrictEqual({ error: expect.any(String) });
    }
    expect(foreignGet.json().error).toBe(unknownGet.json().error.replaceAll("sb-nope", "sb-r"));
    expect(foreignPut.json().error).toBe(unknownPut.json().error.replaceAll("sb-nope", "sb-r"));
    expect(await tagsOf("sb-r", xKey(rivalReader))).toStrictEqual({ tags: { secret: "x", team: "rival" }, tagsLastUpdatedAt: "2026-05-27T10:00:00Z" });
    // And the rival cannot write ours.
    expect((await putTags("sb-valid", { team: "x" }, xKey(rivalAdmin))).statusCode).toBe(404);
  });

  it("GET /api/tags: each key of the org's sandboxes, sorted, with sandbox and value counts", async () => {
    // stats: cost.center on s3 (1 sandbox, 1 value); env on s1 (1, 1); team on s1, s2, s3 (3, growth/payments = 2).
    // The rival's secret/team never count.
    const res = await listKeys(xKey(statsReader));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({
      keys: [
        { key: "cost.center", sandboxCount: 1, valueCount: 1 },
        { key: "env", sandboxCount: 1, valueCount: 1 },
        { key: "team", sandboxCount: 3, valueCount: 2 },
      ],
    });
    // s4 → team=infra: team on 4 sandboxes, 3 values. s1 cleared: env is gone, team back to 3 sandboxes (growth, payments, infra).
    await putTags("sb-s4", { team: "infra" }, xKey(statsAdmin));
    await putTags("sb-s1", {}, xKey(statsAdmin));
    expect((await listKeys(xKey(statsReader))).json()).toStrictEqual({
      keys: [
        { key: "cost.center", sandboxCount: 1, valueCount: 1 },
        { key: "team", sandboxCount: 3, valueCount: 3 },
      ],
    });
    // The rival: secret (1, 1) and team on sb-r and its sb-ev (2 sandboxes, rival/rival-ev = 2 values).
    expect((await listKeys(xKey(rivalReader))).json()).toStrictEqual({
      keys: [
        { key: "secret", sandboxCount: 1, valueCount: 1 },
        { key: "team", sandboxCount: 2, valueCount: 2 },
      ],
    });
    // GET /api/tags needs read.
    expect((await listKeys(xKey(statsAdmin))).statusCode).toBe(403);
  });
});

describe("GraphQL: setSandboxTags, Sandbox.tags, tagKeys", () => {
  it("setSandboxTags replaces the set and answers it sorted by key; Sandbox.tags agrees with REST", async () => {
    const res = await t.graphql(SET_TAGS, { id: "sb-gql", tags: [{ key: "team", value: "growth" }, { key: "env", value: "prod" }] }, xKey(admin));
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.setSandboxTags).toStrictEqual({ id: "sb-gql", tags: [{ key: "env", value: "prod" }, { key: "team", value: "growth" }], tagsLastUpdatedAt: "2026-05-28T12:00:00.000Z" });
    expect(await tagsOf("sb-gql")).toStrictEqual({ tags: { env: "prod", team: "growth" }, tagsLastUpdatedAt: NOW });
    const read = await t.graphql(SANDBOX_TAGS, { id: "sb-gql" }, bearer(reader));
    expect(read.body.data!.sandbox).toStrictEqual(res.body.data!.setSandboxTags);
    // The ingest scope may set tags too; an empty list clears them.
    const cleared = await t.graphql(SET_TAGS, { id: "sb-gql", tags: [] }, bearer(ingester));
    expect(cleared.body.data!.setSandboxTags).toStrictEqual({ id: "sb-gql", tags: [], tagsLastUpdatedAt: null });
    expect(await tagsOf("sb-gql")).toStrictEqual({ tags: {}, tagsLastUpdatedAt: null });
  });

  it("tagKeys agrees with GET /api/tags", async () => {
    const [gql, rest] = await Promise.all([t.graphql(TAG_KEYS, {}, xKey(rivalReader)), listKeys(xKey(rivalReader))]);
    expect(gql.body.data!.tagKeys).toStrictEqual(rest.json().keys);
    const ours = await t.graphql(TAG_KEYS, {}, xKey(reader));
    expect(ours.body.data!.tagKeys.map((k: { key: string }) => k.key)).not.toContain("secret");
  });

  it.each<[string, Array<{ key: string; value: string }>]>([
    ["a duplicate key", [{ key: "team", value: "a" }, { key: "team", value: "b" }]],
    ["the reserved prefix", [{ key: "oc:team", value: "x" }]],
    ["a bad key", [{ key: "team name", value: "x" }]],
    ["a 129-character key", [{ key: "k".repeat(129), value: "x" }]],
    ["a 257-character value", [{ key: "team", value: "v".repeat(257) }]],
    ["51 keys", Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: "v" }))],
  ])("BAD_USER_INPUT for %s", async (_name, tags) => {
    const res = await t.graphql(SET_TAGS, { id: "sb-valid", tags }, xKey(admin));
    expect(res.body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
    expect((await tagsOf("sb-valid")).tags).toStrictEqual({ keep: "me" });
  });

  it("NOT_FOUND for an unknown or foreign sandbox; null from Query.sandbox", async () => {
    for (const id of ["sb-nope", "sb-r"]) {
      const res = await t.graphql(SET_TAGS, { id, tags: [{ key: "team", value: "x" }] }, xKey(admin));
      expect(res.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
      const read = await t.graphql(SANDBOX_TAGS, { id }, xKey(reader));
      expect(read.body.errors).toBeUndefined();
      expect(read.body.data!.sandbox).toBeNull();
    }
  });

  it("UNAUTHENTICATED without a key; FORBIDDEN for a read-only key and for the bootstrap key", async () => {
    const vars = { id: "sb-valid", tags: [{ key: "team", value: "x" }] };
    expect((await t.graphql(SET_TAGS, vars)).body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect((await t.graphql(SET_TAGS, vars, xKey(reader))).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await t.graphql(SET_TAGS, vars, bearer(BOOTSTRAP_KEY))).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await t.graphql(TAG_KEYS, {}, xKey(ingester))).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await t.graphql(TAG_KEYS, {})).body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect((await tagsOf("sb-valid")).tags).toStrictEqual({ keep: "me" });
  });
});
