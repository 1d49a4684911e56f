/**
 * User values (sandbox ids, org ids, tag keys and values, external user ids) inside pipelines:
 * MongoDB evaluates every value outside a query ($match without $expr) as an expression, so a
 * sandbox id "$x" would read a field and "$$NOW" would be a date. This walks each OpenComputer
 * pipeline built with hostile values and fails on any hostile string MongoDB would evaluate,
 * i.e. one not in a query or under $literal. (The embedded engine does not evaluate
 * `$documents`, so the REST tests alone would not catch a bare value there.)
 */
import type { Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { buildMemoryUsagePipeline } from "../../src/pipelines/memory.js";
import { buildSandboxQuantitiesPipeline, buildUsageAggregatePipeline } from "../../src/pipelines/usageAggregate.js";

const HOSTILE = ["$x", "$$NOW", "$$ROOT", "{$gt:1}", "$__hostile.path"];
const window = { from: new Date("2026-06-01T00:00:00Z"), to: new Date("2026-06-02T00:00:00Z") };
const now = new Date("2026-06-01T12:00:00Z");

/** Paths (for the message) of hostile strings in evaluated positions. */
function evaluatedHostiles(value: unknown, path: string, inQuery: boolean, out: string[]): string[] {
  if (typeof value === "string") {
    if (!inQuery && HOSTILE.includes(value)) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => evaluatedHostiles(v, `${path}[${i}]`, inQuery, out));
  } else if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value as Document)) {
      if (k === "$literal") continue;
      // $match is a query, except what $expr holds; a $lookup/$unionWith pipeline is a pipeline again.
      const query = k === "$match" ? true : k === "$expr" ? false : k === "pipeline" ? false : inQuery;
      evaluatedHostiles(v, `${path}.${k}`, query, out);
    }
  }
  return out;
}

const stages = (pipeline: Document[]) => evaluatedHostiles(pipeline, "pipeline", false, []);

describe("hostile user values are never evaluated as expressions", () => {
  for (const source of ["rollups", "raw"] as const) {
    it(`memory series (${source}), one and several sandboxes, on behalf of a hostile user`, () => {
      for (const ids of [[HOSTILE[0]!], HOSTILE]) {
        const { pipeline } = buildMemoryUsagePipeline({ source, orgId: "$$ROOT", sandboxIds: ids, window, now, externalUserId: "$x" });
        expect(stages(pipeline)).toStrictEqual([]);
      }
    });
  }

  it("aggregate by sandbox and by tag, with tag filters, and Sandbox.usage", () => {
    const base = { orgId: "$x", window, now, externalUserId: "$$NOW", sort: "memoryGbSeconds" as const, limit: 10, after: { v: 1, k: "$$ROOT" } };
    const filters = [{ key: "$x", values: ["$$NOW", ""] }];
    expect(stages(buildUsageAggregatePipeline({ ...base, groupBy: { kind: "sandbox" }, filters }))).toStrictEqual([]);
    expect(stages(buildUsageAggregatePipeline({ ...base, groupBy: { kind: "tag", key: "$__hostile.path" }, filters }))).toStrictEqual([]);
    expect(stages(buildSandboxQuantitiesPipeline({ orgId: "$x", sandboxIds: HOSTILE, window, now, externalUserId: "$$ROOT" }))).toStrictEqual([]);
  });
});
