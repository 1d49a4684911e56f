/**
 * Corrections (`POST /api/v1/usage/events/void`, `Mutation.voidUsageEvents`): a voided event stops
 * counting everywhere — operations, sessions, runtime, cost, budgets — is kept with who, when and
 * why, stays taken as an id, and voiding again changes nothing. Voiding a session_start leaves the
 * session without runtime; voiding the stop of a closed session reopens it until its next stop.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, operation, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T00:00:00Z";
let t: TestApp;
let keys: { ingest: string; read: string; admin: string; other: string };

const voidIds = (ids: unknown, key = keys.ingest, extra: Record<string, unknown> = {}) =>
  t.app.inject({ method: "POST", url: "/api/v1/usage/events/void", headers: bearer(key), payload: { ids, reason: "sent twice by a bug", ...extra } });
const get = async (url: string) => {
  const res = await t.app.inject({ method: "GET", url, headers: bearer(keys.read) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
};
const runtime = async () => (await get("/api/v1/usage?period=30d&group_by=external_user_id")).results as Array<{ external_user_id: string; sandbox_seconds: number }>;
const secondsOf = async (customer: string) => (await runtime()).find((r) => r.external_user_id === customer)?.sandbox_seconds ?? 0;

beforeAll(async () => {
  t = await startTestApp({ label: "voids", clock: fixedClock(NOW) });
  keys = {
    ingest: await t.key("acme", "alice", ["ingest"]),
    read: await t.key("acme", "alice", ["read"]),
    admin: await t.key("acme", "root", ["admin", "read"]),
    other: await t.key("globex", "bob", ["ingest"]),
  };
  await ingest(t, keys.ingest, [
    { ...start("s1", "2026-05-27T10:00:00Z", { external_user_id: "c1" }), id: "s1-start" },
    { ...operation("s1", "command", "2026-05-27T10:10:00Z", { request_count: 5 }), id: "s1-op-a" },
    { ...operation("s1", "command", "2026-05-27T10:20:00Z", { request_count: 7 }), id: "s1-op-b" },
    { ...stop("s1", "2026-05-27T11:00:00Z"), id: "s1-stop" },
    { ...start("s2", "2026-05-27T12:00:00Z", { external_user_id: "c2" }), id: "s2-start" },
    { ...stop("s2", "2026-05-27T13:00:00Z"), id: "s2-stop-1" },
    { ...stop("s2", "2026-05-27T15:00:00Z"), id: "s2-stop-2" },
  ]);
}, 60_000);
afterAll(() => t?.close());

const mka1 = () => get("/api/v1/sandbox/usage?start_time=1779840000&end_time=1779926400&bucket_width=1d");

describe("voiding events", () => {
  it("takes an operation out of every bucket, once; again is already voided; unknown ids are counted", async () => {
    const before = (await mka1()).data[0].results[0];
    const first = await voidIds(["s1-op-a", "nope"]);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({ voided: 1, already_voided: 0, unknown: 1 });
    const after = (await mka1()).data[0].results[0];
    expect(after.num_operations).toBe(before.num_operations - 1);
    expect(after.request_count).toBe(before.request_count - 5);
    expect((await voidIds(["s1-op-a"])).json()).toEqual({ voided: 0, already_voided: 1, unknown: 0 });
    expect((await mka1()).data[0].results[0]).toEqual(after);
  });

  it("keeps the id taken: re-sending a voided event is a duplicate", async () => {
    const res = await t.app.inject({
      method: "POST", url: "/api/v1/usage/events", headers: bearer(keys.ingest),
      payload: { events: [{ ...operation("s1", "command", "2026-05-27T10:10:00Z", { request_count: 5 }), id: "s1-op-a" }] },
    });
    expect(res.json()).toEqual({ accepted: 0, duplicates: 1 });
  });

  it("keeps the voided event for audit, with who, when and why", async () => {
    const doc = await t.mongo.db.collection("usage_events_voided").findOne({ event_id: "s1-op-a" });
    expect(doc).toMatchObject({ org_id: "acme", request_count: 5, void_reason: "sent twice by a bug", voided_at: new Date(NOW) });
    expect(typeof doc!.voided_by).toBe("string");
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: "s1-op-a" })).toBe(0);
  });

  it("leaves a session without runtime when its start is voided", async () => {
    expect(await secondsOf("c1")).toBe(3600);
    await voidIds(["s1-start"]);
    expect(await secondsOf("c1")).toBe(0);
  });

  it("reopens a closed session until its next stop when its stop is voided", async () => {
    expect(await secondsOf("c2")).toBe(3600);
    await voidIds(["s2-stop-1"]);
    expect(await secondsOf("c2")).toBe(3 * 3600);
    await voidIds(["s2-stop-2"]);
    // No stop left: open until now (NOW is 11 h after the start).
    expect(await secondsOf("c2")).toBe(12 * 3600);
  });

  it("voids the same way through GraphQL", async () => {
    const res = await t.graphql(`mutation { voidUsageEvents(ids: ["s1-op-b", "s1-op-a", "ghost"], reason: "bug") { voided alreadyVoided unknown } }`, {}, bearer(keys.ingest));
    expect(res.body).toEqual({ data: { voidUsageEvents: { voided: 1, alreadyVoided: 1, unknown: 1 } } });
  });

  it("needs the ingest scope, stays inside the key's org, and refuses bad requests in the envelope", async () => {
    expect((await voidIds(["s1-stop"], keys.read)).statusCode).toBe(403);
    // Another org's key finds nothing of acme's (ids are per org), and may not name acme.
    expect((await voidIds(["s1-stop"], keys.other)).json()).toEqual({ voided: 0, already_voided: 0, unknown: 1 });
    expect((await voidIds(["s1-stop"], keys.other, { org_id: "acme" })).statusCode).toBe(403);
    for (const bad of [[], "s1-stop", [""], Array.from({ length: 5001 }, (_, i) => `x${i}`), [1]]) {
      const res = await voidIds(bad);
      expect(res.statusCode, JSON.stringify(bad).slice(0, 40)).toBe(422);
      expect(res.json().detail).toBeDefined();
    }
    const unknownField = await t.app.inject({ method: "POST", url: "/api/v1/usage/events/void", headers: bearer(keys.ingest), payload: { ids: ["a"], why: "typo" } });
    expect(unknownField.statusCode).toBe(422);
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: "s1-stop" })).toBe(1);
  });
});
