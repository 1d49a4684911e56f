import { beforeAll, describe, expect, it } from "vitest";
import { type Collection, type Document, MongoServerError } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";
import { docsExamined, indexesUsed, scansCollection, stageNamed } from "./explain-helpers.js";

/**
 * `$unionWith` and `$lookup` read their collections through the index planner, like a pipeline's
 * leading `$match`. Each test runs the same pipeline before and after the index it needs exists
 * and requires identical results, checks them against answers computed here with plain loops,
 * and uses explain (executionStats) to show which index served the sub-pipeline and how many
 * documents it examined.
 */

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 4, 1);
const N_SESSIONS = 3_000;
const ORGS = ["o0", "o1", "o2", "o3", "o4"];
const SANDBOXES = 40;

interface Session {
  _id: string;
  org_id: string;
  sandbox_id: string;
  started_at: Date;
  ended_at: Date | null;
  memory_mb: number;
}

/** Sandbox `sb{k}` belongs to org `o{k % 5}`; sessions are spread over 3,000 minutes. */
const SESSIONS: Session[] = Array.from({ length: N_SESSIONS }, (_, i) => {
  const sb = (i * 7) % SANDBOXES;
  const started = T0 + i * MINUTE;
  return {
    _id: `s${i}`,
    org_id: ORGS[sb % ORGS.length]!,
    sandbox_id: `sb${sb}`,
    started_at: new Date(started),
    ended_at: i % 6 === 0 ? null : new Date(started + (i % 50) * MINUTE),
    memory_mb: 256 * (1 + (i % 4)),
  };
});

interface Item {
  _id: string;
  code: unknown;
  label: string;
  at?: Date;
  meta?: { tier: string };
}

/** The foreign side of the joins: `code` takes strings, numbers, null, a missing field and dates. */
const ITEMS: Item[] = [
  ...Array.from({ length: 500 }, (_, i) => ({ _id: `i${i}`, code: `c${i % 200}`, label: `item ${i}`, meta: { tier: i % 2 ? "pro" : "free" } })),
  { _id: "n1", code: 7, label: "seven" },
  { _id: "n2", code: 7.5, label: "seven and a half" },
  { _id: "z1", code: null, label: "null code" },
  { _id: "z2", label: "no code" } as Item,
  { _id: "d1", code: new Date(T0), label: "a date", at: new Date(T0) },
];

interface Order {
  _id: string;
  ref?: unknown;
  day?: Date;
}

const ORDERS: Order[] = [
  { _id: "r-one", ref: "c5" },
  { _id: "r-none", ref: "c999" },
  { _id: "r-array", ref: ["c1", "zzz", "c2", "c1"] },
  { _id: "r-missing" },
  { _id: "r-null", ref: null },
  { _id: "r-number", ref: 7 },
  { _id: "r-date", ref: new Date(T0) },
  { _id: "r-mixed", ref: ["c3", 7.5] },
  { _id: "r-object", ref: { not: "a code" } },
  ...Array.from({ length: 60 }, (_, i) => ({ _id: `r${i}`, ref: `c${(i * 13) % 230}` })),
];

/** MongoDB's localField/foreignField match: equal values, an array local value matching by element, missing as null. */
function joinExpected(order: Order): string[] {
  const local = order.ref === undefined ? null : order.ref;
  const wanted = Array.isArray(local) ? local : [local];
  const same = (a: unknown, b: unknown) => (a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b);
  return ITEMS.filter((it) => wanted.some((w) => same(w, it.code === undefined ? null : it.code))).map((it) => it._id).sort();
}

function sortedIds(docs: unknown): string[] {
  return (docs as Document[]).map((d) => String(d._id)).sort();
}

/** The first `$unionWith` (or other) stage of an aggregate explain. */
function stage(explain: Document, name: string): Document {
  const s = stageNamed(explain, name);
  expect(s, `${name} in explain`).toBeDefined();
  return s!;
}

describe("embedded mongo: indexes inside $unionWith and $lookup", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("subpipelines");
  let sessions: Collection<Loose>;
  let items: Collection<Loose>;
  let orders: Collection<Loose>;
  let probes: Collection<Loose>;

  beforeAll(async () => {
    sessions = mongo.db.collection<Loose>("sessions");
    items = mongo.db.collection<Loose>("items");
    orders = mongo.db.collection<Loose>("orders");
    probes = mongo.db.collection<Loose>("probes");
    await sessions.insertMany(SESSIONS.map((s) => ({ ...s })));
    await items.insertMany(ITEMS.map((i) => ({ ...i })));
    await orders.insertMany(ORDERS.map((o) => ({ ...o })));
    await probes.insertMany([{ _id: "p1", kind: "probe" }, { _id: "p2", kind: "probe" }]);
  });

  describe("$unionWith", () => {
    const D = new Date(T0 + 2_000 * MINUTE);
    const sub = [{ $match: { org_id: "o2", sandbox_id: "sb7", started_at: { $lt: D } } }, { $project: { _id: 1, mb: "$memory_mb" } }];
    const expected = SESSIONS.filter((s) => s.org_id === "o2" && s.sandbox_id === "sb7" && s.started_at < D);
    const pipeline = [{ $match: { _id: "p1" } }, { $unionWith: { coll: "union_sessions", pipeline: sub } }];

    it("answers the same before and after the index exists; with it, examines only what matches", async () => {
      const coll = mongo.db.collection<Loose>("union_sessions");
      await coll.insertMany(SESSIONS.map((s) => ({ ...s })));
      expect(expected.length).toBeGreaterThan(10);

      const before = await probes.aggregate(pipeline).toArray();
      // The input comes first, then the sub-pipeline's documents.
      expect(before[0]).toEqual({ _id: "p1", kind: "probe" });
      expect(sortedIds(before.slice(1))).toEqual(sortedIds(expected));
      expect(before.slice(1).every((d) => Object.keys(d).join() === "_id,mb")).toBe(true);
      const scanned = stage(await probes.aggregate(pipeline).explain("executionStats"), "$unionWith");
      expect(indexesUsed(scanned)).toEqual([]);
      expect(scansCollection(scanned)).toBe(true);
      expect(docsExamined(scanned)).toBe(N_SESSIONS);

      await coll.createIndex({ org_id: 1, sandbox_id: 1, started_at: 1 }, { name: "by_org_sandbox_start" });
      const after = await probes.aggregate(pipeline).toArray();
      expect(after[0]).toEqual(before[0]);
      expect(sortedIds(after.slice(1))).toEqual(sortedIds(before.slice(1)));
      expect(after.map((d) => d.mb).sort()).toEqual(before.map((d) => d.mb).sort());

      const indexed = stage(await probes.aggregate(pipeline).explain("executionStats"), "$unionWith");
      expect(indexesUsed(indexed)).toEqual(["by_org_sandbox_start"]);
      expect(scansCollection(indexed)).toBe(false);
      expect(docsExamined(indexed)).toBe(expected.length);
      expect(indexed.$unionWith.pipeline[0].$cursor.executionStats.nReturned).toBe(expected.length);
      // queryPlanner verbosity names the index too, without running anything.
      expect(indexesUsed(await probes.aggregate(pipeline).explain("queryPlanner"))).toEqual(["_id_", "by_org_sandbox_start"]);
    });

    it("the application's shape: sandbox $in, overlap $or, then $project and $group", async () => {
      const from = new Date(T0 + 500 * MINUTE);
      const to = new Date(T0 + 900 * MINUTE);
      const sbs = ["sb2", "sb12", "sb22"];
      const match = { org_id: "o2", sandbox_id: { $in: sbs }, started_at: { $lt: to }, $or: [{ ended_at: { $gte: from } }, { ended_at: null }] };
      const p = [
        { $match: { _id: { $in: [] } } },
        { $unionWith: { coll: "sessions", pipeline: [{ $match: match }, { $project: { _id: 0, sb: "$sandbox_id", mb: "$memory_mb" } }] } },
        { $group: { _id: "$sb", n: { $sum: 1 }, mb: { $sum: "$mb" } } },
        { $sort: { _id: 1 } },
      ];
      const hits = SESSIONS.filter((s) => s.org_id === "o2" && sbs.includes(s.sandbox_id) && s.started_at < to && (s.ended_at === null || s.ended_at >= from));
      const want = sbs
        .map((sb) => ({ _id: sb, n: hits.filter((h) => h.sandbox_id === sb).length, mb: hits.filter((h) => h.sandbox_id === sb).reduce((t, h) => t + h.memory_mb, 0) }))
        .filter((r) => r.n > 0)
        .sort((a, b) => (a._id < b._id ? -1 : 1));
      expect(want.length).toBeGreaterThan(1);

      const before = await probes.aggregate(p).toArray();
      expect(before).toEqual(want);
      await sessions.createIndex({ org_id: 1, sandbox_id: 1, started_at: 1 }, { name: "sessions_org_sandbox_started_at" });
      await sessions.createIndex({ org_id: 1, started_at: 1 }, { name: "sessions_org_started_at" });
      expect(await probes.aggregate(p).toArray()).toEqual(want);
      const explain = await probes.aggregate(p).explain("executionStats");
      expect(indexesUsed(stage(explain, "$unionWith"))).toEqual(["sessions_org_sandbox_started_at"]);
      // Only the chosen sandboxes' sessions started before `to` are read, not the org's or the collection.
      const inRange = SESSIONS.filter((s) => s.org_id === "o2" && sbs.includes(s.sandbox_id) && s.started_at < to).length;
      expect(docsExamined(stage(explain, "$unionWith"))).toBe(inRange);
    });

    it("a $unionWith nested in a $unionWith reads its own collection's index", async () => {
      await items.createIndex({ code: 1 }, { name: "items_code" });
      const p = [
        { $match: { _id: "p2" } },
        {
          $unionWith: {
            coll: "orders",
            pipeline: [
              { $match: { _id: { $in: ["r-one", "r-date"] } } },
              { $unionWith: { coll: "items", pipeline: [{ $match: { code: { $in: ["c4", 7] } } }, { $project: { label: 1 } }] } },
            ],
          },
        },
      ];
      const out = await probes.aggregate(p).toArray();
      // The input, then the outer sub-pipeline's documents, then the inner one's.
      expect(out[0]!._id).toBe("p2");
      expect(sortedIds(out.slice(1, 3))).toEqual(["r-date", "r-one"]);
      expect(sortedIds(out.slice(3))).toEqual(ITEMS.filter((i) => i.code === "c4" || i.code === 7).map((i) => i._id).sort());
      expect(out.slice(3).every((d) => typeof d.label === "string" && d.code === undefined)).toBe(true);
      const explain = await probes.aggregate(p).explain("executionStats");
      const outer = stage(explain, "$unionWith");
      const inner = stageNamed(outer.$unionWith.pipeline, "$unionWith");
      expect(indexesUsed(inner)).toEqual(["items_code"]);
      expect(docsExamined(inner)).toBe(out.length - 3);
      expect(indexesUsed(outer.$unionWith.pipeline[0])).toEqual(["_id_"]);
    });

    it("a $count over nothing adds nothing, as in MongoDB", async () => {
      const out = await probes
        .aggregate([{ $match: { _id: "p1" } }, { $unionWith: { coll: "sessions", pipeline: [{ $match: { org_id: "nobody" } }, { $count: "n" }] } }])
        .toArray();
      expect(out).toEqual([{ _id: "p1", kind: "probe" }]);
    });
  });

  describe("$lookup localField/foreignField", () => {
    const pipeline = [
      { $lookup: { from: "join_items", localField: "ref", foreignField: "code", as: "hits" } },
      { $project: { hits: { _id: 1 } } },
    ];

    it("joins through an index on foreignField, with the same answers as without it", async () => {
      const coll = mongo.db.collection<Loose>("join_items");
      await coll.insertMany(ITEMS.map((i) => ({ ...i })));

      const before = await orders.aggregate(pipeline).toArray();
      const scanned = stage(await orders.aggregate(pipeline).explain("executionStats"), "$lookup");
      expect(indexesUsed(scanned)).toEqual([]);
      expect(scansCollection(scanned)).toBe(true);

      await coll.createIndex({ code: 1 }, { name: "join_items_code" });
      const after = await orders.aggregate(pipeline).toArray();
      expect(after).toEqual(before);
      const indexed = stage(await orders.aggregate(pipeline).explain("executionStats"), "$lookup");
      expect(indexesUsed(indexed)).toEqual(["join_items_code"]);

      // MongoDB's answers, computed here; the order within `hits` is not part of them.
      for (const order of ORDERS) {
        const row = after.find((r) => r._id === order._id)!;
        expect(sortedIds(row.hits), order._id).toEqual(joinExpected(order));
      }
      // Spot checks of the rules: an array matches by element, missing and null match null and missing.
      expect(sortedIds(after.find((r) => r._id === "r-missing")!.hits)).toEqual(["z1", "z2"]);
      expect(sortedIds(after.find((r) => r._id === "r-mixed")!.hits)).toEqual(["i203", "i3", "i403", "n2"]);
      expect(sortedIds(after.find((r) => r._id === "r-date")!.hits)).toEqual(["d1"]);
      expect(after.find((r) => r._id === "r-none")!.hits).toEqual([]);
    });

    it("looks up by _id through _id_, examining only the documents it joins", async () => {
      const p = [
        { $match: { _id: { $in: ["r1", "r2", "r3"] } } },
        { $set: { item: { $concat: ["i", { $substrCP: ["$_id", 1, 5] }] } } },
        { $lookup: { from: "items", localField: "item", foreignField: "_id", as: "byId" } },
        { $sort: { _id: 1 } },
      ];
      const out = await orders.aggregate(p).toArray();
      expect(out.map((o) => [o._id, sortedIds(o.byId)])).toEqual([["r1", ["i1"]], ["r2", ["i2"]], ["r3", ["i3"]]]);
      const explain = stage(await orders.aggregate(p).explain("executionStats"), "$lookup");
      expect(indexesUsed(explain)).toEqual(["_id_"]);
      expect(explain.totalDocsExamined).toBe(3);
    });

    it("the concise form's pipeline runs over the joined documents only, with let variables", async () => {
      await items.createIndex({ code: 1 }, { name: "items_code" });
      const p = [
        { $match: { _id: { $in: ["r-one", "r-array", "r-none", "r-number"] } } },
        {
          $lookup: {
            from: "items",
            localField: "ref",
            foreignField: "code",
            let: { who: "$_id" },
            pipeline: [{ $project: { _id: 1, who: "$$who" } }],
            as: "hits",
          },
        },
        { $sort: { _id: 1 } },
      ];
      const out = await orders.aggregate(p).toArray();
      for (const row of out) {
        const order = ORDERS.find((o) => o._id === row._id)!;
        expect(sortedIds(row.hits), order._id).toEqual(joinExpected(order));
        expect((row.hits as Document[]).every((h) => h.who === order._id)).toBe(true);
      }
      expect(indexesUsed(stage(await orders.aggregate(p).explain("executionStats"), "$lookup"))).toEqual(["items_code"]);
    });

    it("a multikey foreignField is joined by scanning, with the same answers", async () => {
      const tagged = mongo.db.collection<Loose>("tagged");
      await tagged.insertMany([{ _id: "t1", tags: ["c1", "c5"] }, { _id: "t2", tags: "c5" }, { _id: "t3", tags: [] }, { _id: "t4" }]);
      const p = [{ $match: { _id: { $in: ["r-one", "r-missing", "r-array"] } } }, { $lookup: { from: "tagged", localField: "ref", foreignField: "tags", as: "t" } }, { $sort: { _id: 1 } }];
      const before = await orders.aggregate(p).toArray();
      await tagged.createIndex({ tags: 1 });
      expect(await orders.aggregate(p).toArray()).toEqual(before);
      expect(before.map((o) => [o._id, sortedIds(o.t)])).toEqual([["r-array", ["t1"]], ["r-missing", ["t4"]], ["r-one", ["t1", "t2"]]]);
    });
  });

  describe("$lookup with a pipeline", () => {
    it("reads the pipeline's leading $match from an index once, then applies let per document", async () => {
      const coll = mongo.db.collection<Loose>("piped_sessions");
      await coll.insertMany(SESSIONS.map((s) => ({ ...s })));
      const p = [
        { $match: { _id: { $in: ["r1", "r2", "r3", "r4"] } } },
        {
          $lookup: {
            from: "piped_sessions",
            let: { me: "$_id" },
            pipeline: [
              { $match: { org_id: "o3", sandbox_id: "sb3" } },
              { $match: { $expr: { $lt: ["$memory_mb", 700] } } },
              { $group: { _id: null, n: { $sum: 1 }, who: { $first: "$$me" } } },
            ],
            as: "agg",
          },
        },
        { $sort: { _id: 1 } },
      ];
      const n = SESSIONS.filter((s) => s.org_id === "o3" && s.sandbox_id === "sb3" && s.memory_mb < 700).length;
      const want = ["r1", "r2", "r3", "r4"].map((id) => ({ _id: id, agg: [{ _id: null, n, who: id }] }));

      const before = (await orders.aggregate(p).toArray()).map((o) => ({ _id: o._id, agg: o.agg }));
      expect(before).toEqual(want);
      const scanned = stage(await orders.aggregate(p).explain("executionStats"), "$lookup");
      expect(scansCollection(scanned)).toBe(true);

      await coll.createIndex({ org_id: 1, sandbox_id: 1 }, { name: "piped_org_sandbox" });
      const after = (await orders.aggregate(p).toArray()).map((o) => ({ _id: o._id, agg: o.agg }));
      expect(after).toEqual(want);
      const indexed = stage(await orders.aggregate(p).explain("executionStats"), "$lookup");
      expect(indexesUsed(indexed)).toEqual(["piped_org_sandbox"]);
      const examined = SESSIONS.filter((s) => s.org_id === "o3" && s.sandbox_id === "sb3").length;
      // Four input documents, one read of the index.
      expect(indexed.totalDocsExamined).toBe(examined);
    });

    it("a leading $match that compares with $$variables still sees each document's variables", async () => {
      const p = [
        { $match: { _id: { $in: ["r-one", "r-number"] } } },
        { $lookup: { from: "items", let: { r: "$ref" }, pipeline: [{ $match: { $expr: { $eq: ["$code", "$$r"] } } }, { $project: { _id: 1 } }], as: "hits" } },
        { $sort: { _id: 1 } },
      ];
      const out = await orders.aggregate(p).toArray();
      expect(out.map((o) => [o._id, sortedIds(o.hits)])).toEqual([
        ["r-number", ["n1"]],
        ["r-one", joinExpected(ORDERS[0]!)],
      ]);
    });

    it("$facet sub-pipelines use the indexes too", async () => {
      await items.createIndex({ code: 1 }, { name: "items_code" });
      await sessions.createIndex({ org_id: 1, sandbox_id: 1, started_at: 1 }, { name: "sessions_org_sandbox_started_at" });
      const p = [
        { $match: { _id: "p1" } },
        {
          $facet: {
            items: [{ $lookup: { from: "items", localField: "_id", foreignField: "code", as: "none" } }, { $project: { n: { $size: "$none" } } }],
            sessions: [{ $unionWith: { coll: "sessions", pipeline: [{ $match: { org_id: "o1", sandbox_id: "sb1" } }] } }, { $count: "n" }],
          },
        },
      ];
      const out = await probes.aggregate(p).toArray();
      expect(out).toEqual([{ items: [{ _id: "p1", n: 0 }], sessions: [{ n: 1 + SESSIONS.filter((s) => s.org_id === "o1" && s.sandbox_id === "sb1").length }] }]);
      expect(indexesUsed(await probes.aggregate(p).explain("executionStats"))).toEqual(["_id_", "items_code", "sessions_org_sandbox_started_at"]);
    });
  });

  describe("copies and time limits", () => {
    it("a pipeline writing into nested fields of joined or unioned documents leaves the stored ones alone", async () => {
      const stored = await items.find({ _id: { $in: ["i1", "i2"] } }).sort({ _id: 1 }).toArray();
      const viaLookup = await orders
        .aggregate([{ $match: { _id: "r-array" } }, { $lookup: { from: "items", localField: "ref", foreignField: "code", as: "j" } }, { $unwind: "$j" }, { $set: { "j.meta.tier": "changed" } }])
        .toArray();
      expect(viaLookup.length).toBeGreaterThan(0);
      expect(viaLookup.every((d) => d.j.meta.tier === "changed")).toBe(true);
      const viaUnion = await probes
        .aggregate([{ $match: { _id: "none" } }, { $unionWith: { coll: "items", pipeline: [{ $match: { code: { $in: ["c1", "c2"] } } }, { $set: { "meta.tier": "changed" } }] } }])
        .toArray();
      expect(viaUnion.length).toBeGreaterThan(0);
      expect(viaUnion.every((d) => d.meta.tier === "changed")).toBe(true);
      expect(await items.find({ _id: { $in: ["i1", "i2"] } }).sort({ _id: 1 }).toArray()).toEqual(stored);
      expect(await items.countDocuments({ "meta.tier": "changed" })).toBe(0);
    });

    it("maxTimeMS stops work that multiplies inside a $unionWith or $lookup sub-pipeline", async () => {
      const explode = [{ $set: { r: { $range: [0, 400] } } }, { $unwind: "$r" }, { $group: { _id: "$r", n: { $sum: 1 } } }];
      const viaUnion = await probes
        .aggregate([{ $unionWith: { coll: "sessions", pipeline: [{ $match: { org_id: { $in: ORGS } } }, ...explode] } }], { maxTimeMS: 20 })
        .toArray()
        .catch((e: unknown) => e);
      expect(viaUnion).toBeInstanceOf(MongoServerError);
      expect((viaUnion as MongoServerError).code).toBe(50);
      const viaLookup = await probes
        .aggregate([{ $lookup: { from: "sessions", pipeline: [{ $match: { org_id: { $in: ORGS } } }, ...explode], as: "x" } }], { maxTimeMS: 20 })
        .toArray()
        .catch((e: unknown) => e);
      expect(viaLookup).toBeInstanceOf(MongoServerError);
      expect((viaLookup as MongoServerError).code).toBe(50);
    });
  });
});
