/**
 * How a time range is cut into rollup reads (coarsest whole buckets, finer towards the edges, raw
 * events for the sub-minute rest) and how an ingest's timestamps become the buckets to refresh.
 */
import { describe, expect, it } from "vitest";
import { bucketRuns } from "../../src/ingest/rollups.js";
import { rollupSegments } from "../../src/pipelines/sandboxUsage.js";

const at = (iso: string) => new Date(iso);
const seg = (source: string, from: string, to: string) => ({ source, from: at(from), to: at(to) });

describe("rollupSegments", () => {
  it("uses whole days for 1d buckets, hours at the edges, raw events under an hour", () => {
    expect(rollupSegments(at("2026-05-01T10:00:30Z"), at("2026-05-04T13:05:10Z"), "1d")).toEqual([
      seg("raw", "2026-05-01T10:00:30Z", "2026-05-01T11:00:00Z"),
      seg("1h", "2026-05-01T11:00:00Z", "2026-05-02T00:00:00Z"),
      seg("1d", "2026-05-02T00:00:00Z", "2026-05-04T00:00:00Z"),
      seg("1h", "2026-05-04T00:00:00Z", "2026-05-04T13:00:00Z"),
      seg("raw", "2026-05-04T13:00:00Z", "2026-05-04T13:05:10Z"),
    ]);
  });

  it("never reads a rollup wider than the bucket (a day cannot be split into hours)", () => {
    expect(rollupSegments(at("2026-05-01T00:00:00Z"), at("2026-05-03T00:00:00Z"), "1h")).toEqual([seg("1h", "2026-05-01T00:00:00Z", "2026-05-03T00:00:00Z")]);
    // There is no minute rollup of operations: 1m buckets are counted from events.
    expect(rollupSegments(at("2026-05-01T00:00:00Z"), at("2026-05-01T02:00:00Z"), "1m")).toEqual([seg("raw", "2026-05-01T00:00:00Z", "2026-05-01T02:00:00Z")]);
  });

  it("falls back to raw events inside one hour, and yields nothing for an empty range", () => {
    expect(rollupSegments(at("2026-05-01T00:00:10Z"), at("2026-05-01T00:50:00Z"), "1d")).toEqual([seg("raw", "2026-05-01T00:00:10Z", "2026-05-01T00:50:00Z")]);
    expect(rollupSegments(at("2026-05-01T00:00:10Z"), at("2026-05-01T00:00:10Z"), "1d")).toEqual([]);
  });
});

describe("bucketRuns", () => {
  const MIN = 60_000;
  const t = (iso: string) => Date.parse(iso);

  it("turns timestamps into the half-open runs of the buckets they fall in", () => {
    expect(bucketRuns([t("2026-05-01T10:00:59.999Z"), t("2026-05-01T10:00:00Z"), t("2026-05-01T10:01:00Z"), t("2026-05-01T10:05:30Z")], MIN)).toEqual([
      { from: at("2026-05-01T10:00:00Z"), to: at("2026-05-01T10:02:00Z") },
      { from: at("2026-05-01T10:05:00Z"), to: at("2026-05-01T10:06:00Z") },
    ]);
  });

  it("joins runs separated by at most joinGap empty buckets", () => {
    const times = [t("2026-05-01T10:00:00Z"), t("2026-05-01T10:05:00Z"), t("2026-05-01T12:00:00Z")];
    expect(bucketRuns(times, MIN, 4)).toEqual([
      { from: at("2026-05-01T10:00:00Z"), to: at("2026-05-01T10:06:00Z") },
      { from: at("2026-05-01T12:00:00Z"), to: at("2026-05-01T12:01:00Z") },
    ]);
    expect(bucketRuns(times, MIN, 3)).toHaveLength(3);
    expect(bucketRuns([], MIN)).toEqual([]);
  });
});
