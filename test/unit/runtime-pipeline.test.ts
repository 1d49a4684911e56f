import { describe, expect, it } from "vitest";
import { INDEXES } from "../../src/db/collections.js";
import { buildRuntimeSummaryPipeline, buildUsageRollupPipeline, runtimeMsInWindow, USAGE_ROLLUP_INDEX } from "../../src/pipelines/runtime.js";

const window = { from: new Date("2026-05-01T00:00:00Z"), to: new Date("2026-05-02T00:00:00Z") };
const now = new Date("2026-05-01T12:00:00Z");
const prices = { sandbox_vcpu_hour_cents: 5, computer_vcpu_hour_cents: 10, storage_gb_hour_cents: 0.014 };

describe("runtime pipelines", () => {
  it("clamp each session to [max(start, from), min(end ?? now, to)), never below zero", () => {
    expect(runtimeMsInWindow(window, now)).toEqual({
      $max: [0, { $subtract: [{ $min: [{ $ifNull: ["$ended_at", now] }, window.to] }, { $max: ["$started_at", window.from] }] }],
    });
  });

  it("lead the rollup with a $match on the fields of its index, and only sessions overlapping the window", () => {
    const [first] = buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "workspace_id", window, now, defaultPrices: prices, externalUserId: null });
    expect(USAGE_ROLLUP_INDEX.byOrg).toBe(INDEXES.sessionsByOrgStart);
    expect(first).toEqual({
      // {org_id, end_at, started_at}: sessions that ended before the window are never read.
      $match: { org_id: "acme", end_at: { $gte: window.from }, started_at: { $lt: window.to } },
    });
  });

  it("narrow to the external user under X-On-Behalf-Of, join each org's prices with literal defaults, sort per org", () => {
    const pipeline = buildUsageRollupPipeline({ orgIds: ["acme", "globex"], groupBy: "external_user_id", window, now, defaultPrices: prices, externalUserId: "ext-1" });
    expect(pipeline[0]!.$match.external_user_id).toBe("ext-1");
    expect(pipeline[0]!.$match.org_id).toEqual({ $in: ["acme", "globex"] });
    expect(pipeline).toContainEqual({ $lookup: { from: "prices", localField: "org_id", foreignField: "_id", as: "price" } });
    expect(JSON.stringify(pipeline)).toContain('{"$ifNull":["$price.storage_gb_hour_cents",0.014]}');
    expect(pipeline.at(-1)).toEqual({ $sort: { org_id: 1, credit_cents: -1, key: 1 } });
  });

  it("scope the summary to the users asked for in one org, started before now", () => {
    const [first] = buildRuntimeSummaryPipeline({ orgId: "acme", userIds: ["alice"], externalUserId: null, monthStart: new Date("2026-05-01T00:00:00Z"), now });
    expect(first).toEqual({ $match: { org_id: "acme", user_id: "alice", started_at: { $lt: now } } });
  });
});
