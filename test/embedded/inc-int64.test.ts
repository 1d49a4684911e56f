/**
 * `$inc` keeps MongoDB's numeric types: an int32 that overflows becomes a long, a long stays a
 * long and exact past 2^53, a long that overflows int64 fails with BadValue, and a double makes
 * a double. Types are read back with `promoteLongs: false`, so a long is seen as one.
 */
import { Long } from "mongodb";
import { describe, expect, it } from "vitest";
import { useTestMongo } from "../helpers/mongo.js";

const mongo = useTestMongo("inc-int64");
const raw = { promoteLongs: false, promoteValues: true } as const;

describe("$inc with int64", () => {
  it("promotes an int32 overflow to a long", async () => {
    const c = mongo.db.collection("inc1");
    await c.insertOne({ _id: 1 as never, n: 2 ** 31 - 1 });
    await c.updateOne({ _id: 1 as never }, { $inc: { n: 1 } });
    const doc = await c.findOne({ _id: 1 as never }, raw);
    expect(doc!.n).toBeInstanceOf(Long);
    expect((doc!.n as Long).toString()).toBe("2147483648");
  });

  it("adds longs exactly past 2^53, upserting and into nested fields", async () => {
    const c = mongo.db.collection("inc2");
    const max = Long.fromNumber(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < 3; i++) await c.updateOne({ _id: 2 as never }, { $inc: { n: max, "a.b": max } }, { upsert: true });
    const doc = await c.findOne({ _id: 2 as never }, raw);
    expect((doc!.n as Long).toString()).toBe("27021597764222973");
    expect((doc!.a.b as Long).toString()).toBe("27021597764222973");
    // $sum over such longs stays exact too.
    await c.insertOne({ _id: 3 as never, n: max });
    const [sum] = await c.aggregate([{ $group: { _id: null, s: { $sum: "$n" } } }], raw).toArray();
    expect((sum!.s as Long).toString()).toBe("36028797018963964");
  });

  it("fails an int64 overflow with BadValue and leaves the document as it was", async () => {
    const c = mongo.db.collection("inc3");
    await c.insertOne({ _id: 4 as never, n: Long.MAX_VALUE });
    await expect(c.updateOne({ _id: 4 as never }, { $inc: { n: 1 } })).rejects.toMatchObject({ code: 2 });
    expect(((await c.findOne({ _id: 4 as never }, raw))!.n as Long).toString()).toBe(Long.MAX_VALUE.toString());
  });

  it("makes a double of a long plus a double", async () => {
    const c = mongo.db.collection("inc4");
    await c.insertOne({ _id: 5 as never, n: Long.fromNumber(10) });
    await c.updateOne({ _id: 5 as never }, { $inc: { n: 0.5 } });
    expect((await c.findOne({ _id: 5 as never }, raw))!.n).toBe(10.5);
  });
});
