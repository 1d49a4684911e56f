/**
 * MongoDB's numeric arithmetic over Long and Decimal128, through the driver (the embedded
 * server's wire path, or a real mongod with TEST_MONGODB_URI): `$toDecimal` and the other numeric
 * conversions, `$add`/`$subtract`/`$multiply`/`$divide`/`$round`/`$floor`/`$ceil` with MongoDB's
 * type promotion (int → long → double, any decimal → decimal; int32 and int64 overflows),
 * decimal128 arithmetic (34 digits, half to even, ideal exponents), `$sum` of decimal products,
 * and the order of decimals against other numbers in `$sort`, `$max`/`$min` and `$match`.
 *
 * Values are read back with promoteLongs: false and their BSON types asked of the server with
 * `$type`, so an int, a long and a double of the same value are told apart, and decimals are
 * compared by their strings (which show the exponent: 5.00 is not 5). mingo, which the engine
 * used for these operands before, answered `$toDecimal` with a double, refused Longs in `$add` and
 * `$multiply`, and added decimals as doubles: every assertion below fails on it.
 */
import { Decimal128, Long, type Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const raw = { promoteLongs: false } as const;
const D = (s: string) => Decimal128.fromString(s);
const L = (s: string) => Long.fromString(s);
const TWO_53_PLUS_1 = "9007199254740993";

/** A value with its BSON type, as the test reads it: decimals and longs by their strings. */
type Typed = [string, unknown];
const typed = (v: unknown, t: unknown): Typed => [String(t), v instanceof Decimal128 || v instanceof Long ? v.toString() : v];

describe("decimal and long arithmetic through the driver", () => {
  const mongo = useTestMongo("decimal");
  let n = 0;
  const collection = () => mongo.db.collection<Loose>(`d${n++}`);

  /** `expr` for each document (in _id order) with its `$type`. */
  const evaluateAll = async (docs: Loose[], expr: unknown): Promise<Typed[]> => {
    const coll = collection();
    await coll.insertMany(docs.map((d, i) => ({ _id: i, ...d })));
    const got = await coll.aggregate([{ $sort: { _id: 1 } }, { $project: { _id: 0, v: expr, t: { $type: expr } } }], raw).toArray();
    return got.map((d) => typed(d.v, d.t));
  };
  const evaluate = async (expr: unknown, doc: Loose = {}) => (await evaluateAll([doc], expr))[0]!;
  const fails = async (expr: unknown, code: number, doc: Loose = {}) => {
    await expect(evaluateAll([doc], expr)).rejects.toMatchObject({ code });
  };

  describe("$toDecimal", () => {
    it("makes a double a decimal of 15 significant digits, as Decimal128(double) does", async () => {
      const docs = [{ x: 2.5 }, { x: 0.1 }, { x: 1 / 3 }, { x: 4096.5 }, { x: 1e20 }, { x: 0.9999999999999994 }, { x: -0.0 }, { x: 5e-324 }, { x: 2 ** 53 + 2 }];
      expect(await evaluateAll(docs, { $toDecimal: "$x" })).toEqual([
        ["decimal", "2.50000000000000"],
        ["decimal", "0.100000000000000"],
        ["decimal", "0.333333333333333"],
        ["decimal", "4096.50000000000"],
        ["decimal", "1.00000000000000E+20"],
        ["decimal", "0.999999999999999"],
        ["decimal", "-0"],
        ["decimal", "4.94065645841247E-324"],
        ["decimal", "9.00719925474099E+15"],
      ]);
    });

    it("makes ints, longs, dates and booleans exact decimals, and keeps decimals", async () => {
      const doc = { i: 4096, l: L(TWO_53_PLUS_1), min: Long.MIN_VALUE, d: new Date(1_700_000_000_123), b: true, dec: D("1.50") };
      const got = await Promise.all(["$i", "$l", "$min", "$d", "$b", "$dec"].map((f) => evaluate({ $toDecimal: f }, doc)));
      expect(got).toEqual([
        ["decimal", "4096"],
        ["decimal", TWO_53_PLUS_1],
        ["decimal", "-9223372036854775808"],
        ["decimal", "1700000000123"],
        ["decimal", "1"],
        ["decimal", "1.50"],
      ]);
    });

    it("parses strings as Decimal128 does, more than 34 digits toward zero", async () => {
      const strings = ["1.50", "-0.00", ".5", "5.", "1e3", "+2E-3", "Infinity", "-inf", "NaN", "12345678901234567890123456789012345678", "-12345678901234567890123456789012345678"];
      expect(await evaluateAll(strings.map((s) => ({ s })), { $toDecimal: "$s" })).toEqual([
        ["decimal", "1.50"],
        ["decimal", "-0.00"],
        ["decimal", "0.5"],
        ["decimal", "5"],
        ["decimal", "1E+3"],
        ["decimal", "0.002"],
        ["decimal", "Infinity"],
        ["decimal", "-Infinity"],
        ["decimal", "NaN"],
        ["decimal", "1.234567890123456789012345678901234E+37"],
        ["decimal", "-1.234567890123456789012345678901234E+37"],
      ]);
    });

    it("is null for null and missing, and refuses what MongoDB refuses with ConversionFailure", async () => {
      expect(await evaluateAll([{ x: null }, {}], { $toDecimal: "$x" })).toEqual([
        ["null", null],
        ["null", null],
      ]);
      for (const x of ["abc", "", " 1", "1 ", "0x1A", "1e", "1.2.3", "1E+6145", "1E-6177", { a: 1 }, [1]]) await fails({ $toDecimal: "$x" }, 241, { x });
    });

    it("answers onError and onNull in $convert, and takes type names and codes", async () => {
      expect(await evaluate({ $convert: { input: "x", to: "decimal", onError: "bad" } })).toEqual(["string", "bad"]);
      expect(await evaluate({ $convert: { input: "$missing", to: 19, onNull: "none" } })).toEqual(["string", "none"]);
      expect(await evaluate({ $convert: { input: 0.1, to: 19 } })).toEqual(["decimal", "0.100000000000000"]);
      expect(await evaluate({ $convert: { input: 2.5, to: "long" } })).toEqual(["long", "2"]);
      expect(await evaluate({ $convert: { input: D("7.9"), to: "int" } })).toEqual(["int", 7]);
      expect(await evaluate({ $convert: { input: D("0.1"), to: "double" } })).toEqual(["double", 0.1]);
      await fails({ $convert: { input: "x", to: "decimal" } }, 241);
    });
  });

  describe("$toLong, $toInt and $toDouble", () => {
    it("convert exactly, truncating toward zero", async () => {
      const doc = { s: "9223372036854775807", d: D("-2.9"), big: D("9007199254740993.9"), f: -2.9, l: L(TWO_53_PLUS_1), date: new Date(5) };
      expect(await evaluate({ $toLong: "$s" }, doc)).toEqual(["long", "9223372036854775807"]);
      expect(await evaluate({ $toLong: "$big" }, doc)).toEqual(["long", TWO_53_PLUS_1]);
      expect(await evaluate({ $toLong: "$f" }, doc)).toEqual(["long", "-2"]);
      expect(await evaluate({ $toLong: "$date" }, doc)).toEqual(["long", "5"]);
      expect(await evaluate({ $toLong: "$l" }, doc)).toEqual(["long", TWO_53_PLUS_1]);
      expect(await evaluate({ $toInt: "$d" }, doc)).toEqual(["int", -2]);
      expect(await evaluate({ $toInt: "-2147483648" }, doc)).toEqual(["int", -2147483648]);
      expect(await evaluate({ $toDouble: "$l" }, doc)).toEqual(["double", 9007199254740992]);
      expect(await evaluate({ $toDouble: "$d" }, doc)).toEqual(["double", -2.9]);
      expect(await evaluate({ $toDouble: "1.5e-3" }, doc)).toEqual(["double", 0.0015]);
      expect(await evaluate({ $toDouble: "-Infinity" }, doc)).toEqual(["double", -Infinity]);
    });

    it("refuse NaN, infinities, overflows, bad strings and dates to int with ConversionFailure", async () => {
      const cases: unknown[] = [
        { $toLong: NaN }, { $toLong: Infinity }, { $toLong: 2 ** 63 }, { $toLong: D("NaN") }, { $toLong: D("1E+19") }, { $toLong: "9223372036854775808" },
        { $toLong: "1.5" }, { $toLong: " 1" }, { $toLong: "0x10" }, { $toLong: "" }, { $toInt: "2147483648" }, { $toInt: L("2147483648") },
        { $toInt: D("-Infinity") }, { $toInt: { $literal: new Date(0) } }, { $toDouble: "1e400" }, { $toDouble: "abc" }, { $toDouble: D("1E+400") },
        { $toDouble: { $literal: { a: 1 } } },
      ];
      for (const expr of cases) await fails(expr, 241);
    });
  });

  describe("$type and $isNumber", () => {
    it("name the BSON types as MongoDB does", async () => {
      const doc = { i: 1, big: 3e9, neg: -0.0, l: L("1"), d: D("1"), s: "x" };
      const types = await Promise.all(["$i", "$big", "$neg", "$l", "$d", "$s", "$missing"].map((f) => evaluate({ $type: f }, doc)));
      expect(types.map(([, v]) => v)).toEqual(["int", "double", "double", "long", "decimal", "string", "missing"]);
      const numbers = await Promise.all(["$i", "$l", "$d", "$s"].map((f) => evaluate({ $isNumber: f }, doc)));
      expect(numbers.map(([, v]) => v)).toEqual([true, true, true, false]);
      expect(await evaluate({ $isNumber: D("NaN") })).toEqual(["bool", true]);
    });
  });

  describe("money: decimal products and their sums", () => {
    it("multiplies toDecimal(long milliseconds) by toDecimal(a double) exactly", async () => {
      const doc = { ms: L(TWO_53_PLUS_1), vcpus: 0.1 };
      expect(await evaluate({ $multiply: [{ $toDecimal: "$ms" }, { $toDecimal: "$vcpus" }] }, doc)).toEqual(["decimal", "900719925474099.300000000000000"]);
    });

    it("keeps date − date a whole number that $toDecimal makes exact, past int32 a long", async () => {
      const start = new Date(Date.UTC(2026, 0, 1));
      const docs = [
        { start, end: new Date(start.getTime() + 3_600_000), vcpus: 0.25 },
        { start, end: new Date(start.getTime() + 3_000_000_000), vcpus: 0.25 },
      ];
      const runtime = { $subtract: ["$end", "$start"] };
      const [small, large] = await evaluateAll(docs, runtime);
      // MongoDB answers a long; the engine an int where one holds the value (see arithmetic.ts).
      expect(["long", "int"]).toContain(small![0]);
      expect(Number(small![1])).toBe(3_600_000);
      expect(large).toEqual(["long", "3000000000"]);
      expect(await evaluateAll(docs, { $multiply: [{ $toDecimal: runtime }, { $toDecimal: "$vcpus" }] })).toEqual([
        ["decimal", "900000.000000000000000"],
        ["decimal", "750000000.000000000000000"],
      ]);
    });

    it("sums many decimal products exactly past 2^53, in $group and in the $sum expression", async () => {
      const coll = collection();
      const docs = Array.from({ length: 1000 }, (_, i) => ({ _id: i, ms: Long.fromString(TWO_53_PLUS_1).add(i), vcpus: 0.1 }));
      await coll.insertMany(docs);
      const cost = { $multiply: [{ $toDecimal: "$ms" }, { $toDecimal: "$vcpus" }] };
      const [grouped] = await coll.aggregate([{ $group: { _id: null, total: { $sum: cost } } }], raw).toArray();
      expect(grouped!.total.toString()).toBe("900719925474149250.000000000000000");
      const [pushed] = await coll
        .aggregate([{ $group: { _id: null, costs: { $push: cost } } }, { $project: { total: { $sum: "$costs" }, t: { $type: { $sum: "$costs" } } } }], raw)
        .toArray();
      expect([pushed!.t, pushed!.total.toString()]).toEqual(["decimal", "900719925474149250.000000000000000"]);
      // As doubles the same sum loses the last digits.
      const [doubles] = await coll.aggregate([{ $group: { _id: null, total: { $sum: { $multiply: ["$ms", "$vcpus"] } } } }], raw).toArray();
      expect(String(doubles!.total)).not.toBe("900719925474149250");
    });

    it("rounds to 6 places half to even, as a decimal", async () => {
      const docs = [{ x: 0.1234565 }, { x: 0.1234575 }, { x: 2.5 }, { x: 1 }];
      expect(await evaluateAll(docs, { $round: [{ $toDecimal: "$x" }, 6] })).toEqual([
        ["decimal", "0.123456"],
        ["decimal", "0.123458"],
        ["decimal", "2.500000"],
        ["decimal", "1.000000"],
      ]);
    });
  });

  describe("decimal128 arithmetic", () => {
    it("keeps the ideal exponent of exact results", async () => {
      expect(await evaluate({ $multiply: [D("2.50"), 2] })).toEqual(["decimal", "5.00"]);
      expect(await evaluate({ $multiply: [D("1.10"), D("1.10")] })).toEqual(["decimal", "1.2100"]);
      expect(await evaluate({ $add: [D("1.10"), D("2.205")] })).toEqual(["decimal", "3.305"]);
      expect(await evaluate({ $add: [D("2.50"), 1] })).toEqual(["decimal", "3.50"]);
      expect(await evaluate({ $subtract: [D("0.3"), 0.1] })).toEqual(["decimal", "0.200000000000000"]);
      expect(await evaluate({ $divide: [D("10.00"), 4] })).toEqual(["decimal", "2.50"]);
      expect(await evaluate({ $divide: [1, D("8")] })).toEqual(["decimal", "0.125"]);
    });

    it("rounds results to 34 significant digits, half to even", async () => {
      expect(await evaluate({ $multiply: [D("12345678901234567890"), D("12345678901234567890")] })).toEqual(["decimal", "1.524157875323883675019051998750191E+38"]);
      expect(await evaluate({ $add: [D("9999999999999999999999999999999999"), D("0.5")] })).toEqual(["decimal", "1.000000000000000000000000000000000E+34"]);
      expect(await evaluate({ $add: [D("1234567890123456789012345678901234"), D("0.5")] })).toEqual(["decimal", "1234567890123456789012345678901234"]);
      expect(await evaluate({ $add: [D("1234567890123456789012345678901235"), D("0.5")] })).toEqual(["decimal", "1234567890123456789012345678901236"]);
      expect(await evaluate({ $divide: [D("2"), 3] })).toEqual(["decimal", "0.6666666666666666666666666666666667"]);
      expect(await evaluate({ $divide: [D("1"), 3] })).toEqual(["decimal", "0.3333333333333333333333333333333333"]);
    });

    it("promotes the operands before a decimal as they stand: a double total to 15 digits", async () => {
      expect(await evaluate({ $add: [0.1, 0.2, D("0")] })).toEqual(["decimal", "0.300000000000000"]);
      expect(await evaluate({ $add: [L(TWO_53_PLUS_1), D("0.5")] })).toEqual(["decimal", "9007199254740993.5"]);
      expect(await evaluate({ $multiply: [L(TWO_53_PLUS_1), 10, D("1")] })).toEqual(["decimal", "90071992547409930"]);
    });

    it("rounds, floors and ceils decimals as decimals", async () => {
      const round = (x: string, p?: number) => evaluate(p === undefined ? { $round: [D(x)] } : { $round: [D(x), p] });
      expect(await Promise.all([round("2.5"), round("3.5"), round("-2.5"), round("1", 2), round("1234.5678", -2), round("1E+40", 6), round("Infinity", 2)])).toEqual([
        ["decimal", "2"],
        ["decimal", "4"],
        ["decimal", "-2"],
        ["decimal", "1.00"],
        ["decimal", "1.2E+3"],
        ["decimal", "1.000000000000000000000000000000000E+40"],
        ["decimal", "Infinity"],
      ]);
      expect(await evaluate({ $floor: D("-2.5") })).toEqual(["decimal", "-3"]);
      expect(await evaluate({ $ceil: D("2.01") })).toEqual(["decimal", "3"]);
      expect(await evaluate({ $ceil: D("-0.5") })).toEqual(["decimal", "-0"]);
      expect(await evaluate({ $floor: D("1E+3") })).toEqual(["decimal", "1000"]);
      expect(await evaluate({ $floor: L(TWO_53_PLUS_1) })).toEqual(["long", TWO_53_PLUS_1]);
      expect(await evaluate({ $round: [L("1250"), -2] })).toEqual(["long", "1200"]);
      expect(await evaluate({ $round: [2147483647, -1] })).toEqual(["long", "2147483650"]);
    });

    it("adds dates and decimals or longs in whole milliseconds", async () => {
      const at = new Date(Date.UTC(2026, 0, 1));
      expect(await evaluate({ $add: ["$at", D("2.5")] }, { at })).toEqual(["date", new Date(at.getTime() + 2)]);
      expect(await evaluate({ $add: ["$at", L("5")] }, { at })).toEqual(["date", new Date(at.getTime() + 5)]);
      expect(await evaluate({ $subtract: ["$at", D("1.5")] }, { at })).toEqual(["date", new Date(at.getTime() - 2)]);
      await fails({ $add: ["$at", Long.MAX_VALUE] }, 15, { at });
      await fails({ $add: ["$at", D("NaN")] }, 15, { at });
    });
  });

  describe("long and int promotion", () => {
    it("adds longs exactly past 2^53, and makes an int64 overflow a double", async () => {
      expect(await evaluate({ $add: [L(TWO_53_PLUS_1), L(TWO_53_PLUS_1)] })).toEqual(["long", "18014398509481986"]);
      expect(await evaluate({ $add: [L(TWO_53_PLUS_1), 1] })).toEqual(["long", "9007199254740994"]);
      expect(await evaluate({ $add: [Long.MAX_VALUE, 1] })).toEqual(["double", 9223372036854775808]);
      expect(await evaluate({ $subtract: [L(TWO_53_PLUS_1), L("2")] })).toEqual(["long", "9007199254740991"]);
      expect(await evaluate({ $subtract: [Long.MIN_VALUE, 1] })).toEqual(["double", -9223372036854775808]);
      expect(await evaluate({ $multiply: [L("3037000500"), L("3037000500")] })).toEqual(["double", 9223372037000250000]);
      expect(await evaluate({ $multiply: [L(TWO_53_PLUS_1), 1, 1] })).toEqual(["long", TWO_53_PLUS_1]);
      expect(await evaluate({ $add: [L("1"), 0.5] })).toEqual(["double", 1.5]);
    });

    it("makes an int32 overflow a long", async () => {
      expect(await evaluate({ $add: [2147483647, 1] })).toEqual(["long", "2147483648"]);
      expect(await evaluate({ $subtract: [-2147483648, 1] })).toEqual(["long", "-2147483649"]);
      expect(await evaluate({ $multiply: [65536, 65536] })).toEqual(["long", "4294967296"]);
      expect(await evaluate({ $multiply: [2147483647, 2147483647, 2] })).toEqual(["long", "9223372028264841218"]);
      expect(await evaluate({ $multiply: [0, -5] })).toEqual(["int", 0]);
      expect(await evaluate({ $add: [2147483647, 0.5] })).toEqual(["double", 2147483647.5]);
    });

    it("divides ints and longs into doubles, and refuses a zero divisor, a decimal zero too", async () => {
      expect(await evaluate({ $divide: [L("1"), L("4")] })).toEqual(["double", 0.25]);
      expect(await evaluate({ $divide: [L(TWO_53_PLUS_1), 1] })).toEqual(["double", 9007199254740992]);
      await fails({ $divide: [1, L("0")] }, 2);
      await fails({ $divide: [D("1"), D("-0.00")] }, 2);
      await fails({ $divide: [D("1"), 0] }, 2);
    });

    it("fails wrong types with MongoDB's codes, and is null for null first", async () => {
      await fails({ $add: [D("1"), "x"] }, 14);
      await fails({ $add: [L("1"), "$$NOW", "$$NOW"] }, 16612);
      await fails({ $multiply: [D("1"), "x"] }, 14);
      await fails({ $subtract: [L("1"), "x"] }, 14);
      await fails({ $divide: [D("1"), "x"] }, 14);
      await fails({ $floor: "x" }, 28765);
      await fails({ $round: ["x", 1] }, 51081);
      expect(await evaluate({ $add: [D("1"), null, "x"] })).toEqual(["null", null]);
      expect(await evaluate({ $multiply: [L("2"), "$missing"] })).toEqual(["null", null]);
      expect(await evaluate({ $divide: [D("1"), null] })).toEqual(["null", null]);
    });
  });

  describe("decimals against other numbers", () => {
    const values: Array<[string, unknown]> = [
      ["d0.1", D("0.1")],
      ["f0.1", 0.1],
      ["d0.1+", D("0.1000000000000000055511151231257828")],
      ["d1.0", D("1.0")],
      ["d1+", D("1.000000000000000000000000000000001")],
      ["f2^53", 2 ** 53],
      ["d2^53.5", D("9007199254740992.5")],
      ["l2^53+1", L(TWO_53_PLUS_1)],
      ["dNaN", D("NaN")],
      ["d-inf", D("-Infinity")],
    ];
    const insert = async () => {
      const coll = collection();
      await coll.insertMany(values.map(([name, v]) => ({ _id: name, v }) as Document));
      return coll;
    };

    it("sort exactly", async () => {
      const coll = await insert();
      const ids = async (dir: 1 | -1) => (await coll.find({}, { sort: { v: dir, _id: 1 } }).toArray()).map((d) => d._id);
      expect(await ids(1)).toEqual(["dNaN", "d-inf", "d0.1", "f0.1", "d0.1+", "d1.0", "d1+", "f2^53", "d2^53.5", "l2^53+1"]);
      const pipeline = await coll.aggregate([{ $sort: { v: -1, _id: 1 } }]).toArray();
      expect(pipeline.map((d) => d._id)).toEqual(["l2^53+1", "d2^53.5", "f2^53", "d1+", "d1.0", "d0.1+", "f0.1", "d0.1", "d-inf", "dNaN"]);
    });

    it("match ranges exactly", async () => {
      const coll = await insert();
      const ids = async (filter: Document) => (await coll.find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id).sort();
      expect(await ids({ v: { $gt: 0.1, $lt: 1 } })).toEqual(["d0.1+"]);
      expect(await ids({ v: { $gte: D("1"), $lte: 2 ** 53 } })).toEqual(["d1+", "d1.0", "f2^53"]);
      expect(await ids({ v: { $gt: 2 ** 53 } })).toEqual(["d2^53.5", "l2^53+1"]);
      expect(await ids({ $expr: { $eq: ["$v", D("1.00")] } })).toEqual(["d1.0"]);
      expect(await ids({ $expr: { $lt: ["$v", 0.1] } })).toEqual(["d-inf", "d0.1", "dNaN"]);
    });

    it("are the largest and smallest exactly in $max/$min", async () => {
      const coll = await insert();
      const [g] = await coll
        .aggregate([{ $match: { _id: { $in: ["d1.0", "d1+", "f0.1", "d0.1"] } } }, { $group: { _id: null, max: { $max: "$v" }, min: { $min: "$v" } } }], raw)
        .toArray();
      expect([g!.max.toString(), g!.min.toString()]).toEqual(["1.000000000000000000000000000000001", "0.1"]);
      expect(await evaluate({ $max: [1, D("1.000000000000000000000000000000001"), 0.5] })).toEqual(["decimal", "1.000000000000000000000000000000001"]);
      expect(await evaluate({ $min: [0.1, D("0.1")] })).toEqual(["decimal", "0.1"]);
      expect(await evaluate({ $max: [L(TWO_53_PLUS_1), 2 ** 53] })).toEqual(["long", TWO_53_PLUS_1]);
    });
  });
});
