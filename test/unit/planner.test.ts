import { describe, expect, it } from "vitest";
import { Index } from "../../src/embedded/engine/indexes.js";
import { planFilter } from "../../src/embedded/engine/planner.js";

const byOrgTypeTs = new Index({ name: "org_type_ts", key: { org_id: 1, type: 1, ts: 1 } });
const byOrgSession = new Index({ name: "org_session", key: { org_id: 1, session_id: 1 } });
const byId = new Index({ name: "_id_", key: { _id: 1 }, unique: true });

describe("embedded query planner", () => {
  it("uses the index whose prefix the filter pins down furthest", () => {
    const plan = planFilter({ org_id: "acme", type: "op", ts: { $gte: new Date(0), $lt: new Date(1) } }, [byId, byOrgSession, byOrgTypeTs]);
    expect(plan?.index.name).toBe("org_type_ts");
    expect(plan?.bounds).toHaveLength(3);
    const sessions = planFilter({ org_id: "acme", session_id: { $in: ["a", "b"] } }, [byId, byOrgSession, byOrgTypeTs]);
    expect(sessions?.index.name).toBe("org_session");
  });

  it("finds conditions inside a top-level $and", () => {
    const plan = planFilter({ $and: [{ org_id: "acme" }, { session_id: "s" }] }, [byOrgTypeTs, byOrgSession]);
    expect(plan?.index.name).toBe("org_session");
  });

  it("scans nothing it cannot bound: regexes, $ne, $or and missing prefixes", () => {
    expect(planFilter({ org_id: /ac/ }, [byOrgTypeTs])).toBeNull();
    expect(planFilter({ org_id: { $ne: "x" } }, [byOrgTypeTs])).toBeNull();
    expect(planFilter({ $or: [{ org_id: "a" }] }, [byOrgTypeTs])).toBeNull();
    expect(planFilter({ type: "op" }, [byOrgTypeTs])).toBeNull();
  });

  it("returns records in index order from an index scan, ranges inclusive", () => {
    const ix = new Index({ name: "ts", key: { org_id: 1, ts: 1 } });
    const docs = [
      { org_id: "a", ts: 5 },
      { org_id: "a", ts: 1 },
      { org_id: "b", ts: 3 },
      { org_id: "a", ts: 9 },
    ];
    docs.forEach((d, rid) => ix.add(ix.keysOf(d), rid));
    expect(ix.scan([{ points: ["a"] }, { low: 1, high: 5 }])).toEqual([1, 0]);
    expect(ix.scan([{ points: ["a", "b"] }])).toEqual([1, 0, 3, 2]);
  });
});
