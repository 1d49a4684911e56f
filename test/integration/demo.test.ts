import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { generateDemoEvents } from "../../src/demo/generate.js";
import { loadDemoData } from "../../src/demo/load.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

const anchor = new Date("2026-05-27T12:00:00Z");
// A small slice of the demo set (4 days, 2 sandboxes per org) keeps this test quick.
const opts = { days: 4, sandboxesPerOrg: 2, memoryDays: 1 };

describe("demo data", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock(anchor), label: "demo" });
  });
  afterAll(() => t.close());

  it("is deterministic for a seed and anchor", () => {
    const a = generateDemoEvents({ anchor, ...opts });
    const b = generateDemoEvents({ anchor, ...opts });
    expect(a).toEqual(b);
    expect(generateDemoEvents({ anchor, ...opts, seed: 7 })).not.toEqual(a);
  });

  it("has the documented shape at full size: 3 orgs, ~20 users, 60 sandboxes, ~2,000 sessions, ~100,000 operations", () => {
    const all = generateDemoEvents({ anchor });
    const ops = all.filter((e) => e.type === "sandbox.operation");
    const starts = ops.filter((e) => e.operation === "session_start");
    expect(new Set(all.map((e) => e.org_id)).size).toBe(3);
    expect(new Set(ops.map((e) => e.user_id)).size).toBe(20);
    expect(new Set(all.map((e) => e.sandbox_id)).size).toBe(60);
    expect(starts.length).toBeGreaterThan(1_800);
    expect(starts.length).toBeLessThan(2_200);
    expect(ops.length).toBeGreaterThan(90_000);
    expect(ops.length).toBeLessThan(110_000);
    // Memory samples only for the last 3 days, all timestamps within the 35 days before the anchor.
    const mem = all.filter((e) => e.type === "sandbox.memory").map((e) => Date.parse(e.timestamp));
    expect(Math.min(...mem)).toBeGreaterThanOrEqual(anchor.getTime() - 3 * 86_400_000);
    const times = all.map((e) => Date.parse(e.timestamp));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(anchor.getTime() - 35 * 86_400_000);
    expect(Math.max(...times)).toBeLessThan(anchor.getTime());
  });

  it("loads through the ingest path: every event stored once, every session derived, and a reload changes nothing", async () => {
    const events = generateDemoEvents({ anchor, ...opts });
    const first = await loadDemoData(t.deps, opts);
    expect(first).toEqual({ events: events.length, accepted: events.length, duplicates: 0 });
    expect(await t.mongo.db.collection("usage_events").countDocuments({})).toBe(events.length);
    const starts = events.filter((e) => e.operation === "session_start");
    const stops = events.filter((e) => e.operation === "session_stop" || e.operation === "session_terminate");
    expect(await t.mongo.db.collection("sessions").countDocuments({ started_at: { $exists: true } })).toBe(starts.length);
    expect(await t.mongo.db.collection("sessions").countDocuments({ ended_at: { $exists: true } })).toBe(stops.length);
    const again = await loadDemoData(t.deps, opts);
    expect(again).toEqual({ events: events.length, accepted: 0, duplicates: events.length });
    expect(await t.mongo.db.collection("usage_events").countDocuments({})).toBe(events.length);
  });
});
