/**
 * Overlapping sessions of one sandbox (docs/memory.md), sessions whose stop arrives before their
 * start, and hostile sandbox ids, through REST and GraphQL, over events ingested through the API.
 *
 * Overlaps count once: a sandbox is provisioned over the union of its sessions, at the largest
 * memory_mb (and disk overage) among the sessions running. GiB-s = MiB / 1024 × seconds.
 *
 * org ovl (clock NOW = 2026-06-01T18:00:00Z):
 * | sandbox  | session | run (UTC)             | memory_mb | disk_mb | samples        |
 * | sb-ov    | ovA     | 10:00:00 – 10:02:00   | 1024      | 30720   | 10:01:10 600   |
 * | sb-ov    | ovB     | 10:01:00 – 10:03:00   | 2048      | 30720   |                |
 * | sb-nest  | outer   | 11:00:00 – 11:04:00   | 1024      |         |                |
 * | sb-nest  | big     | 11:01:00 – 11:01:30   | 4096      |         |                |
 * | sb-nest  | small   | 11:02:00 – 11:02:30   | 512       |         |                |
 * | sb-touch | t1      | 12:00:00 – 12:01:30   | 1024      |         |                |
 * | sb-touch | t2      | 12:01:30 – 12:03:00   | 1024      |         |                |
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, operation, start, stop } from "../helpers/events.js";

const NOW = "2026-06-01T18:00:00Z";
const DAY = { from: "2026-06-01T00:00:00Z", to: "2026-06-02T00:00:00Z" };

let t: TestApp;
let reader: string;
let lateReader: string;
let hostileReader: string;

const xKey = (key: string) => ({ "x-api-key": key });
const ZERO = { memoryAllocatedGbSeconds: 0, memoryUsedGbSeconds: 0, uptimeSeconds: 0, allocatedMemoryMb: 0, usedMemoryMbAvg: 0, usedMemoryMbPeak: 0 };
const point = (ts: string, m: Partial<typeof ZERO> = {}) => ({ ts, ...ZERO, ...m });

async function series(id: string, from: string, to: string, key = reader) {
  const res = await t.app.inject({ method: "GET", url: `/api/sandboxes/${encodeURIComponent(id)}/usage?from=${from}&to=${to}`, headers: xKey(key) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const MEMORY_QUERY = `query ($id: ID!, $from: String, $to: String) {
  sandbox(id: $id) {
    id
    memoryUsage(from: $from, to: $to) { totals { memoryAllocatedGbSeconds uptimeSeconds memoryAllocatedPeakMb } points { ts uptimeSeconds memoryAllocatedGbSeconds } }
    usage(from: $from, to: $to) { memoryGbSeconds diskOverageGbSeconds }
  }
}`;

async function gqlSandbox(id: string, from: string, to: string, key = reader) {
  const res = await t.graphql(MEMORY_QUERY, { id, from, to }, xKey(key));
  expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
  return res.body.data!.sandbox;
}

async function aggregate(key: string) {
  const res = await t.app.inject({ method: "GET", url: `/api/usage?groupBy=sandbox&from=${DAY.from}&to=${DAY.to}`, headers: xKey(key) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const HOSTILE_IDS = ["$x", "$$NOW", "$$ROOT", "{$gt:1}", "$sandbox_id", "$$CURRENT.org_id"];

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "ocoverlaps" });
  reader = await t.key("ovl", "reader", ["read"]);
  const ingester = await t.key("ovl", "ingester", ["ingest"]);
  const sb = (sandbox_id: string, more: Record<string, unknown> = {}) => ({ sandbox_id, ...more });
  await ingest(t, ingester, [
    start("ovA", "2026-06-01T10:00:00Z", sb("sb-ov", { memory_mb: 1024, disk_mb: 30720 })),
    start("ovB", "2026-06-01T10:01:00Z", sb("sb-ov", { memory_mb: 2048, disk_mb: 30720 })),
    stop("ovA", "2026-06-01T10:02:00Z", sb("sb-ov")),
    stop("ovB", "2026-06-01T10:03:00Z", sb("sb-ov")),
    memorySample("sb-ov", "2026-06-01T10:01:10Z", 600),
    start("outer", "2026-06-01T11:00:00Z", sb("sb-nest", { memory_mb: 1024 })),
    start("big", "2026-06-01T11:01:00Z", sb("sb-nest", { memory_mb: 4096 })),
    stop("big", "2026-06-01T11:01:30Z", sb("sb-nest")),
    start("small", "2026-06-01T11:02:00Z", sb("sb-nest", { memory_mb: 512 })),
    stop("small", "2026-06-01T11:02:30Z", sb("sb-nest")),
    stop("outer", "2026-06-01T11:04:00Z", sb("sb-nest")),
    start("t1", "2026-06-01T12:00:00Z", sb("sb-touch")),
    stop("t1", "2026-06-01T12:01:30Z", sb("sb-touch")),
    start("t2", "2026-06-01T12:01:30Z", sb("sb-touch")),
    stop("t2", "2026-06-01T12:03:00Z", sb("sb-touch")),
  ]);

  // org late: session "late" gets a stop before its start (each in its own request), then a
  // terminate: it runs 14:01 – 14:05 (240 s, 2 vCPUs). "once" sends the same shape in one request:
  // 15:01 – 15:03 (120 s, 1 vCPU).
  lateReader = await t.key("late", "alice", ["read"]);
  const lateIngester = await t.key("late", "ingester", ["ingest"]);
  const late = { sandbox_id: "sb-late" };
  await ingest(t, lateIngester, [stop("late", "2026-06-01T14:00:00Z", late)]);
  await ingest(t, lateIngester, [start("late", "2026-06-01T14:01:00Z", { ...late, resource: "sandbox", vcpus: 2 })]);
  await ingest(t, lateIngester, [operation("late", "session_terminate", "2026-06-01T14:05:00Z", late)]);
  const once = { sandbox_id: "sb-once" };
  await ingest(t, lateIngester, [
    stop("once", "2026-06-01T15:00:00Z", once),
    start("once", "2026-06-01T15:01:00Z", { ...once, resource: "sandbox" }),
    operation("once", "session_terminate", "2026-06-01T15:03:00Z", once),
  ]);

  // org hostile: sandbox ids that would mean something to MongoDB if evaluated as expressions.
  // Sandbox i runs 16:0i:00 – 16:0i:00 + (i+1) minutes at 1024 MiB, with one sample of 512 MiB.
  hostileReader = await t.key("hostile", "reader", ["read"]);
  const hostileIngester = await t.key("hostile", "ingester", ["ingest"]);
  await ingest(
    t,
    hostileIngester,
    HOSTILE_IDS.flatMap((id, i) => [
      start(`h${i}`, `2026-06-01T16:0${i}:00Z`, { sandbox_id: id }),
      memorySample(id, `2026-06-01T16:0${i}:30Z`, 512),
      stop(`h${i}`, `2026-06-01T16:${String(i + i + 1).padStart(2, "0")}:00Z`, { sandbox_id: id }),
    ]),
  );
});

afterAll(async () => {
  await t?.close();
});

describe("overlapping sessions of one sandbox count once", () => {
  it("partly overlapping: uptime is the union, allocated memory the larger tier while both run", async () => {
    const body = await series("sb-ov", "2026-06-01T10:00:00Z", "2026-06-01T10:04:00Z");
    expect(body.points).toStrictEqual([
      point("2026-06-01T10:00:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 60, allocatedMemoryMb: 1024 }),
      // Both run the whole minute: 60 s (not 120) at 2048 MiB; 600/1024 × 60 = 35.156 used.
      point("2026-06-01T10:01:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 120, allocatedMemoryMb: 2048, usedMemoryMbAvg: 600, usedMemoryMbPeak: 600, memoryUsedGbSeconds: 35.16 }),
      point("2026-06-01T10:02:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 120, allocatedMemoryMb: 2048 }),
      point("2026-06-01T10:03:00Z"),
    ]);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 300, memoryUsedGbSeconds: 35.16, uptimeSeconds: 180, memoryAllocatedPeakMb: 2048, memoryUsedPeakMb: 600 });
  });

  it("nested: a larger inner session raises the tier for its stretch only, a smaller one adds nothing", async () => {
    const body = await series("sb-nest", "2026-06-01T11:00:00Z", "2026-06-01T11:05:00Z");
    expect(body.points).toStrictEqual([
      point("2026-06-01T11:00:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 60, allocatedMemoryMb: 1024 }),
      // 30 s at 4096 + 30 s at 1024: 120 + 30 = 150 GiB-s, time-weighted 2560 MiB.
      point("2026-06-01T11:01:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 150, allocatedMemoryMb: 2560 }),
      point("2026-06-01T11:02:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 60, allocatedMemoryMb: 1024 }),
      point("2026-06-01T11:03:00Z", { uptimeSeconds: 60, memoryAllocatedGbSeconds: 60, allocatedMemoryMb: 1024 }),
      point("2026-06-01T11:04:00Z"),
    ]);
    expect(body.totals).toMatchObject({ memoryAllocatedGbSeconds: 330, uptimeSeconds: 240, memoryAllocatedPeakMb: 2560 });
  });

  it("touching: one session ending where the next starts fills the minute once", async () => {
    const body = await series("sb-touch", "2026-06-01T12:00:00Z", "2026-06-01T12:03:00Z");
    expect(body.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds)).toStrictEqual([60, 60, 60]);
    expect(body.totals).toMatchObject({ memoryAllocatedGbSeconds: 180, uptimeSeconds: 180 });
  });

  it("no minute of a day holds more than 60 uptime-seconds, on either surface", async () => {
    for (const id of ["sb-ov", "sb-nest", "sb-touch"]) {
      const rest = await series(id, DAY.from, DAY.to);
      expect(Math.max(...rest.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds))).toBe(60);
      const gql = await gqlSandbox(id, DAY.from, DAY.to);
      expect(Math.max(...gql.memoryUsage.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds))).toBe(60);
      expect(gql.memoryUsage.totals.uptimeSeconds).toBe(rest.totals.uptimeSeconds);
    }
  });

  it("the aggregate and Sandbox.usage integrate the same union: they equal the series' totals", async () => {
    // sb-ov overage: (30720 − 20480) MiB = 10 GiB over the 180 s union = 1800 GiB-s (not 2400).
    const expected: Record<string, { memoryGbSeconds: number; diskOverageGbSeconds: number }> = {
      "sb-ov": { memoryGbSeconds: 300, diskOverageGbSeconds: 1800 },
      "sb-nest": { memoryGbSeconds: 330, diskOverageGbSeconds: 0 },
      "sb-touch": { memoryGbSeconds: 180, diskOverageGbSeconds: 0 },
    };
    const body = await aggregate(reader);
    expect(Object.fromEntries(body.items.map((i: { sandboxId: string; memoryGbSeconds: number; diskOverageGbSeconds: number }) => [i.sandboxId, { memoryGbSeconds: i.memoryGbSeconds, diskOverageGbSeconds: i.diskOverageGbSeconds }]))).toStrictEqual(expected);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 810, diskOverageGbSeconds: 1800 });
    for (const [id, q] of Object.entries(expected)) {
      const gql = await gqlSandbox(id, DAY.from, DAY.to);
      expect(gql.usage).toStrictEqual(q);
      expect(gql.memoryUsage.totals.memoryAllocatedGbSeconds).toBe(q.memoryGbSeconds);
    }
  });
});

describe("a session_stop before its session_start ends nothing; the later terminate ends the session", () => {
  it("memory series uptime", async () => {
    const late = await series("sb-late", "2026-06-01T14:00:00Z", "2026-06-01T14:06:00Z", lateReader);
    expect(late.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds)).toStrictEqual([0, 60, 60, 60, 60, 0]);
    expect(late.totals.uptimeSeconds).toBe(240);
    const once = await series("sb-once", "2026-06-01T15:00:00Z", "2026-06-01T15:04:00Z", lateReader);
    expect(once.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds)).toStrictEqual([0, 60, 60, 0]);
  });

  it("MIOSA vCPU-seconds and Dreadnode runtime", async () => {
    const miosa = await t.app.inject({ method: "GET", url: `/api/v1/usage?period=custom&start=${DAY.from}&end=${DAY.to}`, headers: bearer(lateReader) });
    expect(miosa.statusCode, miosa.body).toBe(200);
    // 240 s × 2 vCPUs + 120 s × 1 vCPU.
    expect(miosa.json().results.map((r: { sandbox_seconds: number }) => r.sandbox_seconds)).toStrictEqual([600]);
    const dn = await t.app.inject({ method: "GET", url: "/api/v1/org/late/sandboxes/usage", headers: bearer(lateReader) });
    expect(dn.statusCode, dn.body).toBe(200);
    expect(dn.json()).toMatchObject({ current_month_seconds: 360, sessions_count: 2, total_runtime_seconds: 360 });
  });
});

describe("sandbox ids that look like MongoDB expressions are plain values", () => {
  it("the memory series echoes each id with its own numbers, REST and GraphQL", async () => {
    for (const [i, id] of HOSTILE_IDS.entries()) {
      const body = await series(id, DAY.from, DAY.to, hostileReader);
      expect(body.sandboxId).toBe(id);
      expect(body.points).toHaveLength(1440);
      expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 60 * (i + 1), memoryUsedGbSeconds: 30, uptimeSeconds: 60 * (i + 1), memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 512 });
      const gql = await gqlSandbox(id, DAY.from, DAY.to, hostileReader);
      expect(gql.id).toBe(id);
      expect(gql.memoryUsage.totals).toStrictEqual({ memoryAllocatedGbSeconds: 60 * (i + 1), uptimeSeconds: 60 * (i + 1), memoryAllocatedPeakMb: 1024 });
      expect(gql.usage).toStrictEqual({ memoryGbSeconds: 60 * (i + 1), diskOverageGbSeconds: 0 });
    }
  });

  it("several at once in one GraphQL request (one batched series)", async () => {
    const fields = HOSTILE_IDS.map((_, i) => `s${i}: sandbox(id: $id${i}) { id memoryUsage(from: "${DAY.from}", to: "${DAY.to}") { totals { uptimeSeconds } } }`).join("\n");
    const vars = HOSTILE_IDS.map((_, i) => `$id${i}: ID!`).join(", ");
    const res = await t.graphql(`query (${vars}) { ${fields} }`, Object.fromEntries(HOSTILE_IDS.map((id, i) => [`id${i}`, id])), xKey(hostileReader));
    expect(res.body.errors).toBeUndefined();
    expect(HOSTILE_IDS.map((_, i) => res.body.data![`s${i}`])).toStrictEqual(HOSTILE_IDS.map((id, i) => ({ id, memoryUsage: { totals: { uptimeSeconds: 60 * (i + 1) } } })));
  });

  it("the aggregate lists each id with its own numbers, REST and GraphQL", async () => {
    const expected = HOSTILE_IDS.map((id, i) => ({ sandboxId: id, memoryGbSeconds: 60 * (i + 1) })).sort((a, b) => b.memoryGbSeconds - a.memoryGbSeconds);
    const rest = await aggregate(hostileReader);
    expect(rest.items.map((x: { sandboxId: string; memoryGbSeconds: number }) => ({ sandboxId: x.sandboxId, memoryGbSeconds: x.memoryGbSeconds }))).toStrictEqual(expected);
    const gql = await t.graphql(`query { usage(groupBy: "sandbox", from: "${DAY.from}", to: "${DAY.to}") { items { ... on SandboxUsageItem { sandboxId memoryGbSeconds } } } }`, {}, xKey(hostileReader));
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data!.usage.items).toStrictEqual(expected);
  });
});
