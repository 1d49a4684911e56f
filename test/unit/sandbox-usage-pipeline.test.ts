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
    const [first] = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], sessions: null } });
    expect(first).toEqual({ $match: { org_id: "acme", type: "sandbox.operation", ts: { $gte: base.from, $lt: base.to } } });
  });

  it("uses $in for several orgs and no org for all orgs", () => {
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["a", "b"], sessions: null } })[0]!.$match.org_id).toEqual({ $in: ["a", "b"] });
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: null, sessions: null } })[0]!.$match.org_id).toBeUndefined();
  });

  it("holds each on-behalf-of session id to its own org (ids are unique per org only)", () => {
    // All of the user's sessions in one org: that org becomes the match's org, even across all orgs.
    const one = buildSandboxUsagePipeline({ ...base, scope: { orgIds: null, sessions: new Map([["acme", ["s1"]]]) } })[0]!.$match;
    expect(one).toMatchObject({ org_id: "acme", session_id: { $in: ["s1"] } });
    // Several orgs: one clause per org.
    const two = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme", "globex"], sessions: new Map([["acme", ["s1"]], ["globex", ["s9"]]]) } })[0]!.$match;
    expect(two.$or).toEqual([{ org_id: "acme", session_id: { $in: ["s1"] } }, { org_id: "globex", session_id: { $in: ["s9"] } }]);
    // No sessions at all: nothing can match.
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], sessions: new Map() } })[0]!.$match.session_id).toEqual({ $in: [] });
  });

  it("densifies the page's buckets by the width's unit within [firstBucket, endBucket)", () => {
    const pipeline = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], sessions: null } });
    const densify = pipeline.find((s) => "$densify" in s)!.$densify;
    expect(densify).toEqual({ field: "start", range: { step: 1, unit: "hour", bounds: [base.firstBucket, base.endBucket] } });
    // Ungrouped dimensions are the literal null in every result.
    const push = pipeline.find((s) => s.$group?.results)!.$group.results.$push;
    expect(push.user_id).toBeNull();
    expect(push.provider).toBe("$_id.provider");
  });
});
