import { beforeAll, describe, expect, it } from "vitest";
import { Decimal128, Double, Int32, Long, ObjectId } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * BSON types must survive the wire protocol and storage unchanged: values written through the
 * driver read back with the same type and value, and queries compare them by BSON semantics.
 */
describe("embedded mongo: BSON round trips", { timeout: 30_000 }, () => {
  const mongo = useTestMongo("bson");

  it("round-trips Date with millisecond precision", async () => {
    const coll = mongo.db.collection<Loose>("dates");
    const d = new Date("2024-02-29T23:59:59.123Z");
    const epoch = new Date(0);
    const old = new Date("1901-06-01T12:00:00.001Z"); // negative epoch millis
    await coll.insertOne({ _id: 1, d, epoch, old });
    const back = await coll.findOne({ _id: 1 });
    expect(back!.d).toBeInstanceOf(Date);
    expect((back!.d as Date).getTime()).toBe(d.getTime());
    expect((back!.epoch as Date).getTime()).toBe(0);
    expect((back!.old as Date).getTime()).toBe(old.getTime());
  });

  it("round-trips ObjectId", async () => {
    const coll = mongo.db.collection<Loose>("oids");
    const ref = new ObjectId();
    await coll.insertOne({ _id: 1, ref });
    const back = await coll.findOne({ _id: 1 });
    expect(back!.ref).toBeInstanceOf(ObjectId);
    expect((back!.ref as ObjectId).equals(ref)).toBe(true);
    expect((back!.ref as ObjectId).toHexString()).toBe(ref.toHexString());
  });

  it("round-trips Long, small and beyond 2^53, exactly (promoteLongs: false)", async () => {
    const coll = mongo.db.collection<Loose>("longs");
    const small = Long.fromNumber(42);
    // 2^53 + 1 is the first integer a double cannot represent; 2^63 - 1 is the Long maximum.
    const big = Long.fromString("9007199254740993");
    const max = Long.MAX_VALUE;
    const neg = Long.fromString("-9007199254740995");
    await coll.insertOne({ _id: 1, small, big, max, neg });

    const raw = await coll.findOne({ _id: 1 }, { promoteLongs: false });
    for (const [k, v] of [["small", small], ["big", big], ["max", max], ["neg", neg]] as const) {
      const got = raw![k] as Long;
      expect(got, k).toBeInstanceOf(Long);
      expect(got.equals(v), `${k}: ${String(got)} vs ${v.toString()}`).toBe(true);
    }

    // With default promotion a small Long comes back as a JS number.
    const promoted = await coll.findOne({ _id: 1 });
    expect(promoted!.small).toBe(42);

    // Querying by the exact big Long finds it; a neighbouring value does not.
    expect(await coll.countDocuments({ big: Long.fromString("9007199254740993") })).toBe(1);
    expect(await coll.countDocuments({ big: Long.fromString("9007199254740992") })).toBe(0);
  });

  it("round-trips Decimal128 exactly (compare as strings)", async () => {
    const coll = mongo.db.collection<Loose>("decimals");
    const values = ["0.1", "1234567890.123456789012345", "-0.000000000000000001", "9.999999999999999999999999999999999E+6144"];
    await coll.insertMany(values.map((v, i) => ({ _id: i, v: Decimal128.fromString(v) })));
    const back = await coll.find({}).sort({ _id: 1 }).toArray();
    // Compare with the driver's own canonical string (e.g. "-0.000000000000000001" prints as "-1E-18").
    expect(back.map((d) => (d.v as Decimal128).toString())).toEqual(values.map((v) => Decimal128.fromString(v).toString()));
    // And check the exact value is untouched: equal coefficient and exponent means equal bytes.
    expect(back.map((d) => (d.v as Decimal128).bytes.toString())).toEqual(values.map((v) => Decimal128.fromString(v).bytes.toString()));
    expect(back.every((d) => d.v instanceof Decimal128)).toBe(true);
  });

  it("round-trips Int32 and Double values, keeping fractions as doubles", async () => {
    const coll = mongo.db.collection<Loose>("numbers");
    await coll.insertOne({
      _id: 1,
      i32: new Int32(-2147483648),
      dbl: new Double(1.5),
      wholeDouble: new Double(3), // a double holding an integral value
      plainInt: 7,
      plainFrac: 0.25,
      huge: 1e300,
    });
    const back = await coll.findOne({ _id: 1 });
    expect(back).toEqual({
      _id: 1,
      i32: -2147483648,
      dbl: 1.5,
      wholeDouble: 3,
      plainInt: 7,
      plainFrac: 0.25,
      huge: 1e300,
    });

    // With promoteValues off the wrappers show the stored BSON types.
    const raw = await coll.findOne({ _id: 1 }, { promoteValues: false });
    expect(raw!.i32).toBeInstanceOf(Int32);
    expect(raw!.dbl).toBeInstanceOf(Double);
    // A documented limit (README, "Fidelity limits"): the server keeps numbers as JS numbers, so a
    // double holding a whole int32-range value comes back as int32. Its value is unchanged.
    expect(raw!.wholeDouble).toBeInstanceOf(Int32);
    expect(raw!.wholeDouble.valueOf()).toBe(3);
    expect(raw!.plainInt).toBeInstanceOf(Int32);
    expect(raw!.plainFrac).toBeInstanceOf(Double);

    // Numeric comparisons work across BSON number types (int 3 == double 3.0).
    expect(await coll.countDocuments({ wholeDouble: 3 })).toBe(1);
    expect(await coll.countDocuments({ plainInt: new Double(7) })).toBe(1);
  });

  it("round-trips nested documents, arrays, null and booleans", async () => {
    const coll = mongo.db.collection<Loose>("nested");
    const doc = {
      _id: "nested-1",
      t: true,
      f: false,
      nothing: null,
      empty: {},
      emptyArr: [],
      arr: [1, "two", { three: 3 }, [4, [5]], null, false],
      deep: { a: { b: { c: { d: [{ e: new Date(86_400_000) }] } } } },
      "key with spaces": 1,
      unicode: "héllo ✓ 日本",
    };
    await coll.insertOne(doc);
    expect(await coll.findOne({ _id: "nested-1" })).toEqual(doc);

    // Field order within documents is preserved.
    const back = await coll.findOne({ _id: "nested-1" });
    expect(Object.keys(back!)).toEqual(Object.keys(doc));
    expect(Object.keys(back!.deep.a.b.c.d[0])).toEqual(["e"]);

    // null matches explicit null and missing fields; booleans match exactly.
    await coll.insertOne({ _id: "nested-2", t: false });
    expect((await coll.find({ nothing: null }).toArray()).map((d) => d._id).sort()).toEqual(["nested-1", "nested-2"]);
    expect((await coll.find({ nothing: { $exists: true } }).toArray()).map((d) => d._id)).toEqual(["nested-1"]);
    expect((await coll.find({ t: true }).toArray()).map((d) => d._id)).toEqual(["nested-1"]);
    // Dotted paths reach into nested docs and arrays of docs.
    expect(await coll.countDocuments({ "deep.a.b.c.d.e": new Date(86_400_000) })).toBe(1);
    expect(await coll.countDocuments({ "arr.three": 3 })).toBe(1);
  });

  it("supports string and integer _id values", async () => {
    const coll = mongo.db.collection<Loose>("ids");
    await coll.insertMany([{ _id: "abc", v: 1 }, { _id: 123, v: 2 }, { _id: "123", v: 3 }]);
    // 123 (number) and "123" (string) are different _id values.
    expect(await coll.findOne({ _id: 123 })).toEqual({ _id: 123, v: 2 });
    expect(await coll.findOne({ _id: "123" })).toEqual({ _id: "123", v: 3 });
    expect(await coll.findOne({ _id: "abc" })).toEqual({ _id: "abc", v: 1 });
    expect(await coll.countDocuments()).toBe(3);
  });

  it("generates an ObjectId _id when the document has none, and finds by it", async () => {
    const coll = mongo.db.collection<Loose>("gen_ids");
    const res = await coll.insertOne({ x: 1 });
    expect(res.insertedId).toBeInstanceOf(ObjectId);
    const many = await coll.insertMany([{ x: 2 }, { x: 3 }]);
    const ids = Object.values(many.insertedIds);
    expect(ids).toHaveLength(2);

    const byId = await coll.findOne({ _id: res.insertedId });
    expect(byId).toEqual({ _id: res.insertedId, x: 1 });

    const all = await coll.find({}).sort({ x: 1 }).toArray();
    expect(all.every((d) => d._id instanceof ObjectId)).toBe(true);
    expect(all.map((d) => (d._id as ObjectId).toHexString())).toEqual([res.insertedId, ...ids].map((i) => (i as ObjectId).toHexString()));
    // ObjectIds are unique.
    expect(new Set(all.map((d) => (d._id as ObjectId).toHexString())).size).toBe(3);

    // $in over ObjectIds.
    expect(await coll.countDocuments({ _id: { $in: ids } })).toBe(2);
  });

  describe("mixed-type ordering and numeric types", () => {
    // MongoDB's cross-type order: null/missing < numbers < strings < objects < ObjectId < booleans < Dates.
    // Numbers of different BSON types (int, long, double, decimal) interleave by value.
    const docs: Loose[] = [
      { _id: 1, v: new Date(0) },
      { _id: 2, v: true },
      { _id: 3, v: "b" },
      { _id: 4, v: new ObjectId("000000000000000000000001") },
      { _id: 5, v: { x: 1 } },
      { _id: 6, v: Long.fromNumber(3) },
      { _id: 7, v: null },
      { _id: 8 }, // missing sorts like null
      { _id: 9, v: 2.5 },
      { _id: 10, v: "a" },
      { _id: 11, v: false },
      { _id: 12, v: new Int32(-1) },
      { _id: 13, v: Decimal128.fromString("2.75") },
    ];
    /** [type bracket, value within the bracket] for the JS-side reference ordering. */
    const rank = (d: Loose): [number, number | string] => {
      const v = d.v as unknown;
      if (v === undefined || v === null) return [0, 0];
      if (typeof v === "number") return [1, v];
      if (v instanceof Long || v instanceof Int32 || v instanceof Decimal128) return [1, Number(v.toString())];
      if (typeof v === "string") return [2, v];
      if (v instanceof ObjectId) return [4, v.toHexString()];
      if (typeof v === "boolean") return [5, v ? 1 : 0];
      if (v instanceof Date) return [6, v.getTime()];
      return [3, 0]; // plain object
    };
    /** Sort by v in direction `dir`, ties broken by _id ascending (like sort({v: dir, _id: 1})). */
    const expectedOrder = (dir: 1 | -1) =>
      [...docs]
        .sort((a, b) => {
          const [ta, va] = rank(a);
          const [tb, vb] = rank(b);
          if (ta !== tb) return dir * (ta - tb);
          if (va !== vb) return dir * (va < vb ? -1 : 1);
          return (a._id as number) - (b._id as number);
        })
        .map((d) => d._id);

    let coll: ReturnType<typeof mongo.db.collection<Loose>>;
    beforeAll(async () => {
      coll = mongo.db.collection<Loose>("mixed_types");
      await coll.insertMany(docs.map((d) => ({ ...d })));
    });

    it("sorts ascending in BSON comparison order", async () => {
      const got = await coll.find({}).sort({ v: 1, _id: 1 }).toArray();
      expect(got.map((d) => d._id)).toEqual(expectedOrder(1));
    });

    it("sorts descending in reverse BSON comparison order", async () => {
      const got = await coll.find({}).sort({ v: -1, _id: 1 }).toArray();
      expect(got.map((d) => d._id)).toEqual(expectedOrder(-1));
    });

    it("range queries compare numbers across int/long/double/decimal, and only numbers", async () => {
      const got = await coll.find({ v: { $gt: 2 } }).sort({ _id: 1 }).toArray();
      // Numbers > 2: 2.5 (double), 2.75 (decimal), 3 (long). Strings/dates/etc. are other brackets.
      const exp = docs.filter((d) => rank(d)[0] === 1 && (rank(d)[1] as number) > 2).map((d) => d._id as number);
      expect(got.map((d) => d._id)).toEqual(exp.sort((a, b) => a - b));
      expect(exp).toEqual([6, 9, 13]);
    });

    it("$type distinguishes the stored numeric types", async () => {
      const typed = async (t: string) => (await coll.find({ v: { $type: t } }).sort({ _id: 1 }).toArray()).map((d) => d._id);
      expect.soft(await typed("long")).toEqual([6]);
      expect.soft(await typed("int")).toEqual([12]);
      expect.soft(await typed("decimal")).toEqual([13]);
      expect.soft(await typed("double")).toEqual([9]);
      expect.soft(await typed("number")).toEqual([6, 9, 12, 13]);
      expect.soft(await typed("objectId")).toEqual([4]);
      expect.soft(await typed("null")).toEqual([7]);
    });
  });

  it("queries by Date range with $gte/$lt", async () => {
    const coll = mongo.db.collection<Loose>("date_range");
    const base = Date.UTC(2024, 0, 1);
    const hour = 3_600_000;
    // One doc every 5 hours over 4 days.
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: i, ts: new Date(base + i * 5 * hour) }));
    await coll.insertMany(docs);

    const from = new Date(base + 24 * hour);
    const to = new Date(base + 48 * hour);
    const got = await coll.find({ ts: { $gte: from, $lt: to } }).sort({ ts: 1 }).toArray();
    const expected = docs.filter((d) => d.ts.getTime() >= from.getTime() && d.ts.getTime() < to.getTime());
    expect(expected.length).toBeGreaterThan(0);
    expect(got.map((d) => d._id)).toEqual(expected.map((d) => d._id));

    // Exact Date equality.
    expect(await coll.countDocuments({ ts: new Date(base + 25 * hour) })).toBe(1);
    // A Date never equals a number with the same millis (different BSON types).
    expect(await coll.countDocuments({ ts: base + 25 * hour })).toBe(0);
  });
});
