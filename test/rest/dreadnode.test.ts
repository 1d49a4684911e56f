/**
 * Dreadnode's summary, `GET /api/v1/org/{org}/sandboxes/usage` (spec 003) and
 * `Query.sandboxUsageSummary`: the calling key's user, in the key's own org, over ingested events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, start, stop } from "../helpers/events.js";

// Now is 30.9 s after an open session started; the month began 11 days ago.
const clock = { at: new Date("2026-05-12T10:00:30.900Z"), now() { return new Date(this.at); } };

let t: TestApp;
let alice: string;
const summary = (org: string, key: string | null, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url: `/api/v1/org/${org}/sandboxes/usage`, headers: { ...(key ? bearer(key) : {}), ...headers } });

beforeAll(async () => {
  t = await startTestApp({ clock, label: "dreadnode" });
  alice = await t.key("dn", "alice", ["read"]);
  const ingestKey = await t.key("dn", "ingester", ["ingest"]);
  await ingest(t, ingestKey, [
    // a1 crosses into May: 2 h in all, of which 00:00–01:00 on 05-01 is this month. vCPUs do not
    // matter here: Dreadnode reports runtime, not vCPU-seconds.
    start("a1", "2026-04-30T23:00:00Z", { user_id: "alice", vcpus: 8 }),
    stop("a1", "2026-05-01T01:00:00Z", { user_id: "alice" }),
    // a2 arrives stop-first (out of order): 05-05T10:00:00 → 10:00:10.5 = 10.5 s, this month.
    stop("a2", "2026-05-05T10:00:10.500Z", { user_id: "alice" }),
    start("a2", "2026-05-05T10:00:00Z", { user_id: "alice", external_user_id: "ext-1" }),
    // a3 is still open: 30.9 s so far.
    start("a3", "2026-05-12T10:00:00Z", { user_id: "alice" }),
    // a4 was all in March: counts all-time only (1 h).
    start("a4", "2026-03-01T00:00:00Z", { user_id: "alice" }),
    stop("a4", "2026-03-01T01:00:00Z", { user_id: "alice" }),
    // bob's session is not alice's.
    start("b1", "2026-05-06T00:00:00Z", { user_id: "bob" }),
    stop("b1", "2026-05-06T05:00:00Z", { user_id: "bob" }),
  ]);
  // Another org's alice, with the same user id, must not leak in.
  await ingest(t, await t.key("other", "ingester", ["ingest"]), [start("x1", "2026-05-01T00:00:00Z", { user_id: "alice" }), stop("x1", "2026-05-02T00:00:00Z", { user_id: "alice" })]);
});
afterAll(() => t?.close());

describe("GET /api/v1/org/{org}/sandboxes/usage", () => {
  it("sums the key's user's runtime: this month up to now, all time, distinct sessions, floored", async () => {
    // Month: a1 3,600 + a2 10.5 + a3 30.9 = 3,641.4 → 3,641.
    // All time: a1 7,200 + a2 10.5 + a3 30.9 + a4 3,600 = 10,841.4 → 10,841.  Sessions: a1–a4.
    const res = await summary("dn", alice);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ current_month_seconds: 3641, sessions_count: 4, total_runtime_seconds: 10841 });
  });

  it("answers zeros for a user with no sessions", async () => {
    const res = await summary("dn", await t.key("dn", "carol", ["read"]));
    expect(res.json()).toEqual({ current_month_seconds: 0, sessions_count: 0, total_runtime_seconds: 0 });
  });

  it("narrows to one external user with X-On-Behalf-Of", async () => {
    // Only a2 carries ext-1: 10.5 s → 10.
    const res = await summary("dn", alice, { "x-on-behalf-of": "ext-1" });
    expect(res.json()).toEqual({ current_month_seconds: 10, sessions_count: 1, total_runtime_seconds: 10 });
  });

  it("restarts the month on the 1st (UTC)", async () => {
    clock.at = new Date("2026-06-01T00:00:30.900Z");
    try {
      // June so far: only a3, still open → 06-01T00:00 to now = 30.9 s → 30.
      // All time grows by how much longer a3 has run since the first "now" (a whole number of
      // seconds: 05-12T10:00:30.9 → 06-01T00:00:30.9), on top of 10,841.4.
      const res = (await summary("dn", alice)).json();
      expect(res.current_month_seconds).toBe(30);
      expect(res.total_runtime_seconds).toBe(10841 + (Date.parse("2026-06-01T00:00:30.900Z") - Date.parse("2026-05-12T10:00:30.900Z")) / 1000);
    } finally {
      clock.at = new Date("2026-05-12T10:00:30.900Z");
    }
  });

  it("answers 404 in Dreadnode's envelope for any org but the key's own", async () => {
    for (const [org, key] of [["other", alice], ["no-such-org", alice], ["dn", BOOTSTRAP_KEY]] as const) {
      const res = await summary(org, key);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ code: 404, detail: expect.any(String), errors: null, type: "not_found" });
    }
  });

  it("answers 401 and 403 in Dreadnode's envelope", async () => {
    const none = await summary("dn", null);
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ code: 401, detail: expect.any(String), errors: null, type: "authentication_failed" });
    const bad = await summary("dn", "usk_bogus_key");
    expect(bad.json()).toMatchObject({ code: 401, type: "authentication_failed" });
    const noRead = await summary("dn", await t.key("dn", "alice", ["ingest"]));
    expect(noRead.statusCode).toBe(403);
    expect(noRead.json()).toEqual({ code: 403, detail: expect.any(String), errors: null, type: "access_forbidden" });
  });

  it("answers 422 with the errors listed for a malformed X-On-Behalf-Of", async () => {
    const res = await summary("dn", alice, { "x-on-behalf-of": " " });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({
      code: 422,
      detail: expect.any(String),
      errors: [{ loc: ["header", "X-On-Behalf-Of"], msg: expect.any(String), type: expect.any(String) }],
      type: "validation_error",
    });
  });
});

describe("Query.sandboxUsageSummary", () => {
  const QUERY = `query ($org: ID!) { sandboxUsageSummary(org: $org) { currentMonthSeconds sessionsCount totalRuntimeSeconds } }`;

  it("agrees with REST", async () => {
    const [gql, rest] = await Promise.all([t.graphql(QUERY, { org: "dn" }, bearer(alice)), summary("dn", alice)]);
    const r = rest.json();
    expect(gql.body.data!.sandboxUsageSummary).toEqual({ currentMonthSeconds: r.current_month_seconds, sessionsCount: r.sessions_count, totalRuntimeSeconds: r.total_runtime_seconds });
    expect(r.sessions_count).toBe(4);
  });

  it("is NOT_FOUND for another org and UNAUTHENTICATED without a key", async () => {
    expect((await t.graphql(QUERY, { org: "other" }, bearer(alice))).body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
    expect((await t.graphql(QUERY, { org: "dn" })).body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
  });
});
