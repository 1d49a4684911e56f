/**
 * The engine's compiled expression operators (src/embedded/engine/operators/arithmetic.ts,
 * convert.ts, logic.ts, arrays.ts, replaceRoot.ts; Long and Decimal128 operands in
 * decimal-arithmetic.test.ts): through the driver against MongoDB's documented behaviour, and
 * in-process against mingo's own operators on random documents and expressions (fixed seed),
 * where the two agree by design; `$round` against an exact reference.
 *
 * Where the engine follows MongoDB rather than mingo (so the differential test does not generate
 * the case, and a driver test below pins MongoDB's answer):
 * - `$round` rounds half to even on the double's exact decimal value: {$round: [2.5, 0]} is 2,
 *   [1.235, 2] is 1.24 (the double is 1.2350000000000000977), [2.675, 2] is 2.67, [1350, -2] is
 *   1400. mingo truncated whenever the next digit was 5 (1.2351 → 1.23, 1350 → 1300, -1234.5678
 *   at -2 → -1300) and rounded half up otherwise;
 * - null/missing and type errors are checked operand by operand in MongoDB's order
 *   (`{$multiply: ["x", null]}` fails, `{$concat: [5, null]}` fails, `{$concat: [null, 5]}` is
 *   null), with MongoDB's codes; NaN is a number (mingo refused it) and is truthy;
 * - `$size` of null or missing fails (mingo: null); `$toInt` of a date fails (mingo: its
 *   milliseconds); `$max`/`$min` ignore null and missing (mingo's `$max` answered null when a
 *   missing value sorted last) and compare in BSON order;
 * - `$setUnion` answers its elements in BSON order (mingo: first-seen order);
 * - `$mergeObjects` of a single document merges it (mingo wanted an array);
 * - `$and`/`$or`/`$cond` evaluate lazily, so an operand they do not need never raises its error;
 * - one-operand operators take their operand bare or in a one-element array (`{$ceil: ["$x"]}`;
 *   mingo's `$floor`, `$ceil`, `$size`, `$toInt` took the array itself as the operand).
 */
import { deserialize, serialize } from "bson";
import fc from "fast-check";
import { Aggregator } from "mingo/aggregator";
import * as mingoExpression from "mingo/operators/expression";
import { $project as mingoProject } from "mingo/operators/pipeline";
import { Decimal128, Long, type Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { optionsWithOperators, queryOptions } from "../../src/embedded/engine/mingo-options.js";
import type { Doc } from "../../src/embedded/engine/paths.js";
import { roundDouble, roundExactly } from "../../src/embedded/engine/round.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const T0 = Date.UTC(2026, 4, 28, 10);
const at = (ms: number) => new Date(T0 + ms);

describe("expression operators through the driver", () => {
  const mongo = useTestMongo("operators");
  let n = 0;
  /** `expr` evaluated for each document (in _id order), as `v` of a `$project`. */
  const values = async (docs: Loose[], expr: unknown, options: Document = {}) => {
    const coll = mongo.db.collection<Loose>(`o${n++}`);
    await coll.insertMany(docs.map((d, i) => ({ _id: i, ...d })));
    const got = await coll.aggregate([{ $sort: { _id: 1 } }, { $project: { _id: 0, v: expr } }], options).toArray();
    return got.map((d) => ("v" in d ? d.v : "<missing>"));
  };
  const value = async (expr: unknown, doc: Loose = {}) => (await values([doc], expr))[0];
  const fails = async (expr: unknown, code: number, doc: Loose = {}) => {
    await expect(values([doc], expr)).rejects.toMatchObject({ code });
  };

  describe("$round", () => {
    it("rounds half to even, on the double's exact value", async () => {
      const cases: Array<[number, number, number]> = [
        [2.5, 0, 2], [3.5, 0, 4], [0.5, 0, 0], [1.5, 0, 2], [-2.5, 0, -2], [2.51, 0, 3], [0.9, 0, 1], [-1.2, 0, -1],
        [1.235, 2, 1.24], [1.2351, 2, 1.24], [2.675, 2, 2.67], [1.005, 2, 1], [0.125, 2, 0.12], [0.375, 2, 0.38],
        [0.135, 2, 0.14], [9.995, 2, 9.99], [1234.375, 2, 1234.38], [1234.125, 2, 1234.12], [1.298, 1, 1.3],
        [1350, -2, 1400], [1250, -2, 1200], [1234.5678, -2, 1200], [-1234.5678, -2, -1200], [23.298, -1, 20],
        [1.298, 100, 1.298], [123456789.123456789, 5, 123456789.12346],
      ];
      const docs = cases.map(([x, p]) => ({ x, p }));
      expect(await values(docs, { $round: ["$x", "$p"] })).toEqual(cases.map(([, , want]) => want));
    });

    it("keeps integers, NaN and infinities, and is null for null or missing", async () => {
      expect(await values([{ x: 7 }, { x: NaN }, { x: Infinity }, { x: null }, {}], { $round: ["$x", 1] })).toEqual([7, NaN, Infinity, null, null]);
      expect(await value({ $round: [2.5, null] })).toBeNull();
      expect(await value({ $round: "$x" }, { x: 3.5 })).toBe(4);
      expect(await value({ $round: [Long.fromNumber(1250), -2] })).toEqual(1200);
    });

    it("refuses what MongoDB refuses", async () => {
      await fails({ $round: ["x", 1] }, 51081);
      await fails({ $round: [1.5, 1.5] }, 51082);
      await fails({ $round: [1.5, 101] }, 51083);
      await fails({ $round: [1.5, -21] }, 51083);
      await fails({ $round: [1, 2, 3] }, 28667);
    });
  });

  describe("$add, $subtract, $multiply, $divide", () => {
    it("compute with numbers and are null as soon as an operand is null or missing", async () => {
      const doc = { a: 6, b: 4, z: null };
      expect(await value({ $add: ["$a", "$b", 0.5] }, doc)).toBe(10.5);
      expect(await value({ $subtract: ["$a", "$b"] }, doc)).toBe(2);
      expect(await value({ $multiply: ["$a", "$b", 0.5] }, doc)).toBe(12);
      expect(await value({ $divide: ["$a", "$b"] }, doc)).toBe(1.5);
      expect(await value({ $multiply: [] })).toBe(1);
      expect(await value({ $add: [] })).toBe(0);
      for (const op of ["$add", "$subtract", "$multiply", "$divide"]) {
        expect(await value({ [op]: ["$a", "$z"] }, doc)).toBeNull();
        expect(await value({ [op]: ["$nope", "$a"] }, doc)).toBeNull();
      }
      expect(await value({ $multiply: ["$a", NaN] }, doc)).toBeNaN();
    });

    it("check operands in order: the first null answers before a later operand's type", async () => {
      expect(await value({ $add: [null, "x"] })).toBeNull();
      expect(await value({ $multiply: [null, "x"] })).toBeNull();
      await fails({ $add: ["x", null] }, 14);
      await fails({ $multiply: ["x", null] }, 14);
      // $divide and $subtract evaluate both operands first: null wins over a wrong type.
      expect(await value({ $divide: ["x", null] })).toBeNull();
      expect(await value({ $subtract: [null, "x"] })).toBeNull();
      await fails({ $divide: ["x", 2] }, 14);
      await fails({ $subtract: ["x", 2] }, 14);
    });

    it("refuse division by zero with BadValue (2), and wrong argument counts with 16020", async () => {
      const coll = mongo.db.collection<Loose>("div0");
      await coll.insertOne({ _id: 1, a: 1 });
      const err = await coll.aggregate([{ $project: { v: { $divide: ["$a", 0] } } }]).toArray().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 2, message: expect.stringContaining("can't $divide by zero") });
      expect(await value({ $divide: [null, 0] })).toBeNull();
      await fails({ $divide: [1] }, 16020);
      await fails({ $subtract: [1, 2, 3] }, 16020);
    });

    it("add to and subtract from dates, in whole milliseconds", async () => {
      const doc = { d: at(0), e: at(90_000) };
      expect(await value({ $add: ["$d", 1000] }, doc)).toEqual(at(1000));
      expect(await value({ $add: [1000, "$d", 500] }, doc)).toEqual(at(1500));
      expect(await value({ $add: ["$d", 1.5] }, doc)).toEqual(at(2));
      expect(await value({ $add: ["$d", -1.5] }, doc)).toEqual(at(-2));
      expect(await value({ $subtract: ["$e", "$d"] }, doc)).toBe(90_000);
      expect(await value({ $subtract: ["$e", 60_000] }, doc)).toEqual(at(30_000));
      await fails({ $add: ["$d", "$e"] }, 16612, doc);
      await fails({ $subtract: [1, "$d"] }, 14, doc);
      await fails({ $subtract: ["$d", "x"] }, 14, doc);
    });
  });

  describe("$floor, $ceil, $toInt", () => {
    it("$floor and $ceil round numbers and pass null", async () => {
      expect(await values([{ x: 2.5 }, { x: -2.5 }, { x: 3 }, { x: null }, {}], { $floor: "$x" })).toEqual([2, -3, 3, null, null]);
      expect(await values([{ x: 2.5 }, { x: -2.5 }, { x: 3 }], { $ceil: ["$x"] })).toEqual([3, -2, 3]);
      await fails({ $floor: "x" }, 28765);
      await fails({ $ceil: [1, 2] }, 16020);
    });

    it("$toInt truncates toward zero and refuses what does not fit an int", async () => {
      expect(await values([{ x: 5.9 }, { x: -5.9 }, { x: true }, { x: false }, { x: null }, {}, { x: "12" }], { $toInt: "$x" })).toEqual([5, -5, 1, 0, null, null, 12]);
      await fails({ $toInt: 1e10 }, 241);
      await fails({ $toInt: NaN }, 241);
      await fails({ $toInt: "$d" }, 241, { d: at(0) });
      await fails({ $toInt: "$o" }, 241, { o: { a: 1 } });
    });
  });

  describe("$max and $min", () => {
    it("ignore null and missing, and are null without anything else", async () => {
      expect(await value({ $max: [1, "$nope", null, 3, 2] })).toBe(3);
      expect(await value({ $min: [1, "$nope", null, 3, 2] })).toBe(1);
      expect(await value({ $max: ["$nope", null] })).toBeNull();
      expect(await value({ $min: [] })).toBeNull();
    });

    it("compare in BSON order, and one array operand stands for its elements", async () => {
      const doc = { xs: [3, null, 7, 1], d: at(5) };
      expect(await value({ $max: "$xs" }, doc)).toBe(7);
      expect(await value({ $min: ["$xs"] }, doc)).toBe(1);
      expect(await value({ $max: ["$xs", 100] }, doc)).toEqual([3, null, 7, 1]);
      expect(await value({ $max: [5, "a", "$d", true] }, doc)).toEqual(at(5));
      expect(await value({ $min: [5, "a", "$d", true] }, doc)).toBe(5);
      expect(await value({ $max: ["$d", at(-1)] }, doc)).toEqual(at(5));
      expect(await value({ $max: "$x" }, { x: 4 })).toBe(4);
    });
  });

  describe("$and, $or, $not, $cond, $ifNull", () => {
    it("use MongoDB's truthiness", async () => {
      const doc = { nan: NaN, empty: "", zero: 0, dzero: Decimal128.fromString("0"), lzero: Long.fromNumber(0), arr: [], obj: {}, nul: null };
      const names = ["nan", "empty", "zero", "dzero", "lzero", "arr", "obj", "nul", "nope"];
      const truthy = await Promise.all(names.map((f) => value({ $and: [`$${f}`] }, doc)));
      expect(Object.fromEntries(names.map((f, i) => [f, truthy[i]]))).toEqual({
        nan: true, empty: true, zero: false, dzero: false, lzero: false, arr: true, obj: true, nul: false, nope: false,
      });
      expect(await value({ $cond: ["$nan", "yes", "no"] }, doc)).toBe("yes");
      expect(await value({ $not: ["$lzero"] }, doc)).toBe(true);
      expect(await value({ $or: [] })).toBe(false);
      expect(await value({ $and: [] })).toBe(true);
    });

    it("evaluate only what decides the result", async () => {
      const boom = { $divide: [1, 0] };
      expect(await value({ $and: [false, boom] })).toBe(false);
      expect(await value({ $or: [true, boom] })).toBe(true);
      expect(await value({ $cond: [true, 1, boom] })).toBe(1);
      expect(await value({ $cond: { if: false, then: boom, else: 2 } })).toBe(2);
      expect(await value({ $ifNull: [1, boom] })).toBe(1);
      await fails({ $and: [true, boom] }, 2);
    });

    it("$ifNull answers the first value that is neither null nor missing, else the last as it is", async () => {
      expect(await value({ $ifNull: ["$nope", null, "x"] })).toBe("x");
      expect(await value({ $ifNull: ["$nope", null] })).toBeNull();
      expect(await value({ $ifNull: [null, "$nope"] })).toBe("<missing>");
      expect(await value({ $ifNull: [0, 1] })).toBe(0);
    });

    it("check their arguments as MongoDB parses them", async () => {
      await fails({ $not: [1, 2] }, 16020);
      await fails({ $cond: [1, 2] }, 16020);
      await fails({ $cond: { then: 1, else: 2 } }, 17080);
      await fails({ $cond: { if: 1, else: 2 } }, 17081);
      await fails({ $cond: { if: 1, then: 2 } }, 17082);
      await fails({ $cond: { if: 1, then: 2, else: 3, other: 4 } }, 17083);
      await fails({ $ifNull: ["$a"] }, 1257300);
    });
  });

  describe("arrays and strings", () => {
    it("$size counts an array and refuses anything else, null and missing included", async () => {
      expect(await value({ $size: "$xs" }, { xs: [1, null, [2]] })).toBe(3);
      await fails({ $size: "$xs" }, 17124, {});
      await fails({ $size: "$xs" }, 17124, { xs: null });
      await fails({ $size: "$xs" }, 17124, { xs: "abc" });
    });

    it("$concat joins strings, is null at the first null, and refuses other types before it", async () => {
      expect(await value({ $concat: ["a", "$s", "c"] }, { s: "b" })).toBe("abc");
      expect(await value({ $concat: ["a", "$nope", 5] })).toBeNull();
      await fails({ $concat: ["a", 5, null] }, 16702);
      expect(await value({ $concat: [] })).toBe("");
    });

    it("$arrayElemAt indexes from either end and leaves the field out past the end", async () => {
      const doc = { xs: [10, 20, 30] };
      expect(await value({ $arrayElemAt: ["$xs", 1] }, doc)).toBe(20);
      expect(await value({ $arrayElemAt: ["$xs", -1] }, doc)).toBe(30);
      expect(await value({ $arrayElemAt: ["$xs", 3] }, doc)).toBe("<missing>");
      expect(await value({ $arrayElemAt: ["$xs", -4] }, doc)).toBe("<missing>");
      expect(await value({ $arrayElemAt: ["$nope", 0] }, doc)).toBeNull();
      expect(await value({ $arrayElemAt: ["$xs", null] }, doc)).toBeNull();
      await fails({ $arrayElemAt: ["x", 0] }, 28689);
      await fails({ $arrayElemAt: [[1], "0"] }, 28690);
      await fails({ $arrayElemAt: [[1], 0.5] }, 28691);
    });

    it("$setUnion answers distinct elements in BSON order, equal by MongoDB's comparison", async () => {
      expect(await value({ $setUnion: [[3, 1, "a"], [2, 1.0, null], []] })).toEqual([null, 1, 2, 3, "a"]);
      expect(await value({ $setUnion: ["$xs", [{ b: 1 }]] }, { xs: [{ b: 1 }, { a: 1 }] })).toEqual([{ a: 1 }, { b: 1 }]);
      expect(await value({ $setUnion: [[1], "$nope"] })).toBeNull();
      await fails({ $setUnion: [[1], 2] }, 17043);
    });

    it("$range counts by its step and refuses what MongoDB refuses", async () => {
      expect(await value({ $range: [0, 5] })).toEqual([0, 1, 2, 3, 4]);
      expect(await value({ $range: [5, 0, -2] })).toEqual([5, 3, 1]);
      expect(await value({ $range: [0, 5, -1] })).toEqual([]);
      await fails({ $range: [0.5, 5] }, 34444);
      await fails({ $range: ["a", 5] }, 34443);
      await fails({ $range: [0, null] }, 34445);
      await fails({ $range: [0, 5, 0] }, 34449);
      await fails({ $range: [0] }, 28667);
      await fails({ $range: [0, 2_000_000_000] }, 146);
    });

    it("$mergeObjects merges documents in order, skips null and missing, merges an array's elements", async () => {
      const doc = { a: { x: 1, y: 1 }, b: { y: 2 }, list: [{ p: 1 }, null, { q: 2 }] };
      expect(await value({ $mergeObjects: ["$a", "$nope", null, "$b", { z: 3 }] }, doc)).toEqual({ x: 1, y: 2, z: 3 });
      expect(await value({ $mergeObjects: "$a" }, doc)).toEqual({ x: 1, y: 1 });
      expect(await value({ $mergeObjects: "$list" }, doc)).toEqual({ p: 1, q: 2 });
      expect(await value({ $mergeObjects: [] })).toEqual({});
      await fails({ $mergeObjects: ["$a", 5] }, 40400, doc);
      await fails({ $mergeObjects: ["$list", "$a"] }, 40400, doc);
    });
  });

  describe("variables: $let, $map, $filter, $reduce", () => {
    it("bind their variables for their sub-expressions only, inner names shadowing outer ones", async () => {
      const doc = { xs: [1, 2, 3, null], k: 10 };
      expect(await value({ $map: { input: "$xs", in: { $multiply: ["$$this", "$k"] } } }, doc)).toEqual([10, 20, 30, null]);
      expect(await value({ $map: { input: "$xs", as: "x", in: { $add: ["$$x", 1] } } }, doc)).toEqual([2, 3, 4, null]);
      expect(await value({ $map: { input: "$xs", as: "x", in: "$$x.nope" } }, doc)).toEqual([null, null, null, null]);
      expect(await value({ $filter: { input: "$xs", as: "x", cond: { $gte: ["$$x", 2] } } }, doc)).toEqual([2, 3]);
      expect(await value({ $filter: { input: "$xs", cond: "$$this", limit: 2 } }, doc)).toEqual([1, 2]);
      expect(await value({ $reduce: { input: "$xs", initialValue: 0, in: { $add: ["$$value", { $ifNull: ["$$this", 0] }] } } }, doc)).toBe(6);
      expect(await value({ $let: { vars: { a: "$k", b: 2 }, in: { $multiply: ["$$a", "$$b"] } } }, doc)).toBe(20);
      const nested = {
        $let: {
          vars: { x: 100 },
          in: { $map: { input: "$xs", as: "x", in: { $let: { vars: { y: "$$x" }, in: { $ifNull: ["$$y", "$$CURRENT.k"] } } } } },
        },
      };
      expect(await value(nested, doc)).toEqual([1, 2, 3, 10]);
      // A var cannot see the other vars of its $let: `b` reads the command's `a`.
      expect(await values([doc], { $let: { vars: { a: 1, b: "$$a" }, in: "$$b" } }, { let: { a: "outer" } })).toEqual(["outer"]);
      expect(await value({ $reduce: { input: [[1], [2, 1], [3]], initialValue: [], in: { $setUnion: ["$$value", "$$this"] } } })).toEqual([1, 2, 3]);
    });

    it("pass their variables to operators mingo evaluates", async () => {
      const doc = { ds: [at(0), at(3_600_000)] };
      const got = await value({ $map: { input: "$ds", as: "d", in: { $dateToString: { date: "$$d", format: "%H" } } } }, doc);
      expect(got).toEqual([new Date(T0).toISOString().slice(11, 13), new Date(T0 + 3_600_000).toISOString().slice(11, 13)]);
    });

    it("answer null for null or missing input and refuse other non-arrays", async () => {
      expect(await value({ $map: { input: "$nope", in: 1 } })).toBeNull();
      expect(await value({ $filter: { input: null, cond: true } })).toBeNull();
      expect(await value({ $reduce: { input: "$nope", initialValue: 0, in: 1 } })).toBeNull();
      await fails({ $map: { input: 5, in: 1 } }, 16883);
      await fails({ $filter: { input: 5, cond: true } }, 28651);
      await fails({ $reduce: { input: 5, initialValue: 0, in: 1 } }, 40080);
      await fails({ $filter: { input: [1], cond: true, limit: 0 } }, 327392);
      await fails({ $filter: { input: [1], cond: true, limit: 1.5 } }, 327391);
      expect(await value({ $filter: { input: [], cond: true, limit: 0 } })).toEqual([]);
    });

    it("refuse bad shapes and variable names", async () => {
      await fails({ $map: { input: [1], as: "X", in: 1 } }, 16867);
      await fails({ $map: { input: [1], as: "a-b", in: 1 } }, 16868);
      await fails({ $map: { in: 1 } }, 16880);
      await fails({ $map: { input: [1] } }, 16882);
      await fails({ $map: { input: [1], in: 1, x: 1 } }, 16879);
      await fails({ $filter: { input: [1] } }, 28650);
      await fails({ $reduce: { input: [1], in: 1 } }, 40078);
      await fails({ $let: { vars: { a: 1 } } }, 16877);
      await fails({ $let: { vars: { _a: 1 }, in: 1 } }, 16867);
    });
  });

  describe("$match with $expr, $replaceWith and $replaceRoot", () => {
    it("$expr keeps documents by MongoDB's truthiness", async () => {
      const coll = mongo.db.collection<Loose>("expr");
      await coll.insertMany([{ _id: 1, a: 5, b: 3 }, { _id: 2, a: 1, b: 3 }, { _id: 3, a: NaN, b: 0 }, { _id: 4, b: 1 }]);
      const ids = async (filter: Document) => (await coll.aggregate([{ $sort: { _id: 1 } }, { $match: filter }]).toArray()).map((d) => d._id);
      // NaN sorts below every number: NaN > 0 is false; as a condition NaN itself is true.
      expect(await ids({ $expr: { $gt: ["$a", "$b"] } })).toEqual([1]);
      expect(await ids({ $expr: "$a" })).toEqual([1, 2, 3]);
      expect(await ids({ $expr: { $and: ["$b", { $lt: ["$a", 2] }] } })).toEqual([2, 4]);
      expect((await coll.find({ $expr: { $eq: ["$a", 5] } }).toArray()).map((d) => d._id)).toEqual([1]);
    });

    it("$replaceWith and $replaceRoot need a document", async () => {
      const coll = mongo.db.collection<Loose>("replace");
      await coll.insertMany([{ _id: 1, sub: { x: 1 }, n: 2 }]);
      expect(await coll.aggregate([{ $replaceWith: { $mergeObjects: ["$sub", { n: "$n" }] } }]).toArray()).toEqual([{ x: 1, n: 2 }]);
      expect(await coll.aggregate([{ $replaceRoot: { newRoot: "$sub" } }]).toArray()).toEqual([{ x: 1 }]);
      await expect(coll.aggregate([{ $replaceWith: "$n" }]).toArray()).rejects.toMatchObject({ code: 40228 });
      await expect(coll.aggregate([{ $replaceRoot: { newRoot: "$nope" } }]).toArray()).rejects.toMatchObject({ code: 40228 });
    });
  });

  it("stops a long $project at maxTimeMS while it streams", async () => {
    const coll = mongo.db.collection<Loose>("slow_p");
    await coll.insertMany(Array.from({ length: 20_000 }, (_, i) => ({ i })));
    const started = Date.now();
    await expect(coll.aggregate([{ $project: { s: { $size: { $range: [0, 20_000] } } } }], { maxTimeMS: 50 }).toArray()).rejects.toMatchObject({ code: 50 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

/* ------------------------------------------------------------------------------------------------
 * $round against an exact reference, and its fast path against its exact path.
 * ---------------------------------------------------------------------------------------------- */

/** x·10^places rounded half to even, computed on x's exact binary value with BigInt rationals. */
function referenceRound(x: number, places: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const mantissa = exponent === 0 ? bits & ((1n << 52n) - 1n) : (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  const e = (exponent === 0 ? 1 : exponent) - 1075;
  // |x| = num / den
  let num = e >= 0 ? mantissa << BigInt(e) : mantissa;
  let den = e >= 0 ? 1n : 1n << BigInt(-e);
  if (places >= 0) num *= 10n ** BigInt(places);
  else den *= 10n ** BigInt(-places);
  let q = num / den;
  const twice = (num % den) * 2n;
  if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  const r = Number(`${q}e${-places}`);
  return x < 0 ? -r : r;
}

describe("$round's arithmetic", () => {
  const doubles = fc.oneof(
    fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1000),
    fc.integer({ min: -100_000, max: 100_000 }).map((n) => n / 8),
    fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1024_000),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  );

  it("is the exact half-to-even rounding of the double's value for 0 to 15 places and negative places", () => {
    fc.assert(
      fc.property(doubles, fc.integer({ min: -6, max: 15 }), (x, p) => {
        if (Math.abs(x) >= 1e15) return;
        expect(Object.is(roundDouble(x, p), referenceRound(x, p))).toBe(true);
      }),
      { seed: 20260601, numRuns: 20_000 },
    );
  });

  it("answers the same on its fast path as on its exact path, for any double and precision", () => {
    fc.assert(
      fc.property(doubles, fc.integer({ min: -20, max: 100 }), (x, p) => {
        expect(Object.is(roundDouble(x, p), roundExactly(x, p))).toBe(true);
      }),
      { seed: 20260602, numRuns: 20_000 },
    );
  });

  it("rounds a value with more decimals than a Decimal128's 34 digits as MongoDB does (34 digits first)", () => {
    // 0.1 + 0.2 is 0.3000000000000000444089209850062616169452667236328125: to 16 places 0.3.
    expect(roundDouble(0.1 + 0.2, 16)).toBe(0.3);
    expect(roundDouble(0.1 + 0.2, 17)).toBe(0.30000000000000004);
    expect(roundDouble(1e20, 5)).toBe(1e20);
    expect(roundDouble(5e-324, 2)).toBe(0);
    expect(Object.is(roundDouble(-0.001, 2), -0)).toBe(true);
  });
});

/* ------------------------------------------------------------------------------------------------
 * Differential: the engine's operators against mingo's, in-process, on random input.
 * ---------------------------------------------------------------------------------------------- */

const REPLACED = [
  "$add", "$subtract", "$multiply", "$divide", "$floor", "$ceil", "$toInt", "$and", "$or", "$not", "$cond", "$ifNull", "$literal",
  "$let", "$size", "$concat", "$arrayElemAt", "$reduce", "$map", "$filter", "$range", "$mergeObjects", "$setUnion", "$round",
] as const;
const mingoOps = mingoExpression as unknown as Record<string, unknown>;
type MingoOperator = (obj: unknown, expr: unknown, options: unknown) => unknown;
/**
 * mingo's own operators (`$max`/`$min` are its accumulators in expressions: no expression operator),
 * except that mingo's `$toInt` of -0.25 is -0 where MongoDB's int is 0: that sign is dropped.
 */
const MINGO_EXPRESSIONS: Record<string, unknown> = {
  ...Object.fromEntries(REPLACED.map((k) => [k, mingoOps[k]])),
  $toInt: (obj: unknown, expr: unknown, options: unknown) => {
    const v = (mingoOps.$toInt as MingoOperator)(obj, expr, options);
    return Object.is(v, -0) ? 0 : v;
  },
  $max: undefined,
  $min: undefined,
};

const wire = (docs: Doc[]) => deserialize(serialize({ docs }, { ignoreUndefined: true }), { promoteLongs: false }).docs as Doc[];

/** -0 as 0: MongoDB's `$max`/`$min` keep the first of equal values (-0 before 0), mingo's the last. */
const signless = (v: unknown): unknown =>
  Object.is(v, -0) ? 0 : Array.isArray(v) ? v.map(signless) : v !== null && typeof v === "object" && !(v instanceof Date) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, signless(x)])) : v;

type Outcome = { ok: unknown } | { error: true };
function outcome(run: () => Doc[]): Outcome {
  try {
    return { ok: signless(wire(run())) };
  } catch {
    return { error: true };
  }
}

const dyadic = fc.integer({ min: -40, max: 40 }).map((n) => n / 4);
const number = fc.oneof(fc.integer({ min: -5, max: 5 }), dyadic);
const randomDoc = fc.record(
  {
    n: number,
    m: number,
    i: fc.integer({ min: -3, max: 3 }),
    x: fc.oneof(number, fc.constant(null)),
    d: fc.constantFrom(at(0), at(61_000), at(-5_000)),
    s: fc.oneof(fc.constantFrom("a", "b", ""), fc.constant(null)),
    b: fc.boolean(),
    arr: fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(null)), { maxLength: 4 }),
    o: fc.record({ p: number, q: fc.constantFrom("u", "v") }, { requiredKeys: [], noNullPrototype: true }),
  },
  { requiredKeys: ["n", "m", "i", "d", "b", "arr"], noNullPrototype: true },
);

/** Numbers that are never null or missing (what `$max`/`$min` are given: see above). */
const strictNumber: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constantFrom("$n", "$m"), fc.integer({ min: -4, max: 4 })),
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("leaf"),
    fc.tuple(tie("node"), tie("node")).map(([a, b]) => ({ $add: [a, b] })),
    fc.tuple(tie("node"), tie("node")).map(([a, b]) => ({ $multiply: [a, b] })),
  ),
})).node;

const expressions = fc.letrec((tie) => ({
  num: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("$n", "$m", "$x", "$nope", "$o.p", 0, 2, -1.5, null),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $add: [a, b] })),
    fc.tuple(tie("num"), tie("num"), tie("num")).map(([a, b, c]) => ({ $add: [a, b, c] })),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $subtract: [a, b] })),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $multiply: [a, b] })),
    fc.tuple(tie("num"), fc.constantFrom(2, -4, 0.5, "$nope")).map(([a, b]) => ({ $divide: [a, b] })),
    tie("num").map((a) => ({ $floor: a })),
    tie("num").map((a) => ({ $ceil: a })),
    tie("num").map((a) => ({ $toInt: a })),
    fc.tuple(tie("bool"), tie("num"), tie("num")).map(([c, a, b]) => ({ $cond: [c, a, b] })),
    fc.tuple(tie("bool"), tie("num"), tie("num")).map(([c, a, b]) => ({ $cond: { if: c, then: a, else: b } })),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $ifNull: [a, b] })),
    fc.array(strictNumber, { minLength: 1, maxLength: 3 }).map((xs) => ({ $max: xs })),
    fc.array(strictNumber, { minLength: 1, maxLength: 3 }).map((xs) => ({ $min: xs })),
    fc.constantFrom(0, 1, -1, 5, -5, "$nope", null, "$i").map((i) => ({ $arrayElemAt: ["$arr", i] })),
    fc.constant({ $size: "$arr" }),
    tie("num").map((a) => ({ $let: { vars: { v: a }, in: { $add: ["$$v", "$n"] } } })),
    fc.tuple(tie("num")).map(([a]) => ({ $reduce: { input: "$arr", initialValue: a, in: { $add: ["$$value", { $ifNull: ["$$this", 0] }] } } })),
    fc.constant({ $literal: 7 }),
  ),
  bool: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("$b", true, false, 0, 1, "$x"),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $gt: [a, b] })),
    fc.tuple(tie("num"), tie("num")).map(([a, b]) => ({ $eq: [a, b] })),
    fc.tuple(tie("bool"), tie("bool")).map(([a, b]) => ({ $and: [a, b] })),
    fc.tuple(tie("bool"), tie("bool")).map(([a, b]) => ({ $or: [a, b] })),
    tie("bool").map((a) => ({ $not: [a] })),
  ),
  other: fc.oneof(
    fc.tuple(tie("num")).map(([a]) => ({ $map: { input: "$arr", as: "e", in: { $multiply: ["$$e", a] } } })),
    fc.tuple(tie("bool")).map(([c]) => ({ $filter: { input: "$arr", as: "e", cond: { $and: [c, { $gt: ["$$e", 0] }] } } })),
    fc.tuple(fc.constantFrom("$i", 0, 2), fc.constantFrom("$i", 3, -2), fc.constantFrom(1, -1, 2)).map(([a, b, c]) => ({ $range: [a, b, c] })),
    fc.constantFrom(
      { $concat: ["$s", "-", "$s"] },
      { $concat: ["x", "$s"] },
      { $mergeObjects: ["$o", { k: "$n" }, "$nope"] },
      { $mergeObjects: [{ a: 1 }, "$o"] },
      { $add: ["$d", { $floor: "$n" }] },
      { $subtract: ["$d", { $floor: "$n" }] },
      { $subtract: ["$d", "$d"] },
      { $add: [{ $floor: "$m" }, "$d", 2] },
    ),
  ),
}));

const anyExpression = fc.oneof(expressions.num, expressions.bool, expressions.other);

/**
 * Expressions that cannot fail: MongoDB does not evaluate the operands after a `$multiply`'s or an
 * `$add`'s first null, nor the branch `$cond` does not take, nor what decides an `$and`/`$or`, while
 * mingo evaluates every operand first, so an error inside one of those would be mingo's alone
 * (errors are pinned by the driver tests above). Dates are given whole milliseconds (a fraction is
 * rounded half away from zero by MongoDB, truncated by mingo's `$add`).
 */
describe("expression operators against mingo's (differential, fixed seed)", () => {
  it("compute the same values and fail on the same documents", () => {
    const engineOptions = queryOptions();
    const mingoOptions = optionsWithOperators({ expression: MINGO_EXPRESSIONS, pipeline: { $project: mingoProject } });
    let computed = 0;
    let failed = 0;
    fc.assert(
      fc.property(fc.array(randomDoc, { minLength: 1, maxLength: 6 }), fc.array(anyExpression, { minLength: 1, maxLength: 3 }), (docs, exprs) => {
        const stage = { $project: Object.fromEntries(exprs.map((e, i) => [`f${i}`, e])) };
        for (const doc of docs) {
          const engine = outcome(() => new Aggregator([stage], engineOptions).run([doc]) as Doc[]);
          const mingo = outcome(() => new Aggregator([stage], mingoOptions).run([doc]) as Doc[]);
          expect(engine).toEqual(mingo);
          if ("ok" in engine) computed++;
          else failed++;
        }
      }),
      { seed: 20260529, numRuns: 1500 },
    );
    // The expressions are built not to fail: nearly every evaluation compares values.
    expect(failed).toBeLessThan(computed / 20);
  });
});
