import { describe, expect, it } from "vitest";
import { buildSandboxUsagePipeline } from "../../src/pipelines/sandboxUsage.js";

const base = {
  width: "1h" as const,
  groupBy: ["provider" as const],
  from: new Date("2026-05-27T10:30:00Z"),
  to: new Date("2026-05-27T13:00:00Z"),
  firstBucket: new Date("2026-05-27T10:00:00Z"),
  endBucket: new Date("2026-05-27T13:00:00Z"),
};

describe("buildSandboxUsagePipeline", () => {
  it("opens with an index-served $match: org equality, operation type, half-open time range", () => {
    const [first] = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], sessionIds: null } });
    expect(first).toEqual({ $match: { org_id: "acme", type: "sandbox.operation", ts: { $gte: base.from, $lt: base.to } } });
  });

  it("uses $in for several orgs, no org for all orgs, and narrows to on-behalf-of sessions", () => {
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["a", "b"], sessionIds: null } })[0]!.$match.org_id).toEqual({ $in: ["a", "b"] });
    const all = buildSandboxUsagePipeline({ ...base, scope: { orgIds: null, sessionIds: ["s1"] } })[0]!.$match;
    expect(all.org_id).toBeUndefined();
    expect(all.session_id).toEqual({ $in: ["s1"] });
  });

  it("densifies the page's buckets by the width's unit within [firstBucket, endBucket)", () => {
    const pipeline = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], sessionIds: null } });
    const densify = pipeline.find((s) => "$densify" in s)!.$densify;
    expect(densify).toEqual({ field: "start", range: { step: 1, unit: "hour", bounds: [base.firstBucket, base.endBucket] } });
    // Ungrouped dimensions are the literal null in every result.
    const push = pipeline.find((s) => s.$group?.results)!.$group.results.$push;
    expect(push.user_id).toBeNull();
    expect(push.provider).toBe("$_id.provider");
  });
});
