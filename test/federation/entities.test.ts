/**
 * `_entities` straight at this subgraph, as a router sends it: references and every per-entity
 * usage field batched (one command per field for 250 representations), unknown sandboxes resolving
 * to zero usage, errors in GraphQL's codes, and the `_service { sdl }` pinned so schema changes
 * are deliberate (update the snapshot with `npx vitest run -u test/federation`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { subgraphSdl } from "../../src/graphql/schema.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { recordCommands } from "../helpers/commands.js";
import { ingest, start, stop } from "../helpers/events.js";

const KNOWN = 50;
const sbId = (i: number) => `sb-${i}`;

const ENTITIES = /* GraphQL */ `
  query ($representations: [_Any!]!, $from: String, $to: String) {
    _entities(representations: $representations) {
      ... on Sandbox { id alias usage(from: $from, to: $to) { memoryGbSeconds diskOverageGbSeconds } }
      ... on User { id runtimeSummary { sessionsCount totalRuntimeSeconds } }
    }
  }
`;

describe("_entities", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock("2026-05-20T12:00:00Z"), label: "entities", monitorCommands: true });
    key = await t.key("ent", "reader", ["read"]);
    const ingestKey = await t.key("ent", "loader", ["ingest"]);
    // Sandbox i (i < 50): one session of i + 1 hours from 00:00, 2048 MiB, by user u-(i mod 2), alias "agent-i".
    const events = [];
    for (let i = 0; i < KNOWN; i++) {
      const fields = { sandbox_id: sbId(i), user_id: `u-${i % 2}` };
      events.push(start(`e-${i}`, "2026-05-20T00:00:00Z", { ...fields, memory_mb: 2048, alias: `agent-${i}` }));
      events.push(stop(`e-${i}`, new Date(Date.parse("2026-05-20T00:00:00Z") + (i + 1) * 3_600_000).toISOString().replace(/\.000Z$/, "Z"), fields));
    }
    // Another org's sandbox with the same id as one of ours.
    const otherKey = await t.key("other", "x", ["ingest"]);
    await ingest(t, ingestKey, events.filter((e) => Date.parse(String(e.timestamp)) <= Date.parse("2026-05-20T12:00:00Z")));
    await ingest(t, otherKey, [start("o-1", "2026-05-20T00:00:00Z", { sandbox_id: sbId(0), memory_mb: 999_999 })]);
  }, 60_000);
  afterAll(() => t.close());

  it("resolves 250 sandbox representations (50 known, 200 never seen) and 2 users with one command per field", async () => {
    const representations = [
      ...Array.from({ length: 250 }, (_, i) => ({ __typename: "Sandbox", id: sbId(i) })),
      { __typename: "User", id: "u-0" },
      { __typename: "User", id: "u-1" },
    ];
    const commands = recordCommands(t.mongo.client);
    const res = await t.graphql(ENTITIES, { representations, from: "2026-05-20T00:00:00Z", to: "2026-05-21T00:00:00Z" }, { "x-api-key": key });
    commands.stop();
    expect(res.body.errors).toBeUndefined();
    const entities = res.body.data!._entities as any[];
    expect(entities).toHaveLength(252);
    for (let i = 0; i < 250; i++) {
      // Sessions that stop after the clock (12:00) are open and run until now: min(i + 1, 12) hours.
      const hours = i < KNOWN ? Math.min(i + 1, 12) : 0;
      expect(entities[i]).toEqual({
        id: sbId(i),
        alias: i < KNOWN ? `agent-${i}` : null,
        // 2048 MiB = 2 GiB × hours × 3600 s; no disk over the included 20 GiB.
        usage: { memoryGbSeconds: 2 * 3600 * hours, diskOverageGbSeconds: 0 },
      });
    }
    // u-0 ran the even sandboxes: Σ min(i + 1, 12) h for i = 0, 2, …, 48 = (1+3+5+7+9+11) + 19·12 = 264 h.
    expect(entities[250]).toEqual({ id: "u-0", runtimeSummary: { sessionsCount: 25, totalRuntimeSeconds: 264 * 3600 } });
    // u-1: i = 1, 3, …, 49: (2+4+6+8+10) + 20·12 = 270 h.
    expect(entities[251]).toEqual({ id: "u-1", runtimeSummary: { sessionsCount: 25, totalRuntimeSeconds: 270 * 3600 } });
    expect(commands.count("find", "sandboxes")).toBe(1);
    expect(commands.count("aggregate", "sessions")).toBe(2);
    expect(commands.sent.filter((c) => c.name === "aggregate" || c.name === "find").map((c) => c.collection).sort()).toEqual(
      ["api_keys", "sandboxes", "sessions", "sessions"],
    );
  });

  it("a bad window on a batched field is one BAD_USER_INPUT per entity, without a database command", async () => {
    const representations = Array.from({ length: 3 }, (_, i) => ({ __typename: "Sandbox", id: sbId(i) }));
    const commands = recordCommands(t.mongo.client);
    const res = await t.graphql(ENTITIES, { representations, from: "2026-05-20", to: "2026-05-19" }, { "x-api-key": key });
    commands.stop();
    expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT", "BAD_USER_INPUT", "BAD_USER_INPUT"]);
    expect(commands.count("aggregate", "sessions")).toBe(0);
  });

  it("needs a key; another org's key sees its own sandbox of the same id", async () => {
    const representations = [{ __typename: "Sandbox", id: sbId(0) }];
    const anonymous = await t.graphql(ENTITIES, { representations });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const otherReader = await t.key("other", "y", ["read"]);
    const other = await t.graphql(ENTITIES, { representations, from: "2026-05-20T00:00:00Z", to: "2026-05-20T01:00:00Z" }, { "x-api-key": otherReader });
    // 999,999 MiB for one hour: 999999 / 1024 × 3600 = 3,515,621.48 GiB-s.
    expect(other.body.data!._entities).toEqual([{ id: sbId(0), alias: null, usage: { memoryGbSeconds: 3_515_621.48, diskOverageGbSeconds: 0 } }]);
  });

  it("Organization and User references need no database round trip", async () => {
    const commands = recordCommands(t.mongo.client);
    const res = await t.graphql(`query ($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id } ... on User { id } } }`, {
      r: [{ __typename: "Organization", id: "ent" }, { __typename: "User", id: "u-9" }],
    }, { "x-api-key": key });
    commands.stop();
    expect(res.body.data!._entities).toEqual([{ id: "ent" }, { id: "u-9" }]);
    expect(commands.sent).toEqual([]);
  });
});

describe("_service { sdl }", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: "sdl" });
  });
  afterAll(() => t.close());

  it("is served without a key, equals the printed subgraph schema, and is pinned", async () => {
    const first = await t.graphql("{ _service { sdl } }");
    const second = await t.graphql("{ _service { sdl } }");
    const sdl = first.body.data!._service.sdl as string;
    expect(second.body.data!._service.sdl).toBe(sdl);
    expect(sdl).toBe(subgraphSdl());
    await expect(sdl).toMatchFileSnapshot("./__snapshots__/subgraph.graphql");
  });
});

describe("_entities with hostile representations", () => {
  let t: TestApp;
  let key: string;
  beforeAll(async () => {
    t = await startTestApp({ label: "entities-hostile", monitorCommands: true });
    key = await t.key("ent", "reader", ["read"], true);
    const ingestKey = await t.key("ent", "loader", ["ingest"]);
    await ingest(t, ingestKey, [start("h-1", "2026-05-20T00:00:00Z", { sandbox_id: "sb-h", user_id: "victim" })]);
  });
  afterAll(() => t.close());

  it("refuses a representation whose id is not a string, before any query, for every entity type", async () => {
    for (const __typename of ["Sandbox", "User", "Organization"]) {
      const commands = recordCommands(t.mongo.client);
      const res = await t.graphql(
        `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Sandbox { id } ... on User { runtimeSummary { sessionsCount } } ... on Organization { usageRollup { results { key } } } } }`,
        { r: [{ __typename, id: { $gt: "" } }] },
        { "x-api-key": key },
      );
      commands.stop();
      expect(res.body.errors?.[0]?.extensions?.code, __typename).toBe("BAD_USER_INPUT");
      expect(JSON.stringify(res.body.data)).not.toContain("sessionsCount\":1");
      expect(commands.sent.filter((c) => c.collection !== "api_keys"), __typename).toEqual([]);
    }
  });
});
