import { describe, expect, it } from "vitest";
import { buildSandboxUsagePipeline } from "../../src/pipelines/sandboxUsage.js";

const base = {
  width: "1h" as const,
  groupBy: ["provider" as const],
  from: new Date("2026-05-27T10:30:00Z"),
  to: new Date("2026-05-27T13:00:00Z"),
  boundaries: [Date.parse("2026-05-27T10:00:00Z"), Date.parse("2026-05-27T11:00:00Z"), Date.parse("2026-05-27T12:00:00Z"), Date.parse("2026-05-27T13:00:00Z")],
  timeZone: "UTC",
};

describe("buildSandboxUsagePipeline (raw events)", () => {
  it("opens with an index-served $match: org equality, operation type, half-open time range", () => {
    const [first] = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], externalUserId: null } });
    expect(first).toEqual({ $match: { org_id: "acme", type: "sandbox.operation", ts: { $gte: base.from, $lt: base.to } } });
  });

  it("uses $in for several orgs and no org for all orgs", () => {
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["a", "b"], externalUserId: null } })[0]!.$match.org_id).toEqual({ $in: ["a", "b"] });
    expect(buildSandboxUsagePipeline({ ...base, scope: { orgIds: null, externalUserId: null } })[0]!.$match.org_id).toBeUndefined();
  });

  it("restricts to an external user by looking each session up, never by inlining session ids", () => {
    const pipeline = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], externalUserId: "u-1" } });
    expect(JSON.stringify(pipeline)).not.toContain("$in");
    expect(pipeline[1]!.$lookup.from).toBe("sessions");
    expect(pipeline[2]).toEqual({ $match: { "session.external_user_id": "u-1" } });
  });

  it("counts distinct sessions by grouping twice (no set of ids is ever built) and emits rows, not buckets", () => {
    const pipeline = buildSandboxUsagePipeline({ ...base, scope: { orgIds: ["acme"], externalUserId: null } });
    const text = JSON.stringify(pipeline);
    expect(text).not.toMatch(/\$push|\$addToSet|\$densify/);
    const groups = pipeline.filter((s) => s.$group);
    expect(groups).toHaveLength(2);
    expect(groups[0]!.$group._id).toMatchObject({ o: "$org_id", s: "$session_id" });
    expect(groups[1]!.$group.num_sessions).toEqual({ $sum: 1 });
    // Buckets come from the page's own boundaries (equal hours here: a step from the first).
    const first = new Date(base.boundaries[0]!);
    expect(groups[0]!.$group._id.bucket).toEqual({ $add: [first, { $multiply: [{ $floor: { $divide: [{ $subtract: ["$ts", first] }, 3_600_000] } }, 3_600_000] }] });
  });
});
