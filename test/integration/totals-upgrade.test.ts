/**
 * Upgrading a database whose events predate the totals (usage_totals_*): until a rebuild has
 * computed them, ungrouped MKA1 pages read the operation rollups and answer exactly as before;
 * after `rollups:rebuild` they read the totals, with the same answer. A database that starts
 * empty has complete totals from its first event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { rebuildAll } from "../../src/store/rebuild.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { recordCommands } from "../helpers/commands.js";
import { ingest, operation, start, stop } from "../helpers/events.js";
import { startTestMongo, type TestMongo } from "../helpers/mongo.js";

const NOW = "2026-05-28T12:00:00Z";
const unix = (iso: string) => Date.parse(iso) / 1000;
const HOURS = `start_time=${unix("2026-05-28T09:00:00Z")}&end_time=${unix("2026-05-28T11:00:00Z")}`;

let mongo: TestMongo;
const apps: TestApp[] = [];

async function app(): Promise<TestApp> {
  const t = await startTestApp({ clock: fixedClock(NOW), mongo });
  apps.push(t);
  return t;
}

async function page(t: TestApp, width: "1m" | "1h") {
  const res = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${HOURS}&bucket_width=${width}&limit=120`, headers: bearer(await t.key("acme", "alice", ["read"])) });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

/** Which collections the ungrouped page's aggregations read. */
async function readsOf(t: TestApp, width: "1m" | "1h"): Promise<Set<string | null>> {
  const rec = recordCommands(t.deps.client);
  await page(t, width);
  rec.stop();
  return new Set(rec.sent.filter((c) => c.name === "aggregate").map((c) => c.collection));
}

let expected: Record<string, string>;

beforeAll(async () => {
  mongo = await startTestMongo("totals-upgrade", { monitorCommands: true });
  const t = await app();
  const key = await t.key("acme", "alice", ["ingest"]);
  await ingest(t, key, [
    start("s1", "2026-05-28T09:00:00Z"),
    operation("s1", "command", "2026-05-28T09:10:00Z", { request_count: 3 }),
    operation("s1", "code", "2026-05-28T09:10:30Z", { user_id: "bob" }),
    operation("s2", "command", "2026-05-28T10:05:00Z", { api_key_id: "k1" }),
    stop("s1", "2026-05-28T10:30:00Z"),
  ]);
  expected = { "1m": await page(t, "1m"), "1h": await page(t, "1h") };
});
afterAll(async () => {
  for (const t of apps) await t.close();
  await mongo?.close();
});

describe("totals on upgrade", () => {
  it("a database that started empty reads the totals", async () => {
    expect(await mongo.db.collection("store_meta").findOne({ _id: "totals" as never })).toMatchObject({ by: "fresh" });
    expect(await readsOf(apps[0]!, "1m")).toContain("usage_totals_1m");
    const [nine, ten] = JSON.parse(expected["1h"]!).data;
    expect(nine.results).toEqual([expect.objectContaining({ num_operations: 3, num_sessions: 1, request_count: 5 })]);
    expect(ten.results).toEqual([expect.objectContaining({ num_operations: 2, num_sessions: 2, request_count: 2 })]);
  });

  it("events from before the totals: the rollups answer, the same bytes, until a rebuild", async () => {
    // What an earlier version leaves: events and rollups, no totals, no marker.
    for (const c of ["usage_totals_1m", "usage_totals_1h", "usage_totals_1d", "store_meta"]) await mongo.db.collection(c).deleteMany({});
    const upgraded = await app();
    expect(await mongo.db.collection("store_meta").countDocuments()).toBe(0);
    const reads = await readsOf(upgraded, "1m");
    expect(reads).not.toContain("usage_totals_1m");
    expect(reads).toContain("usage_ops_1m");
    for (const width of ["1m", "1h"] as const) expect(await page(upgraded, width)).toBe(expected[width]);

    await rebuildAll(upgraded.deps.client, upgraded.deps.cols);
    expect(await mongo.db.collection("store_meta").findOne({ _id: "totals" as never })).toMatchObject({ by: "rebuild" });
    const rebuilt = await app();
    expect(await readsOf(rebuilt, "1m")).toContain("usage_totals_1m");
    for (const width of ["1m", "1h"] as const) expect(await page(rebuilt, width)).toBe(expected[width]);
  });
});
