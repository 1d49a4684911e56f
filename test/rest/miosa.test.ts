/**
 * MIOSA's usage rollup, `GET /api/v1/usage` (spec 002) and `Query.usageRollup`, over events
 * ingested through the API. Expected numbers are worked out by hand in the comments.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, start, stop } from "../helpers/events.js";

/** A clock the tests move: "now" decides the 7d/30d/mtd windows and how long open sessions ran. */
const clock = { at: new Date("2026-05-25T12:00:00Z"), now() { return new Date(this.at); } };

let t: TestApp;
const keys: Record<string, string> = {};

const rollup = (org: string, query = "", headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url: `/api/v1/usage${query ? `?${query}` : ""}`, headers: { ...bearer(keys[org]!), ...headers } });

async function putPrices(org: string, prices: Record<string, number>) {
  const res = await t.app.inject({ method: "PUT", url: `/api/v1/orgs/${org}/prices`, headers: { ...bearer(BOOTSTRAP_KEY), "content-type": "application/json" }, payload: prices });
  expect(res.statusCode).toBe(200);
}

beforeAll(async () => {
  t = await startTestApp({ clock, label: "miosa" });
  for (const org of ["doc", "edges", "rounding", "mtd"]) {
    keys[org] = await t.key(org, "reader", ["read"]);
    keys[`${org}-ingest`] = await t.key(org, "ingester", ["ingest"]);
  }
  keys.noread = await t.key("edges", "ingester", ["ingest"]);

  // The spec's example. clinic_42: 4 vCPUs for one hour with 2.5 GiB attached → 14,400 sandbox
  // vCPU-s and 2.5 GiB-h. clinic_99: a 1-vCPU sandbox hour (3,600) and a 2-vCPU computer hour (7,200).
  await ingest(t, keys["doc-ingest"]!, [
    start("c42", "2026-05-10T08:00:00Z", { external_user_id: "user_clinic_42", vcpus: 4, storage_gb: 2.5 }),
    stop("c42", "2026-05-10T09:00:00Z"),
    start("c99a", "2026-05-11T10:00:00Z", { external_user_id: "user_clinic_99", vcpus: 1 }),
    stop("c99a", "2026-05-11T11:00:00Z"),
    start("c99b", "2026-05-12T10:00:00Z", { external_user_id: "user_clinic_99", vcpus: 2, resource: "computer" }),
    stop("c99b", "2026-05-12T11:00:00Z"),
  ]);

  // Edges of the default 30d window [2026-04-26T00:00Z, 2026-05-26T00:00Z) at now = 05-25T12:00Z.
  await ingest(t, keys["edges-ingest"]!, [
    // u-a, crossing the window's start: 2 vCPUs × the hour 04-26T00:00–01:00 inside = 7,200.
    start("e1", "2026-04-25T23:00:00Z", { external_user_id: "u-a", external_project_id: "p-1", workspace_id: "w-1", vcpus: 2 }),
    stop("e1", "2026-04-26T01:00:00Z"),
    // u-a, still open at now (11:30 → 12:00): a 3-vCPU computer × 1,800 s = 5,400 computer vCPU-s;
    // 10 GiB × 0.5 h = 5 GiB-h.
    start("e2", "2026-05-25T11:30:00Z", { external_user_id: "u-a", external_project_id: "p-2", workspace_id: "w-1", vcpus: 3, resource: "computer", storage_gb: 10 }),
    // u-b, half a vCPU for 7,200.5 s (millisecond precision) = 3,600.25 vCPU-s.
    start("e3", "2026-05-01T00:00:00Z", { external_user_id: "u-b", external_project_id: "p-1", vcpus: 0.5 }),
    stop("e3", "2026-05-01T02:00:00.500Z"),
    // No external user: 1 vCPU × 600 s, reported under null.
    start("e4", "2026-05-02T00:00:00Z"),
    stop("e4", "2026-05-02T00:10:00Z"),
    // Ended before the window: not counted at all.
    start("e5", "2026-04-20T00:00:00Z", { external_user_id: "u-a", vcpus: 8 }),
    stop("e5", "2026-04-21T00:00:00Z"),
    // A stop whose start never arrived: no known runtime.
    stop("e6", "2026-05-03T00:00:00Z"),
  ]);
});
afterAll(() => t?.close());

describe("GET /api/v1/usage", () => {
  it("reproduces the MIOSA document's example with a price table of 78¢/15¢/0¢", async () => {
    // clinic_42: 4 sandbox vCPU-h × 78 = 312. clinic_99: 1 × 78 + 2 computer vCPU-h × 15 = 108.
    await putPrices("doc", { sandbox_vcpu_hour_cents: 78, computer_vcpu_hour_cents: 15, storage_gb_hour_cents: 0 });
    const res = await rollup("doc");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      period_start: "2026-04-26T00:00:00Z",
      period_end: "2026-05-26T00:00:00Z",
      results: [
        { external_user_id: "user_clinic_42", sandbox_seconds: 14400, computer_seconds: 0, storage_gb_hours: 2.5, credit_cents: 312 },
        { external_user_id: "user_clinic_99", sandbox_seconds: 3600, computer_seconds: 7200, storage_gb_hours: 0.0, credit_cents: 108 },
      ],
    });
  });

  it("clamps sessions to the window, runs open ones until now, and prices an org without a table at the defaults", async () => {
    // Defaults: 5¢ per sandbox vCPU-h, 10¢ per computer vCPU-h, 0.014¢ per GiB-h.
    // u-a: 2 sandbox vCPU-h × 5 + 1.5 computer vCPU-h × 10 + 5 GiB-h × 0.014 = 10 + 15 + 0.07 → 25.
    // u-b: 3,600.25 s = 1.0000694 vCPU-h × 5 = 5.0003 → 5.  null: 600 s = 1/6 h × 5 = 0.83 → 1.
    const res = await rollup("edges");
    expect(res.json().results).toEqual([
      { external_user_id: "u-a", sandbox_seconds: 7200, computer_seconds: 5400, storage_gb_hours: 5, credit_cents: 25 },
      { external_user_id: "u-b", sandbox_seconds: 3600.25, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 5 },
      { external_user_id: null, sandbox_seconds: 600, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 1 },
    ]);
  });

  it("groups by external_project_id and workspace_id, keeping usage without the key as one null row", async () => {
    // p-1: e1 (7,200 sandbox) + e3 (3,600.25) → 10,800.25 s = 3.0000694 h × 5 = 15.0003 → 15.
    // p-2: e2 only → 15 + 0.07 → 15.  Tie on 15¢: "p-1" < "p-2".  null: e4 → 1.
    const byProject = await rollup("edges", "group_by=external_project_id");
    expect(byProject.json().results).toEqual([
      { external_project_id: "p-1", sandbox_seconds: 10800.25, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 15 },
      { external_project_id: "p-2", sandbox_seconds: 0, computer_seconds: 5400, storage_gb_hours: 5, credit_cents: 15 },
      { external_project_id: null, sandbox_seconds: 600, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 1 },
    ]);
    // w-1: e1 + e2 = 25¢.  null: e3 + e4 = 4,200.25 s = 1.1667 h × 5 = 5.83 → 6.
    const byWorkspace = await rollup("edges", "group_by=workspace_id");
    expect(byWorkspace.json().results).toEqual([
      { workspace_id: "w-1", sandbox_seconds: 7200, computer_seconds: 5400, storage_gb_hours: 5, credit_cents: 25 },
      { workspace_id: null, sandbox_seconds: 4200.25, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 6 },
    ]);
  });

  it("rounds the total half up to the cent, and sorts ties by key", async () => {
    await putPrices("rounding", { sandbox_vcpu_hour_cents: 1, computer_vcpu_hour_cents: 1, storage_gb_hour_cents: 0 });
    await ingest(t, keys["rounding-ingest"]!, [
      // 2.5 vCPU-h × 1¢ = 2.5 → 3 (half-to-even would give 2).
      start("r1", "2026-05-03T10:00:00Z", { external_user_id: "half-up" }),
      stop("r1", "2026-05-03T12:30:00Z"),
      // 0.5 vCPU-h → 1 (half-to-even: 0). "a-half" sorts before "b-half" at the same 1¢.
      start("r2", "2026-05-04T10:00:00Z", { external_user_id: "b-half" }),
      stop("r2", "2026-05-04T10:30:00Z"),
      start("r3", "2026-05-04T10:00:00Z", { external_user_id: "a-half" }),
      stop("r3", "2026-05-04T10:30:00Z"),
      // 1,799 s = 0.4997 vCPU-h → 0.
      start("r4", "2026-05-05T10:00:00Z", { external_user_id: "just-under" }),
      stop("r4", "2026-05-05T10:29:59Z"),
    ]);
    const cents = (await rollup("rounding")).json().results.map((r: { external_user_id: string; credit_cents: number }) => [r.external_user_id, r.credit_cents]);
    expect(cents).toEqual([["half-up", 3], ["a-half", 1], ["b-half", 1], ["just-under", 0]]);
  });

  it("cuts a custom window at both ends", async () => {
    // e3 (05-01T00:00–02:00:00.5, 0.5 vCPU) inside [05-01T01:00, 05-01T01:30): 1,800 s × 0.5 = 900.
    const res = await rollup("edges", "period=custom&start=2026-05-01T01:00:00Z&end=2026-05-01T01:30:00%2B00:00");
    expect(res.json()).toEqual({
      period_start: "2026-05-01T01:00:00Z",
      period_end: "2026-05-01T01:30:00Z",
      results: [{ external_user_id: "u-b", sandbox_seconds: 900, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 1 }],
    });
    // A date alone is UTC midnight: [05-01, 05-02) holds all of e3 and e4's day is outside.
    const days = await rollup("edges", "period=custom&start=2026-05-01&end=2026-05-02");
    expect(days.json().results.map((r: { sandbox_seconds: number }) => r.sandbox_seconds)).toEqual([3600.25]);
  });

  it("7d ends at the next UTC midnight and starts 7 days earlier", async () => {
    // [05-19T00:00, 05-26T00:00): only e2 (open, computer).
    const res = await rollup("edges", "period=7d");
    expect(res.json()).toEqual({
      period_start: "2026-05-19T00:00:00Z",
      period_end: "2026-05-26T00:00:00Z",
      results: [{ external_user_id: "u-a", sandbox_seconds: 0, computer_seconds: 5400, storage_gb_hours: 5, credit_cents: 15 }],
    });
  });

  it("month-to-date follows the UTC calendar across a month boundary", async () => {
    // One 1-vCPU session 05-31T23:00 → 06-01T01:00 (defaults: 5¢ per vCPU-h).
    clock.at = new Date("2026-05-31T23:30:00Z");
    await ingest(t, keys["mtd-ingest"]!, [start("m1", "2026-05-31T23:00:00Z", { external_user_id: "m" }), stop("m1", "2026-06-01T01:00:00Z")]);
    try {
      // Still May: the window is [05-01, 06-01), so 23:00–24:00 counts: 3,600 s.
      const may = (await rollup("mtd", "period=mtd")).json();
      expect(may.period_start).toBe("2026-05-01T00:00:00Z");
      expect(may.period_end).toBe("2026-06-01T00:00:00Z");
      expect(may.results).toEqual([{ external_user_id: "m", sandbox_seconds: 3600, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 5 }]);
      // June: the window restarts on the 1st, [06-01, 06-02): 00:00–01:00 counts, 3,600 s.
      clock.at = new Date("2026-06-01T06:00:00Z");
      const june = (await rollup("mtd", "period=month-to-date")).json();
      expect(june.period_start).toBe("2026-06-01T00:00:00Z");
      expect(june.period_end).toBe("2026-06-02T00:00:00Z");
      expect(june.results[0].sandbox_seconds).toBe(3600);
      // 30d from June still holds both hours.
      expect((await rollup("mtd", "period=30d")).json().results[0].sandbox_seconds).toBe(7200);
    } finally {
      clock.at = new Date("2026-05-25T12:00:00Z");
    }
  });

  it("narrows to one external user with X-On-Behalf-Of", async () => {
    const res = await rollup("edges", "", { "x-on-behalf-of": "u-b" });
    expect(res.json().results).toEqual([{ external_user_id: "u-b", sandbox_seconds: 3600.25, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 5 }]);
  });

  it("never shows another org's usage", async () => {
    const ids = (await rollup("doc")).json().results.map((r: { external_user_id: string }) => r.external_user_id);
    expect(ids).toEqual(["user_clinic_42", "user_clinic_99"]);
  });

  it.each([
    ["group_by=tenant", "invalid group_by"],
    ["group_by=external_user_id&group_by=workspace_id", "invalid group_by"],
    ["period=90d", "invalid period"],
    ["period=", "invalid period"],
    ["period=custom", "invalid_custom_range"],
    ["period=custom&start=2026-05-01", "invalid_custom_range"],
    ["period=custom&start=yesterday&end=2026-05-02", "invalid_custom_range"],
    ["period=custom&start=2026-02-30&end=2026-03-02", "invalid_custom_range"],
    ["period=custom&start=2026-05-02&end=2026-05-01", "invalid_custom_range"],
    ["period=custom&start=2026-05-01T00:00:00Z&end=2026-05-01T00:00:00Z", "invalid_custom_range"],
    ["period=7d&start=2026-05-01", "invalid_custom_range"],
  ])("answers 422 in MIOSA's envelope for %s", async (query, code) => {
    const res = await rollup("edges", query);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ error: { code, message: expect.any(String) } });
  });

  it("answers 401 without a key and 403 without the read scope, in the same envelope", async () => {
    const anonymous = await t.app.inject({ method: "GET", url: "/api/v1/usage" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    const wrong = await t.app.inject({ method: "GET", url: "/api/v1/usage", headers: bearer("usk_nope_nope") });
    expect(wrong.statusCode).toBe(401);
    const noRead = await t.app.inject({ method: "GET", url: "/api/v1/usage", headers: bearer(keys.noread!) });
    expect(noRead.statusCode).toBe(403);
    expect(noRead.json()).toEqual({ error: { code: "forbidden", message: expect.any(String) } });
  });
});

describe("Query.usageRollup", () => {
  const QUERY = `query ($groupBy: RollupGroupBy, $period: String, $start: String, $end: String) {
    usageRollup(groupBy: $groupBy, period: $period, start: $start, end: $end) {
      periodStart periodEnd groupBy results { key sandboxSeconds computerSeconds storageGbHours creditCents }
    }
  }`;

  it.each([
    [{}, ""],
    [{ groupBy: "external_project_id" }, "group_by=external_project_id"],
    [{ period: "custom", start: "2026-05-01T01:00:00Z", end: "2026-05-01T01:30:00Z" }, "period=custom&start=2026-05-01T01:00:00Z&end=2026-05-01T01:30:00Z"],
  ])("agrees with REST for %j", async (variables, query) => {
    const [gql, rest] = await Promise.all([t.graphql(QUERY, variables, bearer(keys.edges!)), rollup("edges", query)]);
    const r = rest.json();
    const groupBy = (variables as { groupBy?: string }).groupBy ?? "external_user_id";
    expect(gql.body.data!.usageRollup).toEqual({
      periodStart: r.period_start.replace("Z", ".000Z"),
      periodEnd: r.period_end.replace("Z", ".000Z"),
      groupBy,
      results: r.results.map((x: Record<string, number | string | null>) => ({
        key: x[groupBy],
        sandboxSeconds: x.sandbox_seconds,
        computerSeconds: x.computer_seconds,
        storageGbHours: x.storage_gb_hours,
        creditCents: x.credit_cents,
      })),
    });
    expect(gql.body.data!.usageRollup.results.length).toBeGreaterThan(0);
  });

  it("reports invalid input as BAD_USER_INPUT naming MIOSA's code", async () => {
    const res = await t.graphql(QUERY, { period: "fortnight" }, bearer(keys.edges!));
    expect(res.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", issues: [{ loc: ["period"], type: "invalid period" }] });
    const noKey = await t.graphql(QUERY, {});
    expect(noKey.body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
  });
});
