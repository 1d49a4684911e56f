/**
 * OpenComputer's per-sandbox memory usage, `GET /api/sandboxes/{id}/usage` (spec 004, DESIGN §3
 * "OpenComputer memory") and `Query.sandbox { memoryUsage }`, over events ingested through the API.
 * Every expected number is worked out by hand in the comments (GiB-s = MiB / 1024 × seconds).
 *
 * org oc (clock pinned at NOW = 2026-05-28T12:00:20Z):
 *
 * | sandbox     | session | run (UTC)                             | memory_mb | samples (ts → MiB)                                  |
 * | sb-doc      | doc     | 05-27 00:00:00 – 00:02:00             | 1024      | 00:00:05 504, 00:00:35 720, 00:01:05 624, 00:01:35 742 |
 * | sb-mid      | mid     | 05-27 01:00:15.5 – 01:02:40.2         | 2048      | 00:59:50 900, 01:00:20 1000, 01:01:20 1536, 01:02:20 512, 01:02:50 1536 |
 * | sb-gap      | gap     | 05-27 02:00:00 – 02:04:00             | 1024      | 02:00:10 256, 02:00:50 768, 02:03:30 100, 02:05:10 300 |
 * | sb-twice    | tw1     | 05-27 03:00:00 – 03:02:00             | 1024      | 03:01:00 512                                        |
 * | sb-twice    | tw2     | 05-27 03:05:00 – 03:06:30 "first-alias" | 4096    | 03:05:30 2048                                       |
 * | sb-twice    | tw3     | 05-27 20:00:00 – 20:01:00 "second-alias" (ingested first) | 1024 |                              |
 * | sb-weighted | ov1     | 05-27 04:00:00 – 04:00:30             | 1024      |                                                     |
 * | sb-weighted | ov2     | 05-27 04:00:30 – 04:01:15             | 3072      |                                                     |
 * | sb-shared   | sh1     | 05-27 05:10:00 – 05:12:00 (ext-a)     | 1024      | 05:10:30 512, 05:12:30 1024                         |
 * | sb-shared   | sh2     | 05-27 05:12:00 – 05:13:00 (ext-b)     | 1024      |                                                     |
 * | sb-ghost    | —       | (memory samples only)                 |           | 05-27 05:00:10 400                                  |
 * | sb-live     | live    | 05-28 11:58:30 – open                 | 1024      | 11:59:10 256                                        |
 *
 * org rival owns its own "sb-doc" (8192 MiB, samples of 4000 MiB in the same minutes) and "sb-rival".
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T12:00:20Z";

let t: TestApp;
let reader: string;
let ingestOnly: string;
let rivalReader: string;

const xKey = (key: string) => ({ "x-api-key": key });

function usage(id: string, query: Record<string, string> | string = {}, headers: Record<string, string> | null = null) {
  const qs = typeof query === "string" ? query : new URLSearchParams(query).toString();
  return t.app.inject({ method: "GET", url: `/api/sandboxes/${encodeURIComponent(id)}/usage${qs ? `?${qs}` : ""}`, headers: headers ?? xKey(reader) });
}

async function okUsage(id: string, query: Record<string, string> | string = {}, headers: Record<string, string> | null = null) {
  const res = await usage(id, query, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const ZERO = { memoryAllocatedGbSeconds: 0, memoryUsedGbSeconds: 0, uptimeSeconds: 0, allocatedMemoryMb: 0, usedMemoryMbAvg: 0, usedMemoryMbPeak: 0 };
/** A point: fields not given are 0. */
const point = (ts: string, m: Partial<typeof ZERO> = {}) => ({ ts, ...ZERO, ...m });
const round2 = (x: number) => Math.round(x * 100) / 100;

/** The document's promise: additive totals are the sums of the points, peaks their maxima. */
function expectTotalsAreSumsOfPoints(body: { totals: Record<string, number>; points: Array<Record<string, number>> }) {
  const sum = (f: string) => body.points.reduce((s, p) => s + p[f]!, 0);
  const max = (f: string) => body.points.reduce((m, p) => Math.max(m, p[f]!), 0);
  expect(round2(body.totals.memoryAllocatedGbSeconds!)).toBe(round2(sum("memoryAllocatedGbSeconds")));
  expect(round2(body.totals.memoryUsedGbSeconds!)).toBe(round2(sum("memoryUsedGbSeconds")));
  expect(round2(body.totals.uptimeSeconds!)).toBe(round2(sum("uptimeSeconds")));
  expect(body.totals.memoryAllocatedPeakMb).toBe(max("allocatedMemoryMb"));
  expect(body.totals.memoryUsedPeakMb).toBe(max("usedMemoryMbPeak"));
}

const SANDBOX_QUERY = `query ($id: ID!, $from: String, $to: String) {
  sandbox(id: $id) {
    id alias tags { key value } tagsLastUpdatedAt
    memoryUsage(from: $from, to: $to) {
      from to
      totals { memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds memoryAllocatedPeakMb memoryUsedPeakMb }
      points { ts memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds allocatedMemoryMb usedMemoryMbAvg usedMemoryMbPeak }
    }
  }
}`;

/** GraphQL's DateTime (`….000Z`) as REST writes it (`…Z`). */
const restTime = (s: string) => s.replace(/\.000Z$/, "Z");

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "ocmemory" });
  reader = await t.key("oc", "reader", ["read"]);
  ingestOnly = await t.key("oc", "ingester", ["ingest"]);
  rivalReader = await t.key("rival", "reader", ["read"]);
  // tw3 (a later session with another alias) arrives before tw2: the alias must still end up tw2's.
  await ingest(t, ingestOnly, [
    start("tw3", "2026-05-27T20:00:00Z", { sandbox_id: "sb-twice", alias: "second-alias" }),
    stop("tw3", "2026-05-27T20:01:00Z", { sandbox_id: "sb-twice" }),
  ]);
  await ingest(t, ingestOnly, [
    start("doc", "2026-05-27T00:00:00Z", { alias: "my-agent" }),
    memorySample("sb-doc", "2026-05-27T00:00:05Z", 504),
    memorySample("sb-doc", "2026-05-27T00:00:35Z", 720),
    memorySample("sb-doc", "2026-05-27T00:01:05Z", 624),
    memorySample("sb-doc", "2026-05-27T00:01:35Z", 742),
    stop("doc", "2026-05-27T00:02:00Z"),

    start("mid", "2026-05-27T01:00:15.500Z", { memory_mb: 2048 }),
    stop("mid", "2026-05-27T01:02:40.200Z"),
    memorySample("sb-mid", "2026-05-27T00:59:50Z", 900),
    memorySample("sb-mid", "2026-05-27T01:00:20Z", 1000),
    memorySample("sb-mid", "2026-05-27T01:01:20Z", 1536),
    memorySample("sb-mid", "2026-05-27T01:02:20Z", 512),
    // After the stop, but in the stop's minute: it counts towards that minute's average.
    memorySample("sb-mid", "2026-05-27T01:02:50Z", 1536),

    start("gap", "2026-05-27T02:00:00Z"),
    stop("gap", "2026-05-27T02:04:00Z"),
    memorySample("sb-gap", "2026-05-27T02:00:10Z", 256),
    memorySample("sb-gap", "2026-05-27T02:00:50Z", 768),
    memorySample("sb-gap", "2026-05-27T02:03:30Z", 100),
    memorySample("sb-gap", "2026-05-27T02:05:10Z", 300),

    start("tw1", "2026-05-27T03:00:00Z", { sandbox_id: "sb-twice" }),
    stop("tw1", "2026-05-27T03:02:00Z", { sandbox_id: "sb-twice" }),
    start("tw2", "2026-05-27T03:05:00Z", { sandbox_id: "sb-twice", memory_mb: 4096, alias: "first-alias" }),
    stop("tw2", "2026-05-27T03:06:30Z", { sandbox_id: "sb-twice" }),
    memorySample("sb-twice", "2026-05-27T03:01:00Z", 512),
    memorySample("sb-twice", "2026-05-27T03:05:30Z", 2048),

    start("ov1", "2026-05-27T04:00:00Z", { sandbox_id: "sb-weighted", memory_mb: 1024 }),
    stop("ov1", "2026-05-27T04:00:30Z", { sandbox_id: "sb-weighted" }),
    start("ov2", "2026-05-27T04:00:30Z", { sandbox_id: "sb-weighted", memory_mb: 3072 }),
    stop("ov2", "2026-05-27T04:01:15Z", { sandbox_id: "sb-weighted" }),

    start("sh1", "2026-05-27T05:10:00Z", { sandbox_id: "sb-shared", external_user_id: "ext-a" }),
    stop("sh1", "2026-05-27T05:12:00Z", { sandbox_id: "sb-shared" }),
    start("sh2", "2026-05-27T05:12:00Z", { sandbox_id: "sb-shared", external_user_id: "ext-b" }),
    stop("sh2", "2026-05-27T05:13:00Z", { sandbox_id: "sb-shared" }),
    memorySample("sb-shared", "2026-05-27T05:10:30Z", 512),
    memorySample("sb-shared", "2026-05-27T05:12:30Z", 1024),

    memorySample("sb-ghost", "2026-05-27T05:00:10Z", 400),

    start("live", "2026-05-28T11:58:30Z"),
    memorySample("sb-live", "2026-05-28T11:59:10Z", 256),
  ]);
  // Another org with a sandbox of the same id, busy in the same minutes, and one of its own.
  await ingest(t, await t.key("rival", "ingester", ["ingest"]), [
    start("doc", "2026-05-27T00:00:00Z", { memory_mb: 8192, alias: "rival-agent" }),
    memorySample("sb-doc", "2026-05-27T00:00:10Z", 4000),
    memorySample("sb-doc", "2026-05-27T00:01:10Z", 4000),
    stop("doc", "2026-05-27T00:03:00Z"),
    start("rv", "2026-05-27T00:00:00Z", { sandbox_id: "sb-rival" }),
    stop("rv", "2026-05-27T00:02:00Z", { sandbox_id: "sb-rival" }),
  ]);
});
afterAll(() => t?.close());

describe("GET /api/sandboxes/{id}/usage: the document's numbers", () => {
  it("reproduces 60 GiB-s allocated and 35.86 / 40.02 GiB-s used for two full minutes", async () => {
    // 1024 MiB × 60 s / 1024 = 60 per minute.  Minute 00:00: samples 504 and 720 → avg 612, peak 720,
    // used 612/1024 × 60 = 35.859375 → 35.86.  Minute 00:01: 624 and 742 → avg 683, peak 742,
    // used 683/1024 × 60 = 40.01953125 → 40.02.  Totals: 120, 35.86 + 40.02 = 75.88, 120 s.
    // The rival org's sb-doc (8192 MiB, 4000 MiB samples) must not leak into any of these.
    const body = await okUsage("sb-doc", { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:02:00Z" });
    expect(body).toStrictEqual({
      sandboxId: "sb-doc",
      alias: "my-agent",
      from: "2026-05-27T00:00:00Z",
      to: "2026-05-27T00:02:00Z",
      totals: { memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 75.88, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 742 },
      points: [
        point("2026-05-27T00:00:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 35.86, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 612, usedMemoryMbPeak: 720 }),
        point("2026-05-27T00:01:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 40.02, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 683, usedMemoryMbPeak: 742 }),
      ],
    });
    expectTotalsAreSumsOfPoints(body);
  });

  it("takes ISO dates as UTC midnight and reports every minute of the day, zeros after the stop", async () => {
    // [05-27, 05-28) = 1,440 minutes; only 00:00 and 00:01 were provisioned.
    const body = await okUsage("sb-doc", { from: "2026-05-27", to: "2026-05-28" });
    expect(body.from).toBe("2026-05-27T00:00:00Z");
    expect(body.to).toBe("2026-05-28T00:00:00Z");
    expect(body.points).toHaveLength(1440);
    expect(body.points[2]).toStrictEqual(point("2026-05-27T00:02:00Z"));
    expect(body.points[1439]).toStrictEqual(point("2026-05-27T23:59:00Z"));
    expect(body.points.filter((p: { uptimeSeconds: number }) => p.uptimeSeconds > 0).map((p: { ts: string }) => p.ts)).toEqual(["2026-05-27T00:00:00Z", "2026-05-27T00:01:00Z"]);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 75.88, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 742 });
  });
});

describe("GET /api/sandboxes/{id}/usage: minutes, edges and gaps", () => {
  it("a sandbox started and stopped mid-minute: partial first and last points, exact uptime", async () => {
    // 2048 MiB from 01:00:15.5 to 01:02:40.2; window 00:59–01:04.
    //  00:59: not provisioned → all 0, although a 900 MiB sample lies in it.
    //  01:00: [01:00:15.5, 01:01) = 44.5 s → 2 × 44.5 = 89 GiB-s; sample 1000 → 1000/1024 × 44.5 = 43.457 → 43.46.
    //  01:01: 60 s → 120; sample 1536 → 1.5 × 60 = 90.
    //  01:02: [01:02, 01:02:40.2) = 40.2 s → 80.4; samples 512 and 1536 (01:02:50, after the stop
    //         but in this minute) → avg 1024, peak 1536 → 1 × 40.2 = 40.2.
    //  01:03: after the stop → 0.
    // Totals: 89 + 120 + 80.4 = 289.4; 43.46 + 90 + 40.2 = 173.66; 44.5 + 60 + 40.2 = 144.7 s.
    const body = await okUsage("sb-mid", { from: "2026-05-27T00:59:00Z", to: "2026-05-27T01:04:00Z" });
    expect(body).toStrictEqual({
      sandboxId: "sb-mid",
      from: "2026-05-27T00:59:00Z",
      to: "2026-05-27T01:04:00Z",
      totals: { memoryAllocatedGbSeconds: 289.4, memoryUsedGbSeconds: 173.66, uptimeSeconds: 144.7, memoryAllocatedPeakMb: 2048, memoryUsedPeakMb: 1536 },
      points: [
        point("2026-05-27T00:59:00Z"),
        point("2026-05-27T01:00:00Z", { memoryAllocatedGbSeconds: 89, memoryUsedGbSeconds: 43.46, uptimeSeconds: 44.5, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1000, usedMemoryMbPeak: 1000 }),
        point("2026-05-27T01:01:00Z", { memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 90, uptimeSeconds: 60, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1536, usedMemoryMbPeak: 1536 }),
        point("2026-05-27T01:02:00Z", { memoryAllocatedGbSeconds: 80.4, memoryUsedGbSeconds: 40.2, uptimeSeconds: 40.2, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1024, usedMemoryMbPeak: 1536 }),
        point("2026-05-27T01:03:00Z"),
      ],
    });
    // No alias on sb-mid: the field is absent, not null.
    expect("alias" in body).toBe(false);
    expectTotalsAreSumsOfPoints(body);
  });

  it("a window starting mid-minute: a partial first point whose integrals cover only [from, minute end)", async () => {
    // from 01:00:30: the 01:00 point covers 30 s → 2 × 30 = 60 GiB-s. Its sample (01:00:20, before
    // from) still counts, the whole minute does: avg 1000 → 1000/1024 × 30 = 29.296875 → 29.3.
    // 01:01: 60 s → 120 and 90.  Totals: 180, 119.3, 90 s.
    const expected = {
      sandboxId: "sb-mid",
      from: "2026-05-27T01:00:30Z",
      to: "2026-05-27T01:02:00Z",
      totals: { memoryAllocatedGbSeconds: 180, memoryUsedGbSeconds: 119.3, uptimeSeconds: 90, memoryAllocatedPeakMb: 2048, memoryUsedPeakMb: 1536 },
      points: [
        point("2026-05-27T01:00:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 29.3, uptimeSeconds: 30, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1000, usedMemoryMbPeak: 1000 }),
        point("2026-05-27T01:01:00Z", { memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 90, uptimeSeconds: 60, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1536, usedMemoryMbPeak: 1536 }),
      ],
    };
    expect(await okUsage("sb-mid", { from: "2026-05-27T01:00:30Z", to: "2026-05-27T01:02:00Z" })).toStrictEqual(expected);
    // The same instants in RFC 3339 with a +02:00 offset.
    expect(await okUsage("sb-mid", { from: "2026-05-27T03:00:30+02:00", to: "2026-05-27T03:02:00+02:00" })).toStrictEqual(expected);
  });

  it("a window ending mid-minute: a partial last point, whose samples count for the whole minute", async () => {
    // to 01:02:30: the 01:02 point covers [01:02, 01:02:30) = 30 s → 60 GiB-s. Its samples are 512 and
    // 1536 (01:02:50, after `to` but in the minute) → avg 1024, peak 1536 → 1 × 30 = 30.
    const body = await okUsage("sb-mid", { from: "2026-05-27T01:01:00Z", to: "2026-05-27T01:02:30Z" });
    expect(body.points).toStrictEqual([
      point("2026-05-27T01:01:00Z", { memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 90, uptimeSeconds: 60, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1536, usedMemoryMbPeak: 1536 }),
      point("2026-05-27T01:02:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 30, uptimeSeconds: 30, allocatedMemoryMb: 2048, usedMemoryMbAvg: 1024, usedMemoryMbPeak: 1536 }),
    ]);
    // 120 + 60 = 180; 90 + 30 = 120; 90 s.
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 180, memoryUsedGbSeconds: 120, uptimeSeconds: 90, memoryAllocatedPeakMb: 2048, memoryUsedPeakMb: 1536 });
  });

  it("minutes without samples have used = 0 but allocated > 0; a sample after the stop counts for nothing", async () => {
    // 1024 MiB, 02:00–02:04; window 02:00–02:06.
    //  02:00: samples 256, 768 → avg 512, peak 768, used 0.5 × 60 = 30.   02:01, 02:02: no samples.
    //  02:03: sample 100 → 100/1024 × 60 = 5.859375 → 5.86.   02:04: stopped.   02:05: stopped (sample 300 ignored).
    // Totals: 4 × 60 = 240 GiB-s, 35.86, 240 s, peaks 1024 / 768.
    const body = await okUsage("sb-gap", { from: "2026-05-27T02:00:00Z", to: "2026-05-27T02:06:00Z" });
    const full = { memoryAllocatedGbSeconds: 60, uptimeSeconds: 60, allocatedMemoryMb: 1024 };
    expect(body.points).toStrictEqual([
      point("2026-05-27T02:00:00Z", { ...full, memoryUsedGbSeconds: 30, usedMemoryMbAvg: 512, usedMemoryMbPeak: 768 }),
      point("2026-05-27T02:01:00Z", full),
      point("2026-05-27T02:02:00Z", full),
      point("2026-05-27T02:03:00Z", { ...full, memoryUsedGbSeconds: 5.86, usedMemoryMbAvg: 100, usedMemoryMbPeak: 100 }),
      point("2026-05-27T02:04:00Z"),
      point("2026-05-27T02:05:00Z"),
    ]);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 240, memoryUsedGbSeconds: 35.86, uptimeSeconds: 240, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 768 });
    expectTotalsAreSumsOfPoints(body);
  });

  it("two sessions of one sandbox in a window: the gap minutes are all zero", async () => {
    // tw1 1024 MiB 03:00–03:02, tw2 4096 MiB 03:05–03:06:30; window 03:00–03:07.
    //  03:00: 60 GiB-s.  03:01: 60; sample 512 → 30.  03:02–03:04: nothing.
    //  03:05: 4 × 60 = 240; sample 2048 → 2 × 60 = 120.  03:06: 30 s × 4 = 120, no sample.
    // Totals: 60 + 60 + 240 + 120 = 480; 30 + 120 = 150; 210 s; peaks 4096 / 2048.
    const body = await okUsage("sb-twice", { from: "2026-05-27T03:00:00Z", to: "2026-05-27T03:07:00Z" });
    expect(body).toStrictEqual({
      sandboxId: "sb-twice",
      // tw2's is the earliest session_start carrying an alias (tw1 has none, tw3 is later).
      alias: "first-alias",
      from: "2026-05-27T03:00:00Z",
      to: "2026-05-27T03:07:00Z",
      totals: { memoryAllocatedGbSeconds: 480, memoryUsedGbSeconds: 150, uptimeSeconds: 210, memoryAllocatedPeakMb: 4096, memoryUsedPeakMb: 2048 },
      points: [
        point("2026-05-27T03:00:00Z", { memoryAllocatedGbSeconds: 60, uptimeSeconds: 60, allocatedMemoryMb: 1024 }),
        point("2026-05-27T03:01:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 30, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 512, usedMemoryMbPeak: 512 }),
        point("2026-05-27T03:02:00Z"),
        point("2026-05-27T03:03:00Z"),
        point("2026-05-27T03:04:00Z"),
        point("2026-05-27T03:05:00Z", { memoryAllocatedGbSeconds: 240, memoryUsedGbSeconds: 120, uptimeSeconds: 60, allocatedMemoryMb: 4096, usedMemoryMbAvg: 2048, usedMemoryMbPeak: 2048 }),
        point("2026-05-27T03:06:00Z", { memoryAllocatedGbSeconds: 120, uptimeSeconds: 30, allocatedMemoryMb: 4096 }),
      ],
    });
    expectTotalsAreSumsOfPoints(body);
  });

  it("weights the allocated tier by time when two sessions share a minute", async () => {
    // 04:00: 1024 MiB × 30 s + 3072 MiB × 30 s = 30 + 90 = 120 GiB-s over 60 s → 120 × 1024 / 60 = 2048 MiB.
    // 04:01: 3072 MiB × 15 s = 45 GiB-s, tier 3072.  Peak tier 3072.
    const body = await okUsage("sb-weighted", { from: "2026-05-27T04:00:00Z", to: "2026-05-27T04:02:00Z" });
    expect(body.points).toStrictEqual([
      point("2026-05-27T04:00:00Z", { memoryAllocatedGbSeconds: 120, uptimeSeconds: 60, allocatedMemoryMb: 2048 }),
      point("2026-05-27T04:01:00Z", { memoryAllocatedGbSeconds: 45, uptimeSeconds: 15, allocatedMemoryMb: 3072 }),
    ]);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 165, memoryUsedGbSeconds: 0, uptimeSeconds: 75, memoryAllocatedPeakMb: 3072, memoryUsedPeakMb: 0 });
  });

  it("an open session runs until now; defaults are to = now, from = to − 1 h", async () => {
    // now = 12:00:20 → window [11:00:20, 12:00:20): minutes 11:00 … 12:00 = 61 points.
    // live (1024 MiB) from 11:58:30: 11:58 → 30 s; 11:59 → 60 s, sample 256 → 0.25 × 60 = 15; 12:00 → 20 s (until now).
    const body = await okUsage("sb-live");
    expect(body.from).toBe("2026-05-28T11:00:20Z");
    expect(body.to).toBe("2026-05-28T12:00:20Z");
    expect(body.points).toHaveLength(61);
    expect(body.points[0]).toStrictEqual(point("2026-05-28T11:00:00Z"));
    expect(body.points.slice(58)).toStrictEqual([
      point("2026-05-28T11:58:00Z", { memoryAllocatedGbSeconds: 30, uptimeSeconds: 30, allocatedMemoryMb: 1024 }),
      point("2026-05-28T11:59:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 15, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 256, usedMemoryMbPeak: 256 }),
      point("2026-05-28T12:00:00Z", { memoryAllocatedGbSeconds: 20, uptimeSeconds: 20, allocatedMemoryMb: 1024 }),
    ]);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 110, memoryUsedGbSeconds: 15, uptimeSeconds: 110, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 256 });

    // Only to: from = 12:00 − 1 h = 11:00 → 60 points; 30 + 60 = 90 s.
    const toOnly = await okUsage("sb-live", { to: "2026-05-28T12:00:00Z" });
    expect(toOnly.from).toBe("2026-05-28T11:00:00Z");
    expect(toOnly.points).toHaveLength(60);
    expect(toOnly.totals.uptimeSeconds).toBe(90);
    // Only from: to = now → 11:59 (60 s) and 12:00 (20 s).
    const fromOnly = await okUsage("sb-live", { from: "2026-05-28T11:59:00Z" });
    expect(fromOnly.to).toBe(NOW);
    expect(fromOnly.points.map((p: { uptimeSeconds: number }) => p.uptimeSeconds)).toEqual([60, 20]);
    // A window reaching past now: nothing is provisioned after now.
    const future = await okUsage("sb-live", { from: "2026-05-28T12:00:00Z", to: "2026-05-28T12:02:00Z" });
    expect(future.points).toStrictEqual([point("2026-05-28T12:00:00Z", { memoryAllocatedGbSeconds: 20, uptimeSeconds: 20, allocatedMemoryMb: 1024 }), point("2026-05-28T12:01:00Z")]);
  });

  it("knows a sandbox from its memory samples alone, and answers zeros for it", async () => {
    // sb-ghost has a sample at 05:00:10 but no session: nothing was provisioned.
    const body = await okUsage("sb-ghost", { from: "2026-05-27T05:00:00Z", to: "2026-05-27T05:02:00Z" });
    expect(body).toStrictEqual({
      sandboxId: "sb-ghost",
      from: "2026-05-27T05:00:00Z",
      to: "2026-05-27T05:02:00Z",
      totals: { memoryAllocatedGbSeconds: 0, memoryUsedGbSeconds: 0, uptimeSeconds: 0, memoryAllocatedPeakMb: 0, memoryUsedPeakMb: 0 },
      points: [point("2026-05-27T05:00:00Z"), point("2026-05-27T05:01:00Z")],
    });
  });

  it("a 30-day window is exactly 43,200 one-minute points", { timeout: 60_000 }, async () => {
    // [04-28, 05-28) = 30 × 1,440 = 43,200 minutes (30 days exactly is allowed). Only sb-doc's two
    // minutes on 05-27 (index 29 × 1,440 = 41,760 and 41,761) are provisioned.
    const body = await okUsage("sb-doc", { from: "2026-04-28", to: "2026-05-28" });
    expect(body.points).toHaveLength(43_200);
    expect(body.points[0].ts).toBe("2026-04-28T00:00:00Z");
    expect(body.points[43_199].ts).toBe("2026-05-27T23:59:00Z");
    const start = Date.parse("2026-04-28T00:00:00Z");
    expect(body.points.every((p: { ts: string }, i: number) => Date.parse(p.ts) === start + i * 60_000)).toBe(true);
    expect(body.points[41_760]).toStrictEqual(point("2026-05-27T00:00:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 35.86, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 612, usedMemoryMbPeak: 720 }));
    expect(body.points.filter((p: { uptimeSeconds: number }) => p.uptimeSeconds !== 0)).toHaveLength(2);
    expect(body.totals).toStrictEqual({ memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 75.88, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 742 });
  });
});

describe("GET /api/sandboxes/{id}/usage: X-On-Behalf-Of", () => {
  const WINDOW = { from: "2026-05-27T05:10:00Z", to: "2026-05-27T05:13:00Z" };

  it("counts only that user's sessions as uptime", async () => {
    // Everyone: sh1 05:10–05:12 and sh2 05:12–05:13, 1024 MiB. 05:10 sample 512 → 30; 05:12 sample 1024 → 60.
    const all = await okUsage("sb-shared", WINDOW);
    expect(all.totals).toStrictEqual({ memoryAllocatedGbSeconds: 180, memoryUsedGbSeconds: 90, uptimeSeconds: 180, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 1024 });
    // ext-a ran sh1 only: 05:12 (sh2, ext-b's) is not provisioned for ext-a → all 0 despite its sample.
    const a = await okUsage("sb-shared", WINDOW, { ...xKey(reader), "x-on-behalf-of": "ext-a" });
    expect(a.points).toStrictEqual([
      point("2026-05-27T05:10:00Z", { memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 30, uptimeSeconds: 60, allocatedMemoryMb: 1024, usedMemoryMbAvg: 512, usedMemoryMbPeak: 512 }),
      point("2026-05-27T05:11:00Z", { memoryAllocatedGbSeconds: 60, uptimeSeconds: 60, allocatedMemoryMb: 1024 }),
      point("2026-05-27T05:12:00Z"),
    ]);
    expect(a.totals).toStrictEqual({ memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 30, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 512 });
    // ext-b: only 05:12 → 60 GiB-s allocated, 1024/1024 × 60 = 60 used.
    const b = await okUsage("sb-shared", WINDOW, { ...xKey(reader), "x-on-behalf-of": "ext-b" });
    expect(b.totals).toStrictEqual({ memoryAllocatedGbSeconds: 60, memoryUsedGbSeconds: 60, uptimeSeconds: 60, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 1024 });
  });

  it("answers 404 for a sandbox that user never ran (REST) and null (GraphQL)", async () => {
    for (const [id, ext] of [["sb-shared", "ext-c"], ["sb-doc", "ext-a"], ["sb-ghost", "ext-a"]] as const) {
      const res = await usage(id, WINDOW, { ...xKey(reader), "x-on-behalf-of": ext });
      expect(res.statusCode, `${id} ${ext}`).toBe(404);
      expect(res.json()).toStrictEqual({ error: expect.any(String) });
      const gql = await t.graphql(SANDBOX_QUERY, { id, ...WINDOW }, { ...xKey(reader), "x-on-behalf-of": ext });
      expect(gql.body.errors).toBeUndefined();
      expect(gql.body.data!.sandbox).toBeNull();
    }
  });

  it("GraphQL narrows the same way", async () => {
    const gql = await t.graphql(SANDBOX_QUERY, { id: "sb-shared", ...WINDOW }, { ...xKey(reader), "x-on-behalf-of": "ext-a" });
    expect(gql.body.data!.sandbox.memoryUsage.totals).toStrictEqual({ memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 30, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 512 });
  });
});

describe("GET /api/sandboxes/{id}/usage: errors {error: …}", () => {
  async function expectError(res: Awaited<ReturnType<typeof usage>>, status: number) {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json()).toStrictEqual({ error: expect.any(String) });
    expect(res.json().error.length).toBeGreaterThan(0);
  }

  it.each([
    ["an unparseable from", "from=yesterday&to=2026-05-27T01:00:00Z"],
    ["a day that does not exist", "from=2026-02-30&to=2026-03-02"],
    ["an hour 24", "from=2026-05-27T24:00:00Z&to=2026-05-28T01:00:00Z"],
    ["unix seconds", "from=1779840000&to=2026-05-28T01:00:00Z"],
    ["an unparseable to", "from=2026-05-27T00:00:00Z&to=tomorrow"],
    ["an empty from", "from=&to=2026-05-27T01:00:00Z"],
    ["to equal to from", "from=2026-05-27T00:00:00Z&to=2026-05-27T00:00:00Z"],
    ["to before from", "from=2026-05-27T00:02:00Z&to=2026-05-27T00:00:00Z"],
    ["a from after now with to defaulted", "from=2026-05-28T13:00:00Z"],
    ["a window one second over 30 days", "from=2026-04-27T23:59:59Z&to=2026-05-28"],
    ["a window of 31 days", "from=2026-04-27&to=2026-05-28"],
    ["from given twice", "from=2026-05-27T00:00:00Z&from=2026-05-27T00:01:00Z&to=2026-05-27T00:02:00Z"],
  ])("400 for %s, for a known, an unknown and a foreign sandbox alike", async (_name, query) => {
    for (const id of ["sb-doc", "sb-nope", "sb-rival"]) await expectError(await usage(id, query), 400);
  });

  it("404 for an unknown sandbox and for another org's, indistinguishably", async () => {
    const WINDOW = { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:02:00Z" };
    const unknown = await usage("sb-nope", WINDOW);
    await expectError(unknown, 404);
    const foreign = await usage("sb-rival", WINDOW);
    await expectError(foreign, 404);
    // The same message, but for the id.
    expect(foreign.json().error).toBe(unknown.json().error.replaceAll("sb-nope", "sb-rival"));
    // The rival sees its own sandbox (so the 404 above is tenancy, not absence).
    const own = await okUsage("sb-rival", WINDOW, xKey(rivalReader));
    expect(own.totals.uptimeSeconds).toBe(120);
    // And each org sees its own sb-doc: rival's is 8192 MiB for 3 minutes → 8 × 180 = 1440 GiB-s.
    const rivalDoc = await okUsage("sb-doc", { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:03:00Z" }, xKey(rivalReader));
    expect(rivalDoc.alias).toBe("rival-agent");
    expect(rivalDoc.totals.memoryAllocatedGbSeconds).toBe(1440);
  });

  it("401 without a key or with an unknown key; a Bearer key works as X-API-Key does (DESIGN §13)", async () => {
    const WINDOW = { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:02:00Z" };
    await expectError(await usage("sb-doc", WINDOW, {}), 401);
    await expectError(await usage("sb-doc", WINDOW, xKey("usk_bogus_key")), 401);
    await expectError(await usage("sb-doc", WINDOW, bearer("usk_bogus_key")), 401);
    const viaBearer = await usage("sb-doc", WINDOW, bearer(reader));
    expect(viaBearer.statusCode).toBe(200);
    expect(viaBearer.json()).toEqual((await usage("sb-doc", WINDOW, xKey(reader))).json());
  });

  it("403 for a key without the read scope, and for the bootstrap key (no org)", async () => {
    const WINDOW = { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:02:00Z" };
    await expectError(await usage("sb-doc", WINDOW, xKey(ingestOnly)), 403);
    await expectError(await usage("sb-doc", WINDOW, xKey(BOOTSTRAP_KEY)), 403);
  });
});

describe("Query.sandbox { memoryUsage }", () => {
  /** The GraphQL answer in the REST JSON's shape (alias omitted when null, REST timestamps). */
  function asRest(s: any) {
    const m = s.memoryUsage;
    return {
      sandboxId: s.id,
      ...(s.alias !== null && { alias: s.alias }),
      from: restTime(m.from),
      to: restTime(m.to),
      totals: m.totals,
      points: m.points.map((p: { ts: string }) => ({ ...p, ts: restTime(p.ts) })),
    };
  }

  it.each([
    ["sb-doc", "2026-05-27T00:00:00Z", "2026-05-27T00:02:00Z"],
    ["sb-mid", "2026-05-27T01:00:30Z", "2026-05-27T01:04:00Z"],
    ["sb-twice", "2026-05-27T03:00:00Z", "2026-05-27T03:07:00Z"],
    ["sb-ghost", "2026-05-27T05:00:00Z", "2026-05-27T05:02:00Z"],
  ])("returns the same numbers as REST for %s", async (id, from, to) => {
    const [gql, rest] = await Promise.all([t.graphql(SANDBOX_QUERY, { id, from, to }, xKey(reader)), okUsage(id, { from, to })]);
    expect(gql.body.errors).toBeUndefined();
    expect(asRest(gql.body.data!.sandbox)).toStrictEqual(rest);
  });

  it("serializes DateTime with milliseconds, and defaults the window the same way", async () => {
    const gql = await t.graphql(SANDBOX_QUERY, { id: "sb-doc", from: "2026-05-27", to: "2026-05-27T00:02:00Z" }, bearer(reader));
    const s = gql.body.data!.sandbox;
    expect(s.id).toBe("sb-doc");
    expect(s.alias).toBe("my-agent");
    expect(s.memoryUsage.from).toBe("2026-05-27T00:00:00.000Z");
    expect(s.memoryUsage.to).toBe("2026-05-27T00:02:00.000Z");
    expect(s.memoryUsage.points.map((p: { ts: string; memoryUsedGbSeconds: number }) => [p.ts, p.memoryUsedGbSeconds])).toEqual([
      ["2026-05-27T00:00:00.000Z", 35.86],
      ["2026-05-27T00:01:00.000Z", 40.02],
    ]);
    const defaults = await t.graphql(SANDBOX_QUERY, { id: "sb-live" }, xKey(reader));
    expect(asRest(defaults.body.data!.sandbox)).toStrictEqual(await okUsage("sb-live"));
    expect(defaults.body.data!.sandbox.memoryUsage.from).toBe("2026-05-28T11:00:20.000Z");
  });

  it("is null for an unknown sandbox and for another org's", async () => {
    for (const id of ["sb-nope", "sb-rival"]) {
      const gql = await t.graphql(SANDBOX_QUERY, { id }, xKey(reader));
      expect(gql.body.errors).toBeUndefined();
      expect(gql.body.data!.sandbox).toBeNull();
    }
  });

  it.each([
    ["an unparseable from", { from: "yesterday", to: "2026-05-27T01:00:00Z" }],
    ["to equal to from", { from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:00:00Z" }],
    ["to before from", { from: "2026-05-27T00:02:00Z", to: "2026-05-27T00:00:00Z" }],
    ["a window over 30 days", { from: "2026-04-27T23:59:00Z", to: "2026-05-28" }],
  ])("BAD_USER_INPUT for %s", async (_name, window) => {
    const gql = await t.graphql(SANDBOX_QUERY, { id: "sb-doc", ...window }, xKey(reader));
    expect(gql.body.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
  });

  it("UNAUTHENTICATED without a key, FORBIDDEN without read or with the bootstrap key", async () => {
    const vars = { id: "sb-doc", from: "2026-05-27T00:00:00Z", to: "2026-05-27T00:02:00Z" };
    expect((await t.graphql(SANDBOX_QUERY, vars)).body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect((await t.graphql(SANDBOX_QUERY, vars, xKey("usk_bogus_key"))).body.errors![0]!.extensions!.code).toBe("UNAUTHENTICATED");
    expect((await t.graphql(SANDBOX_QUERY, vars, xKey(ingestOnly))).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    expect((await t.graphql(SANDBOX_QUERY, vars, bearer(BOOTSTRAP_KEY))).body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });
});
