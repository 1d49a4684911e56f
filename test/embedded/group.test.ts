/**
 * `$group` (src/embedded/engine/operators/group.ts), against MongoDB's documented semantics
 * through the driver, and against mingo's own `$group` in-process on random documents and
 * specifications (fixed seed), where the two agree by design.
 *
 * Where the engine deliberately follows MongoDB rather than mingo (and so the differential test
 * adapts mingo's side or does not generate the case):
 * - `$push`/`$addToSet` skip missing values (mingo adds null);
 * - numbers are equal across int/double/Long/Decimal128 (mingo: a Long is not the number), objects
 *   are equal only with their fields in the same order (mingo ignores the order);
 * - `$sum`/`$avg` use compensated summation and add Long and Decimal128 values (mingo adds JS
 *   numbers naively and ignores the others); `$min`/`$max` compare in BSON order (mingo orders
 *   arrays and objects its own way);
 * - `_id: {a: <expr>}` with a single field that is missing is `{a: null}` and groups with null;
 *   a missing element of an array `_id` is null.
 */
import { deserialize, serialize } from "bson";
import fc from "fast-check";
import { Aggregator } from "mingo/aggregator";
import { $group as mingoGroup } from "mingo/operators/pipeline";
// BSON values through the driver are the driver's own classes (its CommonJS copy of bson).
import { Binary, Decimal128, Double, Int32, Long, ObjectId, type Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { optionsWithStages, queryOptions } from "../../src/embedded/engine/mingo-options.js";
import type { Doc } from "../../src/embedded/engine/paths.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const T0 = Date.UTC(2026, 4, 27, 10);
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

describe("$group through the driver", () => {
  const mongo = useTestMongo("group");
  let n = 0;
  /** A fresh collection holding `docs` (without _id: the server assigns them), aggregated with `pipeline`. */
  const run = async (docs: Loose[], pipeline: Document[], options: Document = {}) => {
    const coll = mongo.db.collection<Loose>(`g${n++}`);
    if (docs.length > 0) await coll.insertMany(docs.map((d) => ({ ...d })));
    return coll.aggregate(pipeline, options).toArray();
  };
  const group = (docs: Loose[], spec: Document, options: Document = {}) => run(docs, [{ $group: spec }], options);
  const one = async (docs: Loose[], field: Document) => {
    const got = await group(docs, { _id: null, v: field });
    expect(got).toHaveLength(1);
    return got[0]!.v;
  };

  describe("$sum", () => {
    it("adds numbers and ignores every other value", async () => {
      const docs = [{ v: 1 }, { v: 2.5 }, { v: "3" }, { v: null }, {}, { v: true }, { v: at(0) }, { v: [4] }, { v: { x: 5 } }];
      expect(await one(docs, { $sum: "$v" })).toBe(3.5);
      expect(await one([{ v: "x" }, {}], { $sum: "$v" })).toBe(0);
    });

    it("counts with a constant, and sums the constant", async () => {
      const docs = [{ v: 1 }, {}, { v: null }];
      expect(await one(docs, { $sum: 1 })).toBe(3);
      expect(await one(docs, { $sum: 2 })).toBe(6);
      expect(await one(docs, { $sum: "x" })).toBe(0);
    });

    it("sums doubles without the error of naive addition", async () => {
      // 0.1 + 0.2 + 0.3 is 0.6000000000000001 added naively; MongoDB's double-double sum gives 0.6.
      expect(await one([{ v: 0.1 }, { v: 0.2 }, { v: 0.3 }], { $sum: "$v" })).toBe(0.6);
      expect(await one([{ v: 5 }, { v: 99 }, { v: 0.2 }], { $sum: "$v" })).toBe(104.2);
    });

    it("adds Int32, Double and Long values, answering a Long when Longs and ints were added", async () => {
      const raw = { promoteLongs: false };
      const ints = [{ v: new Int32(5) }, { v: Long.fromString("9007199254740993") }, { v: Long.fromNumber(2) }];
      const got = await one(ints, { $sum: "$v" });
      // Exact: 5 + 9007199254740993 + 2 (past 2^53, where doubles would lose the odd units).
      expect(got).toBeInstanceOf(Long);
      expect((got as Long).toString()).toBe("9007199254741000");
      const [small] = await group([{ v: Long.fromNumber(2) }, { v: 3 }], { _id: null, v: { $sum: "$v" } }, raw);
      expect(small!.v).toBeInstanceOf(Long);
      expect((small!.v as Long).toNumber()).toBe(5);
      const [mixed] = await group([{ v: Long.fromNumber(2) }, { v: new Double(0.5) }, { v: new Int32(1) }], { _id: null, v: { $sum: "$v" } }, raw);
      expect(mixed!.v).toBe(3.5);
    });

    it("adds Decimal128 values as decimals", async () => {
      const got = await one([{ v: Decimal128.fromString("0.1") }, { v: Decimal128.fromString("0.2") }, { v: 1 }], { $sum: "$v" });
      expect(got).toBeInstanceOf(Decimal128);
      expect(Number((got as Decimal128).toString())).toBe(1.3);
    });

    it("answers NaN when a NaN is added, and infinities as doubles do", async () => {
      expect(await one([{ v: 1 }, { v: NaN }], { $sum: "$v" })).toBeNaN();
      expect(await one([{ v: Infinity }, { v: 1 }], { $sum: "$v" })).toBe(Infinity);
      expect(await one([{ v: Infinity }, { v: -Infinity }], { $sum: "$v" })).toBeNaN();
    });
  });

  describe("$avg", () => {
    it("averages the numbers only, and is null without any", async () => {
      expect(await one([{ v: 1 }, { v: 2 }, { v: "9" }, {}, { v: null }], { $avg: "$v" })).toBe(1.5);
      expect(await one([{ v: "9" }, {}], { $avg: "$v" })).toBeNull();
      expect(await one([{ v: Long.fromNumber(3) }, { v: new Int32(4) }, { v: 0.5 }], { $avg: "$v" })).toBe(2.5);
      const dec = await one([{ v: Decimal128.fromString("-1234567890.1234567889") }, { v: Decimal128.fromString("-1234567890.1234567891") }], { $avg: "$v" });
      expect((dec as Decimal128).toString()).toBe("-1234567890.1234567890");
      const mixed = await one([{ v: Decimal128.fromString("1") }, { v: 2 }], { $avg: "$v" });
      expect(mixed).toBeInstanceOf(Decimal128);
      expect(Number((mixed as Decimal128).toString())).toBe(1.5);
    });
  });

  describe("$min and $max", () => {
    it("ignore null and missing, and are null when nothing else is there", async () => {
      const docs = [{ v: null }, {}, { v: 3 }, { v: -1 }];
      expect(await one(docs, { $min: "$v" })).toBe(-1);
      expect(await one(docs, { $max: "$v" })).toBe(3);
      expect(await one([{ v: null }, {}], { $min: "$v" })).toBeNull();
      expect(await one([{ v: null }, {}], { $max: "$v" })).toBeNull();
    });

    it("compare across types in BSON order", async () => {
      const oid = new ObjectId("65a000000000000000000001");
      const docs = [{ v: true }, { v: "b" }, { v: [0] }, { v: { x: 1 } }, { v: 5 }, { v: at(1) }, { v: oid }, { v: Long.fromNumber(7) }];
      expect(await one(docs, { $min: "$v" })).toBe(5);
      expect(await one(docs, { $max: "$v" })).toEqual(at(1));
      // objects < arrays < ObjectId < booleans < dates
      expect(await one(docs.slice(1, 4), { $max: "$v" })).toEqual([0]);
      expect(await one([{ v: oid }, { v: [9] }], { $max: "$v" })).toEqual(oid);
      expect(await one([{ v: 7 }, { v: Long.fromNumber(8) }, { v: 7.5 }], { $max: "$v" })).toBe(8);
      expect(await one([{ v: at(2) }, { v: at(-3) }, { v: at(1) }], { $min: "$v" })).toEqual(at(-3));
      expect(await one([{ v: [1, 5] }, { v: [2] }], { $max: "$v" })).toEqual([2]);
    });

    it("keep the first of equal values", async () => {
      const raw = { promoteLongs: false };
      const [got] = await group([{ v: Long.fromNumber(2) }, { v: 2 }, { v: 1 }], { _id: null, min: { $min: "$v" }, max: { $max: "$v" } }, raw);
      expect(got!.min).toBe(1);
      expect(got!.max).toBeInstanceOf(Long);
    });
  });

  describe("$first and $last", () => {
    it("answer the first and last document's value, null when it is missing, arrays whole", async () => {
      const docs = [{ i: 0, v: [1, 2] }, { i: 1, v: 5 }, { i: 2 }];
      const [got] = await run(docs, [{ $sort: { i: 1 } }, { $group: { _id: null, f: { $first: "$v" }, l: { $last: "$v" }, li: { $last: "$i" } } }]);
      expect(got).toEqual({ _id: null, f: [1, 2], l: null, li: 2 });
      const [rev] = await run(docs, [{ $sort: { i: -1 } }, { $group: { _id: null, f: { $first: "$v" } } }]);
      expect(rev!.f).toBeNull();
    });
  });

  describe("$push and $addToSet", () => {
    it("$push keeps every value in input order, null included and missing left out", async () => {
      const docs = [{ i: 0, v: 2 }, { i: 1 }, { i: 2, v: null }, { i: 3, v: [1] }, { i: 4, v: 2 }];
      const [got] = await run(docs, [{ $sort: { i: 1 } }, { $group: { _id: null, v: { $push: "$v" }, o: { $push: { i: "$i", v: "$v" } } } }]);
      expect(got!.v).toEqual([2, null, [1], 2]);
      expect(got!.o).toEqual([{ i: 0, v: 2 }, { i: 1 }, { i: 2, v: null }, { i: 3, v: [1] }, { i: 4, v: 2 }]);
    });

    it("$addToSet keeps one of each value by MongoDB's equality", async () => {
      const docs = [
        { v: 1 }, { v: new Double(1) }, { v: Long.fromNumber(1) }, { v: Decimal128.fromString("1.0") },
        { v: { a: 1, b: 2 } }, { v: { b: 2, a: 1 } }, { v: { a: 1, b: 2 } },
        { v: at(0) }, { v: at(0) }, { v: null }, {}, { v: null }, { v: "1" }, { v: [1, 2] }, { v: [2, 1] }, { v: [1, 2] },
      ];
      const got = (await one(docs, { $addToSet: "$v" })) as unknown[];
      expect(got).toEqual([1, { a: 1, b: 2 }, { b: 2, a: 1 }, at(0), null, "1", [1, 2], [2, 1]]);
    });
  });

  describe("$mergeObjects and $count", () => {
    it("$mergeObjects merges documents in order, skipping null and missing", async () => {
      const docs = [{ i: 0, v: { a: 1, b: 1 } }, { i: 1 }, { i: 2, v: null }, { i: 3, v: { b: 2, c: null } }];
      const [got] = await run(docs, [{ $sort: { i: 1 } }, { $group: { _id: null, v: { $mergeObjects: "$v" } } }]);
      expect(got!.v).toEqual({ a: 1, b: 2, c: null });
      expect(await one([{}], { $mergeObjects: "$v" })).toEqual({});
    });

    it("$mergeObjects refuses a value that is not a document", async () => {
      await expect(group([{ v: { a: 1 } }, { v: 5 }], { _id: null, v: { $mergeObjects: "$v" } })).rejects.toMatchObject({ code: 40400 });
    });

    it("$count: {} counts the group's documents", async () => {
      const got = await group([{ k: "a" }, { k: "b" }, { k: "a" }], { _id: "$k", n: { $count: {} } });
      expect(got).toEqual([{ _id: "a", n: 2 }, { _id: "b", n: 1 }]);
      await expect(group([{ k: 1 }], { _id: null, n: { $count: 1 } })).rejects.toMatchObject({ code: 14 });
    });
  });

  describe("group keys", () => {
    it("put null and missing together, and numbers of equal value together across types", async () => {
      const docs = [{ k: null }, {}, { k: 1 }, { k: new Double(1) }, { k: Long.fromNumber(1) }, { k: Decimal128.fromString("1.00") }, { k: new Int32(1) }, { k: "1" }, { k: 2 }];
      const got = await group(docs, { _id: "$k", n: { $sum: 1 } });
      expect(got).toEqual([{ _id: null, n: 2 }, { _id: 1, n: 5 }, { _id: "1", n: 1 }, { _id: 2, n: 1 }]);
    });

    it("group dates by instant, documents by fields in order, arrays by elements", async () => {
      const docs = [
        { k: at(1) }, { k: at(1) }, { k: at(2) },
        { k: { a: 1, b: 2 } }, { k: { b: 2, a: 1 } }, { k: { a: 1, b: 2 } }, { k: { a: 1, b: { c: [1] } } }, { k: { a: 1, b: { c: [1] } } },
        { k: [1, "a"] }, { k: [1, "a"] }, { k: ["a", 1] }, { k: [] },
      ];
      const got = await group(docs, { _id: "$k", n: { $sum: 1 } });
      expect(got.map((d) => d.n)).toEqual([2, 1, 2, 1, 2, 2, 1, 1]);
      expect(got.map((d) => d._id)).toEqual([at(1), at(2), { a: 1, b: 2 }, { b: 2, a: 1 }, { a: 1, b: { c: [1] } }, [1, "a"], ["a", 1], []]);
    });

    it("never mixes up values whose encodings could look alike", async () => {
      const values = [null, "", "z", "u", "n1;", "s1:a", "a", 1, "1", true, "T", ["a"], "[s1:a]", { a: "x" }, { "1:a": "x" }, { a: ["x"] }, [[]], [null], [], {}, new Binary(Buffer.from("ab")), new Binary(Buffer.from("ab"), 4), "b0:2:6162"];
      const docs = values.map((k) => ({ k }));
      const got = await group(docs, { _id: "$k", n: { $sum: 1 } });
      expect(got).toHaveLength(values.length);
      expect(got.every((d) => d.n === 1)).toBe(true);
    });

    it("emits groups in the order their keys were first seen", async () => {
      const docs = ["c", "a", "c", "b", "a"].map((k, i) => ({ i, k }));
      const got = await run(docs, [{ $sort: { i: 1 } }, { $group: { _id: "$k", first: { $first: "$i" } } }]);
      expect(got).toEqual([{ _id: "c", first: 0 }, { _id: "a", first: 1 }, { _id: "b", first: 3 }]);
    });

    it("groups on the fields of an object _id: a missing value is left out, or null when it is the only field", async () => {
      const docs = [{ a: 1, b: 1 }, { a: 1 }, { a: 1, b: null }, { b: 2 }, { a: null, b: 2 }];
      const two = await group(docs, { _id: { a: "$a", b: "$b" }, n: { $sum: 1 } });
      expect(two).toEqual([
        { _id: { a: 1, b: 1 }, n: 1 },
        { _id: { a: 1 }, n: 1 },
        { _id: { a: 1, b: null }, n: 1 },
        { _id: { b: 2 }, n: 1 },
        { _id: { a: null, b: 2 }, n: 1 },
      ]);
      const single = await group(docs, { _id: { b: "$b" }, n: { $sum: 1 } });
      expect(single).toEqual([{ _id: { b: 1 }, n: 1 }, { _id: { b: null }, n: 2 }, { _id: { b: 2 }, n: 2 }]);
      const nested = await group([{ a: 1 }, { a: 1, x: 2 }], { _id: { k: { a: "$a", x: "$x" }, t: "rollup" }, n: { $sum: 1 } });
      expect(nested).toEqual([{ _id: { k: { a: 1 }, t: "rollup" }, n: 1 }, { _id: { k: { a: 1, x: 2 }, t: "rollup" }, n: 1 }]);
    });

    it("evaluates expressions in _id: $dateTrunc, $ifNull, arrays (missing elements are null)", async () => {
      const docs = [{ ts: at(1.5), u: "x" }, { ts: at(1.9) }, { ts: at(2), u: null }];
      const got = await group(docs, { _id: { t: { $dateTrunc: { date: "$ts", unit: "minute" } }, u: { $ifNull: ["$u", "none"] } }, n: { $sum: 1 } });
      expect(got).toEqual([{ _id: { t: at(1), u: "x" }, n: 1 }, { _id: { t: at(1), u: "none" }, n: 1 }, { _id: { t: at(2), u: "none" }, n: 1 }]);
      const arrays = await group([{ a: 1 }, { a: 1, b: null }], { _id: ["$a", "$b"], n: { $sum: 1 } });
      expect(arrays).toEqual([{ _id: [1, null], n: 2 }]);
    });

    it("answers one group for _id: null or a constant, and nothing for empty input", async () => {
      expect(await group([{ v: 1 }, { v: 2 }], { _id: null, s: { $sum: "$v" } })).toEqual([{ _id: null, s: 3 }]);
      expect(await group([{ v: 1 }, { v: 2 }], { _id: "all", s: { $sum: "$v" } })).toEqual([{ _id: "all", s: 3 }]);
      expect(await group([{ v: 1 }], { _id: {}, s: { $sum: "$v" } })).toEqual([{ _id: {}, s: 1 }]);
      expect(await group([], { _id: null, s: { $sum: "$v" }, c: { $count: {} } })).toEqual([]);
    });

    it("reads paths through arrays as MongoDB does", async () => {
      const docs = [{ items: [{ q: 1, k: "a" }, { q: 2 }, { k: "b" }] }, { items: { q: 5, k: "a" } }];
      const got = await group(docs, { _id: "$items.k", q: { $push: "$items.q" }, s: { $sum: "$items.q" } });
      expect(got).toEqual([{ _id: ["a", "b"], q: [[1, 2]], s: 0 }, { _id: "a", q: [5], s: 5 }]);
    });
  });

  describe("variables", () => {
    it("$$ROOT, $$CURRENT and the command's let variables, in _id and operands", async () => {
      const docs = [{ k: "a", v: 1 }, { k: "a", v: 2 }];
      const got = await run(docs, [
        { $project: { _id: 0 } },
        { $group: { _id: { k: "$$CURRENT.k", tag: "$$tag" }, all: { $push: "$$ROOT" }, scaled: { $sum: { $multiply: ["$v", "$$factor"] } } } },
      ], { let: { factor: 10, tag: "t" } });
      expect(got).toEqual([{ _id: { k: "a", tag: "t" }, all: docs, scaled: 30 }]);
    });

    it("the variables of a $lookup's let, inside its pipeline", async () => {
      const orders = mongo.db.collection<Loose>("orders_g");
      await orders.insertMany([{ _id: 1, c: "x" }, { _id: 2, c: "y" }]);
      const items = [{ o: 1, q: 2 }, { o: 1, q: 3 }, { o: 2, q: 4 }];
      const got = await run(items, [
        { $group: { _id: "$o" } },
        { $sort: { _id: 1 } },
        {
          $lookup: {
            from: "orders_g",
            let: { id: "$_id", w: 10 },
            pipeline: [{ $match: { $expr: { $eq: ["$_id", "$$id"] } } }, { $group: { _id: "$$id", c: { $first: "$c" }, w: { $sum: "$$w" } } }],
            as: "o",
          },
        },
      ]);
      expect(got).toEqual([{ _id: 1, o: [{ _id: 1, c: "x", w: 10 }] }, { _id: 2, o: [{ _id: 2, c: "y", w: 10 }] }]);
    });
  });

  describe("other accumulators and errors", () => {
    it("computes the accumulators it does not implement itself with mingo", async () => {
      const docs = [{ i: 1, v: 2 }, { i: 2, v: 4 }, { i: 3, v: 4 }, { i: 4, v: 5 }];
      const [got] = await run(docs, [
        { $sort: { i: 1 } },
        { $group: { _id: null, sd: { $stdDevPop: "$v" }, top: { $topN: { n: 1, output: "$i", sortBy: { v: -1 } } }, f2: { $firstN: { input: "$i", n: 2 } }, s: { $sum: "$v" } } },
      ]);
      expect(got).toEqual({ _id: null, sd: Math.sqrt(1.1875), top: [4], f2: [1, 2], s: 15 });
    });

    it.each([
      [{ v: { $sum: 1 } }, 15955],
      [{ _id: null, v: "$v" }, 40234],
      [{ _id: null, "v.w": { $sum: 1 } }, 40235],
      [{ _id: null, v: { $sum: 1, $avg: 1 } }, 40238],
      [{ _id: null, v: { $sum: ["$a", "$b"] } }, 40237],
      [{ _id: null, v: { $nope: "$v" } }, 15952],
      [{ _id: { a: 1 }, v: { $sum: 1 } }, 17390],
    ])("refuses the specification %j with MongoDB's error code", async (spec, code) => {
      await expect(group([{ v: 1 }], spec)).rejects.toMatchObject({ code });
    });

    it("stops a long $group at maxTimeMS while it reads its input", async () => {
      const coll = mongo.db.collection<Loose>("slow_g");
      await coll.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ i })));
      // Each document costs a 20,000-element array and all of them feed one group: the whole
      // $group would take seconds, all of it spent reading (no output until the end).
      const started = Date.now();
      await expect(
        coll.aggregate([{ $group: { _id: null, s: { $sum: { $size: { $range: [0, 20_000] } } } } }], { maxTimeMS: 50 }).toArray(),
      ).rejects.toMatchObject({ code: 50 });
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });
});

/* ------------------------------------------------------------------------------------------------
 * Differential: the engine's $group against mingo's, in-process, on random input.
 * ---------------------------------------------------------------------------------------------- */

const MISSING = "\u0000missing";

/** Runs `spec` through the engine's $group. */
function engineGroup(docs: Doc[], spec: Doc): Doc[] {
  return new Aggregator([{ $group: spec }], queryOptions()).run(docs) as Doc[];
}

/**
 * Runs `spec` through mingo's own $group, adjusted where MongoDB (and so the engine) differs by
 * design: `$push`/`$addToSet` of a missing value add nothing (mingo adds null), so mingo pushes a
 * marker for missing values that is taken out of its results.
 */
function mingoGroupOf(docs: Doc[], spec: Doc): Doc[] {
  const adjusted: Doc = {};
  const marked = new Set<string>();
  for (const [field, acc] of Object.entries(spec)) {
    const op = field === "_id" ? null : Object.keys(acc as Doc)[0]!;
    if (op === "$push" || op === "$addToSet") {
      const operand = (acc as Doc)[op];
      adjusted[field] = { [op]: { $cond: [{ $eq: [{ $type: operand }, "missing"] }, MISSING, operand] } };
      marked.add(field);
    } else adjusted[field] = acc;
  }
  const out = new Aggregator([{ $group: adjusted }], optionsWithStages({ $group: mingoGroup })).run(docs) as Doc[];
  for (const d of out) for (const f of marked) d[f] = (d[f] as unknown[]).filter((v) => v !== MISSING);
  return out;
}

/** As a client receives it: through BSON (missing fields dropped, missing array elements null). */
const wire = (docs: Doc[]) => deserialize(serialize({ docs }, { ignoreUndefined: true }), { promoteLongs: false }).docs as Doc[];

const DATES = [at(0), at(0.5), at(61), at(62.25)];
const dyadic = fc.integer({ min: -40, max: 40 }).map((n) => n / 4);
const scalar = fc.oneof(fc.integer({ min: -3, max: 3 }), dyadic, fc.constantFrom("a", "b", "", "z", "n1;"), fc.boolean(), fc.constant(null), fc.constantFrom(...DATES));
const randomDoc = fc.record(
  {
    k: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.constantFrom("x", "y"), fc.constant(null)),
    s: fc.constantFrom("p", "q", "r"),
    n: fc.oneof(fc.integer({ min: -5, max: 5 }), dyadic, fc.constant("7"), fc.constant(null)),
    c: scalar,
    o: fc.record({ x: fc.integer({ min: 0, max: 2 }), y: fc.constantFrom("u", "v") }, { requiredKeys: [], noNullPrototype: true }),
    arr: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }),
    ao: fc.array(fc.record({ x: fc.integer({ min: 0, max: 2 }) }, { requiredKeys: [], noNullPrototype: true }), { maxLength: 3 }),
    d: fc.constantFrom(...DATES),
  },
  { requiredKeys: ["d"], noNullPrototype: true },
);

const ID_SPECS: unknown[] = [
  null,
  "constant",
  "$k",
  "$s",
  "$c",
  "$n",
  "$o",
  "$o.x",
  "$arr",
  "$ao.x",
  "$$ROOT.k",
  { k: "$k", s: "$s" },
  { k: "$k", x: "$o.x", c: "$c" },
  { k: { $ifNull: ["$k", "none"] } },
  { $dateTrunc: { date: "$d", unit: "hour" } },
  { t: { $dateTrunc: { date: "$d", unit: "minute" } }, k: { $ifNull: ["$k", null] } },
  { $cond: [{ $gt: ["$n", 0] }, "pos", "other"] },
  { $concat: ["$s", "-", "$s"] },
];

const ACCUMULATORS: Doc[] = [
  { $sum: 1 },
  { $sum: "$n" },
  { $sum: "$c" },
  { $sum: "$ao.x" },
  { $avg: "$n" },
  { $avg: "$c" },
  { $min: "$c" },
  { $max: "$c" },
  { $min: "$n" },
  { $max: "$s" },
  { $max: { $ifNull: ["$n", -100] } },
  { $first: "$c" },
  { $first: "$o" },
  { $last: "$o.y" },
  { $last: "$arr" },
  { $push: "$c" },
  { $push: "$arr" },
  { $push: "$ao.x" },
  { $push: "$$ROOT" },
  { $push: { k: "$k", n: "$n" } },
  { $addToSet: "$k" },
  { $addToSet: "$c" },
  { $addToSet: "$o" },
  { $addToSet: "$arr" },
  { $mergeObjects: "$o" },
  { $count: {} },
  { $sum: { $cond: [{ $eq: ["$c", true] }, 1, 0] } },
  { $sum: { $cond: { if: "$c", then: 1, else: 0 } } },
  { $stdDevPop: "$n" },
  { $firstN: { input: "$c", n: 2 } },
  { $top: { output: "$s", sortBy: { d: 1 } } },
];

describe("$group against mingo's $group (differential, fixed seed)", () => {
  it("gives the same groups, in the same order, with the same accumulated values", () => {
    const spec = fc.record({
      id: fc.constantFrom(...ID_SPECS),
      accs: fc.uniqueArray(fc.nat({ max: ACCUMULATORS.length - 1 }), { minLength: 1, maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(randomDoc, { maxLength: 30 }), spec, (docs, { id, accs }) => {
        const groupSpec: Doc = { _id: id };
        for (const i of accs) groupSpec[`f${i}`] = ACCUMULATORS[i];
        expect(wire(engineGroup(docs as Doc[], groupSpec))).toEqual(wire(mingoGroupOf(docs as Doc[], groupSpec)));
      }),
      { seed: 20260527, numRuns: 600 },
    );
  });
});
