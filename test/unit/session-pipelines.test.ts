import { describe, expect, it } from "vitest";
import { buildSessionEndsPipeline, buildSessionStartsPipeline } from "../../src/pipelines/sessions.js";

describe("session derivation pipelines", () => {
  it("start with an equality on org_id and $in on session_id, the prefix of usage_events_org_session", () => {
    for (const pipeline of [buildSessionStartsPipeline("acme", ["a", "b"]), buildSessionEndsPipeline("acme", ["a", "b"])]) {
      expect(Object.keys(pipeline[0]!)).toEqual(["$match"]);
      expect(pipeline[0]!.$match).toMatchObject({ org_id: "acme", session_id: { $in: ["a", "b"] } });
    }
  });

  it("merge into sessions on the unique (org_id, session_id) key, never replacing blindly", () => {
    for (const pipeline of [buildSessionStartsPipeline("acme", ["a"]), buildSessionEndsPipeline("acme", ["a"])]) {
      const merge = pipeline[pipeline.length - 1]!.$merge;
      expect(merge).toMatchObject({ into: "sessions", on: ["org_id", "session_id"], whenNotMatched: "insert" });
      expect(Array.isArray(merge.whenMatched)).toBe(true);
    }
  });
});
