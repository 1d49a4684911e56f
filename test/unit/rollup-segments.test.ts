/**
 * How a bucket's part of the window is covered by rollup reads (coarsest whole rollup buckets,
 * finer towards the edges, raw events for the sub-minute rest), and which buckets the rollup
 * session counters can answer alone (exactly one rollup bucket).
 */
import { describe, expect, it } from "vitest";
import { coverBucket, planPage } from "../../src/pipelines/sandboxUsage.js";
import { LocalBuckets } from "../../src/zones.js";

const ms = (iso: string) => Date.parse(iso);
const seg = (source: string, from: string, to: string) => ({ source, from: ms(from), to: ms(to) });

describe("coverBucket", () => {
  it("uses whole days, hours at the edges, minutes, then raw events under a minute", () => {
    expect(coverBucket(ms("2026-05-01T10:00:30Z"), ms("2026-05-04T13:05:10Z"), ["1d", "1h", "1m"])).toEqual([
      seg("raw", "2026-05-01T10:00:30Z", "2026-05-01T10:01:00Z"),
      seg("1m", "2026-05-01T10:01:00Z", "2026-05-01T11:00:00Z"),
      seg("1h", "2026-05-01T11:00:00Z", "2026-05-02T00:00:00Z"),
      seg("1d", "2026-05-02T00:00:00Z", "2026-05-04T00:00:00Z"),
      seg("1h", "2026-05-04T00:00:00Z", "2026-05-04T13:00:00Z"),
      seg("1m", "2026-05-04T13:00:00Z", "2026-05-04T13:05:00Z"),
      seg("raw", "2026-05-04T13:05:00Z", "2026-05-04T13:05:10Z"),
    ]);
  });

  it("covers a Kolkata hour (:30 to :30 UTC) with minutes, a New York day with hours", () => {
    expect(coverBucket(ms("2026-05-01T10:30:00Z"), ms("2026-05-01T11:30:00Z"), ["1h", "1m"])).toEqual([seg("1m", "2026-05-01T10:30:00Z", "2026-05-01T11:30:00Z")]);
    expect(coverBucket(ms("2026-05-01T04:00:00Z"), ms("2026-05-02T04:00:00Z"), ["1d", "1h", "1m"])).toEqual([seg("1h", "2026-05-01T04:00:00Z", "2026-05-02T04:00:00Z")]);
  });

  it("yields nothing for an empty range", () => {
    expect(coverBucket(ms("2026-05-01T00:00:00Z"), ms("2026-05-01T00:00:00Z"), ["1m"])).toEqual([]);
  });
});

describe("planPage", () => {
  const page = (from: string, to: string, width: "1m" | "1h" | "1d", zone: string, n: number) => {
    const unit = width === "1m" ? "minute" : width === "1h" ? "hour" : "day";
    const local = new LocalBuckets(ms(from), unit, zone);
    const boundaries = Array.from({ length: n + 1 }, (_, k) => local.at(k));
    return planPage({ scope: { orgIds: ["acme"], externalUserId: null }, width, groupBy: [], from: new Date(ms(from)), to: new Date(ms(to)), boundaries, timeZone: zone });
  };

  it("marks whole UTC days single, a ragged first day composite", () => {
    const plan = page("2026-05-01T10:00:00Z", "2026-05-04T00:00:00Z", "1d", "UTC", 3);
    expect(plan.buckets.map((b) => b.single)).toEqual([false, true, true]);
  });

  it("never marks a local day in New York single (it is 24 hour documents), and DST days are 23 and 25 hours", () => {
    const plan = page("2026-03-07T05:00:00Z", "2026-03-10T04:00:00Z", "1d", "America/New_York", 3);
    expect(plan.buckets.map((b) => b.single)).toEqual([false, false, false]);
    const local = new LocalBuckets(ms("2026-03-08T12:00:00Z"), "day", "America/New_York");
    expect((local.at(1) - local.at(0)) / 3_600_000).toBe(23);
    const fall = new LocalBuckets(ms("2026-11-01T12:00:00Z"), "day", "America/New_York");
    expect((fall.at(1) - fall.at(0)) / 3_600_000).toBe(25);
  });
});
