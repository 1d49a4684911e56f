import { beforeAll, describe, expect, it } from "vitest";
import type { Collection, Document } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";
import { docsExamined, indexesUsed, scansCollection } from "./explain-helpers.js";

/**
 * `explain` through the official driver: `find().explain()` and `aggregate().explain()` name the
 * index the query runs on, in MongoDB's shape, so tests can prove which index serves a query.
 * The sessions fixture carries the same indexes the application creates on `sessions`.
 */

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);
const ORGS = ["a", "b", "c"];
const N = 600;

interface Session {
  _id: string;
  org_id: string;
  session_id: string;
  user_id: string;
  sandbox_id: string;
  external_user_id: string | null;
  started_at: Date;
  ended_at: Date | null;
}

function makeSessions(): Session[] {
  const out: Session[] = [];
  for (let i = 0; i < N; i++) {
    const started = T0 + ((i * 7919) % 30) * DAY + i * 1000;
    out.push({
      _id: `s${i}`,
      org_id: ORGS[i % ORGS.length]!,
      session_id: `sess-${i}`,
      user_id: `u${i % 7}`,
      sandbox_id: `sb${i % 11}`,
      external_user_id: i % 5 === 0 ? null : `x${i % 4}`,
      started_at: new Date(started),
      // Every fourth session is still running (ended_at null); the rest ran for i % 3 days.
      ended_at: i % 4 === 0 ? null : new Date(started + (i % 3) * DAY + 60_000),
    });
  }
  return out;
}

const SESSIONS = makeSessions();

/** The application's overlap filter: started before `to`, and not ended before `from`. */
function overlapping(org: string, from: Date, to: Date): Document {
  return { org_id: org, started_at: { $lt: to }, $or: [{ ended_at: { $gte: from } }, { ended_at: null }] };
}

function ids(docs: Document[]): string[] {
  return docs.map((d) => String(d._id)).sort();
}

describe("embedded mongo: explain", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("explain");
  let sessions: Collection<Loose>;

  beforeAll(async () => {
    sessions = mongo.db.collection<Loose>("sessions");
    await sessions.insertMany(SESSIONS.map((s) => ({ ...s })));
    await sessions.createIndexes([
      { key: { org_id: 1, session_id: 1 }, name: "sessions_org_session_unique", unique: true },
      { key: { org_id: 1, started_at: 1 }, name: "sessions_org_started_at" },
      { key: { org_id: 1, user_id: 1, started_at: 1 }, name: "sessions_org_user_started_at" },
      { key: { org_id: 1, external_user_id: 1 }, name: "sessions_org_external_user" },
      { key: { org_id: 1, sandbox_id: 1, started_at: 1 }, name: "sessions_org_sandbox_started_at" },
    ]);
  });

  it("find: the application's overlap filter (with its $or) runs on {org_id, started_at}", async () => {
    const from = new Date(T0 + 10 * DAY);
    const to = new Date(T0 + 12 * DAY);
    const filter = overlapping("b", from, to);
    const explain = await sessions.find(filter).explain("queryPlanner");
    expect(explain.queryPlanner.namespace).toBe(`${mongo.dbName}.sessions`);
    expect(indexesUsed(explain)).toEqual(["sessions_org_started_at"]);
    expect(scansCollection(explain)).toBe(false);
    const expected = SESSIONS.filter((s) => s.org_id === "b" && s.started_at < to && (s.ended_at === null || s.ended_at >= from));
    expect(expected.length).toBeGreaterThan(5);
    expect(ids(await sessions.find(filter).toArray())).toEqual(ids(expected));
  });

  it("find: the plan's shape is MongoDB's (FETCH over IXSCAN with the index's key pattern)", async () => {
    const explain = await sessions.find({ org_id: "a", sandbox_id: "sb3" }).explain("queryPlanner");
    const plan = explain.queryPlanner.winningPlan as Document;
    // A real mongod may report the classic plan directly or under `queryPlan` (SBE).
    const root = (plan.queryPlan as Document | undefined) ?? plan;
    expect(root.stage).toBe("FETCH");
    expect(root.inputStage.stage).toBe("IXSCAN");
    expect(root.inputStage.indexName).toBe("sessions_org_sandbox_started_at");
    expect(root.inputStage.keyPattern).toEqual({ org_id: 1, sandbox_id: 1, started_at: 1 });
    expect(explain.ok).toBe(1);
  });

  it("find: {_id: {$in: [...]}} runs on _id_ and examines only those documents", async () => {
    const wanted = ["s3", "s77", "s410", "nope"];
    const explain = await sessions.find({ _id: { $in: wanted } }).explain("executionStats");
    expect(indexesUsed(explain)).toEqual(["_id_"]);
    expect(explain.executionStats.nReturned).toBe(3);
    expect(explain.executionStats.totalDocsExamined).toBe(3);
    expect(ids(await sessions.find({ _id: { $in: wanted } }).toArray())).toEqual(["s3", "s410", "s77"]);
  });

  it("find: a long $in (12,000 values) still runs on the index, alone or after an equality", async () => {
    const many = Array.from({ length: 12_000 }, (_, i) => `s${i * 3}`);
    const byId = { _id: { $in: many } };
    const wantIds = ids(SESSIONS.filter((s) => many.includes(s._id)));
    expect(ids(await sessions.find(byId).toArray())).toEqual(wantIds);
    expect(indexesUsed(await sessions.find(byId).explain("queryPlanner"))).toEqual(["_id_"]);

    const sessionIds = Array.from({ length: 12_000 }, (_, i) => `sess-${i * 2}`);
    const byOrgSession = { org_id: "a", session_id: { $in: sessionIds } };
    const want = ids(SESSIONS.filter((s) => s.org_id === "a" && sessionIds.includes(s.session_id)));
    expect(want.length).toBeGreaterThan(50);
    expect(ids(await sessions.find(byOrgSession).toArray())).toEqual(want);
    expect(indexesUsed(await sessions.find(byOrgSession).explain("queryPlanner"))).toEqual(["sessions_org_session_unique"]);
  });

  it("find: without a usable index the plan is a COLLSCAN that examines every document", async () => {
    const explain = await sessions.find({ user_id: "u3" }).explain("executionStats");
    expect(indexesUsed(explain)).toEqual([]);
    expect(scansCollection(explain)).toBe(true);
    expect(explain.executionStats.totalDocsExamined).toBe(N);
    expect(explain.executionStats.nReturned).toBe(SESSIONS.filter((s) => s.user_id === "u3").length);
  });

  it("find: sort, skip, limit and projection keep the index under them", async () => {
    const explain = await sessions
      .find({ org_id: "c", started_at: { $gte: new Date(T0 + 5 * DAY) } }, { projection: { org_id: 1 } })
      .sort({ started_at: -1 })
      .skip(2)
      .limit(3)
      .explain("queryPlanner");
    expect(indexesUsed(explain)).toEqual(["sessions_org_started_at"]);
  });

  it("find: the default verbosity (allPlansExecution) also reports what the run examined", async () => {
    const explain = await sessions.find({ org_id: "a", user_id: "u1" }).explain();
    expect(indexesUsed(explain)).toEqual(["sessions_org_user_started_at"]);
    const expected = SESSIONS.filter((s) => s.org_id === "a" && s.user_id === "u1").length;
    expect(explain.executionStats.nReturned).toBe(expected);
    expect(explain.executionStats.totalDocsExamined).toBe(expected);
  });

  it("aggregate: a lone $match explains like find; with more stages it sits in stages[0].$cursor", async () => {
    const match = { $match: { org_id: "a", external_user_id: "x1" } };
    const lone = await sessions.aggregate([match]).explain("queryPlanner");
    expect(indexesUsed(lone)).toEqual(["sessions_org_external_user"]);

    const grouped = await sessions.aggregate([match, { $group: { _id: "$user_id", n: { $sum: 1 } } }]).explain("queryPlanner");
    expect(indexesUsed(grouped)).toEqual(["sessions_org_external_user"]);
    if (Array.isArray(grouped.stages)) {
      // Without SBE pushdown (and always here), the leading $match is the first stage's $cursor.
      expect(indexesUsed(grouped.stages[0].$cursor)).toEqual(["sessions_org_external_user"]);
    }
  });

  it("aggregate: consecutive leading $match stages are planned together; $expr stays with the pipeline", async () => {
    const two = await sessions
      .aggregate([{ $match: { org_id: "b" } }, { $match: { sandbox_id: { $in: ["sb1", "sb2"] } } }, { $project: { _id: 1 } }])
      .explain("executionStats");
    expect(indexesUsed(two)).toEqual(["sessions_org_sandbox_started_at"]);
    const expected = SESSIONS.filter((s) => s.org_id === "b" && (s.sandbox_id === "sb1" || s.sandbox_id === "sb2")).length;
    expect(docsExamined(two)).toBe(expected);

    const expr = await sessions.aggregate([{ $match: { $expr: { $eq: ["$org_id", "b"] } } }, { $count: "n" }]).toArray();
    expect(expr).toEqual([{ n: N / 3 }]);

    // Beside $expr, the plain conditions of the same $match still pick the index.
    const mixed = [{ $match: { org_id: "b", $expr: { $eq: ["$user_id", "u2"] } } }, { $project: { _id: 1 } }];
    const mixedExplain = await sessions.aggregate(mixed).explain("executionStats");
    expect(scansCollection(mixedExplain)).toBe(false);
    expect(indexesUsed(mixedExplain)).toHaveLength(1);
    expect(docsExamined(mixedExplain)).toBe(N / 3);
    expect(ids(await sessions.aggregate(mixed).toArray())).toEqual(ids(SESSIONS.filter((s) => s.org_id === "b" && s.user_id === "u2")));
  });

  it("aggregate: explain: true on the aggregate command itself answers the plan, not a cursor", async () => {
    const reply = await mongo.db.command({ aggregate: "sessions", pipeline: [{ $match: { org_id: "c", session_id: "sess-2" } }], explain: true });
    expect(reply.ok).toBe(1);
    expect(reply.cursor).toBeUndefined();
    expect(indexesUsed(reply)).toEqual(["sessions_org_session_unique"]);
  });

  it("explain of a collection that does not exist answers a plan that reads nothing", async () => {
    const explain = await mongo.db.collection("missing").find({ a: 1 }).explain("executionStats");
    expect(explain.ok).toBe(1);
    expect(explain.executionStats.nReturned).toBe(0);
    expect(indexesUsed(explain)).toEqual([]);
  });
});
