import { describe, expect, it } from "vitest";
import { INDEXES } from "../../src/db/collections.js";
import { buildRuntimeSummaryPipeline, buildUsageRollupPipeline, runtimeMsInWindow, USAGE_ROLLUP_INDEX } from "../../src/pipelines/runtime.js";

const window = { from: new Date("2026-05-01T00:00:00Z"), to: new Date("2026-05-02T00:00:00Z") };
const now = new Date("2026-05-01T12:00:00Z");

describe("runtime pipelines", () => {
  it("clamp each session to [max(start, from), min(end ?? now, to)), never below zero", () => {
    expect(runtimeMsInWindow(window, now)).toEqual({
      $max: [0, { $subtract: [{ $min: [{ $ifNull: ["$ended_at", now] }, window.to] }, { $max: ["$started_at", window.from] }] }],
    });
  });

  it("lead the rollup with a $match on the fields of its index, and only sessions overlapping the window", () => {
    const [first] = buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "workspace_id", window, now, externalUserId: null });
    expect(USAGE_ROLLUP_INDEX.byOrg).toBe(INDEXES.sessionsByOrgStart);
    expect(first).toEqual({
      // {org_id, end_at, started_at}: sessions that ended before the window are never read.
      $match: { org_id: "acme", end_at: { $gte: window.from }, started_at: { $lt: window.to } },
    });
  });

  it("narrow to the external user under X-On-Behalf-Of, and sum exact decimals per (org, group) for the service to price", () => {
    const pipeline = buildUsageRollupPipeline({ orgIds: ["acme", "globex"], groupBy: "external_user_id", window, now, externalUserId: "ext-1" });
    expect(pipeline[0]!.$match.external_user_id).toBe("ext-1");
    expect(pipeline[0]!.$match.org_id).toEqual({ $in: ["acme", "globex"] });
    const group = pipeline.find((s) => "$group" in s)!.$group;
    expect(group._id).toEqual({ org_id: "$org_id", key: "$key" });
    expect(group.storage_gb_ms).toEqual({ $sum: { $multiply: [{ $toDecimal: "$runtime_ms" }, { $toDecimal: { $ifNull: ["$storage_gb", 0] } }] } });
    // No doubles on the way: prices, rounding and MIOSA's order are applied to the exact sums (src/cost.ts).
    expect(JSON.stringify(pipeline)).not.toMatch(/\$lookup|\$sort|\$round|\$divide/);
  });

  it("scope the summary to the users asked for in one org, started before now", () => {
    const [first] = buildRuntimeSummaryPipeline({ orgId: "acme", userIds: ["alice"], externalUserId: null, monthStart: new Date("2026-05-01T00:00:00Z"), now });
    expect(first).toEqual({ $match: { org_id: "acme", user_id: "alice", started_at: { $lt: now } } });
  });
});
