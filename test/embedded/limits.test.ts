/**
 * MongoDB's limits over the driver, with mongod's codes and messages: 16 MiB per stored document
 * on every write path, 100 MiB per group for `$push`/`$addToSet`, the documents `$densify` may
 * generate, and the server parameters (setParameter/getParameter) that move those bounds.
 */
import { MongoServerError, type Document } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const MAX = 16 * 1024 * 1024;
/** {_id: <int32>, x: <string>} takes 4 + 1+4+4 (_id) + 1+2+4+len+1 (x) + 1 bytes = 22 + len. */
const docOfSize = (bytes: number, id: number) => ({ _id: id, x: "a".repeat(bytes - 22) });
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    if (err instanceof MongoServerError) return { code: err.code, message: err.message };
    throw err;
  }
  return { code: 0, message: "" };
};

describe("the 16 MiB document limit", () => {
  const mongo = useTestMongo("limits");

  it("stores a document of exactly 16 MiB and refuses one byte more on insert (BadValue, as fixDocumentForInsert)", async () => {
    const coll = mongo.db.collection<Loose>("insert");
    await coll.insertOne(docOfSize(MAX, 1));
    expect((await coll.findOne({ _id: 1 }, { projection: { _id: 1 } }))?._id).toBe(1);
    const over = await mongo.db.command({ insert: "insert", documents: [docOfSize(MAX + 1, 2)] });
    expect(over.n).toBe(0);
    expect(over.writeErrors[0]).toMatchObject({ index: 0, code: 2, errmsg: `object to insert too large. size in bytes: ${MAX + 1}, max size: ${MAX}` });
    expect(await coll.countDocuments({ _id: 2 })).toBe(0);
  });

  it("refuses an update whose result passes the limit (17419) and an upsert that would insert too much (17420)", async () => {
    const coll = mongo.db.collection<Loose>("update");
    await coll.insertOne({ _id: 1, x: "a".repeat(MAX / 2) });
    const grown = await codeOf(coll.updateOne({ _id: 1 }, { $set: { y: "b".repeat(MAX / 2) } }));
    expect(grown).toEqual({ code: 17419, message: `Resulting document after update is larger than ${MAX}` });
    expect((await coll.findOne({ _id: 1 }))?.y).toBeUndefined();
    // The same through a replacement and a pipeline update.
    expect((await codeOf(coll.replaceOne({ _id: 1 }, { x: "c".repeat(MAX) }))).code).toBe(17419);
    expect((await codeOf(coll.updateOne({ _id: 1 }, [{ $set: { y: { $concat: ["$x", "$x", "$x"] } } }]))).code).toBe(17419);
    const upsert = await codeOf(coll.updateOne({ _id: 2 }, { $set: { x: "d".repeat(MAX) } }, { upsert: true }));
    expect(upsert).toEqual({ code: 17420, message: `Document to upsert is larger than ${MAX}` });
    expect(await coll.countDocuments({ _id: 2 })).toBe(0);
  });

  it("refuses findAndModify results past the limit, updating (17419) or upserting (17420)", async () => {
    const coll = mongo.db.collection<Loose>("fam");
    await coll.insertOne({ _id: 1, x: "a".repeat(MAX / 2) });
    expect((await codeOf(coll.findOneAndUpdate({ _id: 1 }, { $set: { y: "b".repeat(MAX / 2) } }))).code).toBe(17419);
    expect((await codeOf(coll.findOneAndUpdate({ _id: 9 }, { $set: { y: "b".repeat(MAX) } }, { upsert: true }))).code).toBe(17420);
    expect(await coll.countDocuments()).toBe(1);
  });

  it("refuses $merge and $out documents past the limit, whether inserted or updated", async () => {
    const src = mongo.db.collection<Loose>("merge_src");
    await src.insertOne({ _id: 1, x: "a".repeat(MAX / 2 + 10) });
    const doubled = [{ $set: { x: { $concat: ["$x", "$x"] } } }];
    // Not matched, inserted: an upsert in mongod's $merge (17420), an insert with whenMatched "fail" (BadValue).
    expect((await codeOf(src.aggregate([...doubled, { $merge: { into: "merge_dst" } }]).toArray())).code).toBe(17420);
    expect((await codeOf(src.aggregate([...doubled, { $merge: { into: "merge_dst", whenMatched: "fail" } }]).toArray())).code).toBe(2);
    // Matched and merged into something too large: 17419.
    await mongo.db.collection<Loose>("merge_dst").insertOne({ _id: 1, y: "b".repeat(MAX / 2) });
    expect((await codeOf(src.aggregate([{ $merge: { into: "merge_dst" } }]).toArray())).code).toBe(17419);
    expect((await codeOf(src.aggregate([...doubled, { $out: "out_dst" }]).toArray())).code).toBe(2);
    expect(await mongo.db.collection("out_dst").countDocuments()).toBe(0);
  });
});

describe("accumulator memory and $densify limits", () => {
  const mongo = useTestMongo("limits_acc");
  const admin = () => mongo.client.db("admin");
  afterEach(async () => {
    await admin().command({ setParameter: 1, internalQueryMaxPushBytes: 100 * 1024 * 1024, internalQueryMaxAddToSetBytes: 100 * 1024 * 1024, internalQueryMaxAllowedDensifyDocs: 500_000 });
  });

  it("fails a group whose $push holds past the real 100 MiB default (ExceededMemoryLimit 146)", async () => {
    const coll = mongo.db.collection<Loose>("push");
    await coll.insertOne({ _id: 1, s: "x".repeat(1024 * 1024) });
    // One 1 MiB string pushed 101 times: what mongod counts passes 100 MiB; 99 times does not.
    const pushed = (n: number): Document[] => [{ $set: { r: { $range: [0, n] } } }, { $unwind: "$r" }, { $group: { _id: null, all: { $push: "$s" } } }, { $project: { n: { $size: "$all" } } }];
    expect(await coll.aggregate(pushed(99)).toArray()).toEqual([{ _id: null, n: 99 }]);
    const err = await codeOf(coll.aggregate(pushed(101)).toArray());
    expect(err).toEqual({ code: 146, message: "$push used too much memory and cannot spill to disk. Memory limit: 104857600 bytes" });
  });

  it("takes the $push and $addToSet limits from setParameter, as mongod does", async () => {
    const coll = mongo.db.collection<Loose>("small");
    await coll.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i, s: `string number ${i}` })));
    const was = await admin().command({ setParameter: 1, internalQueryMaxAddToSetBytes: 1000 });
    expect(was.was).toBe(100 * 1024 * 1024);
    expect(await admin().command({ getParameter: 1, internalQueryMaxAddToSetBytes: 1 })).toMatchObject({ internalQueryMaxAddToSetBytes: 1000 });
    const set = await codeOf(coll.aggregate([{ $group: { _id: null, s: { $addToSet: "$s" } } }]).toArray());
    expect(set).toEqual({ code: 146, message: "$addToSet used too much memory and cannot spill to disk. Memory limit: 1000 bytes" });
    // Duplicates take no memory: one distinct value fits where 100 did not.
    expect(await coll.aggregate([{ $group: { _id: null, s: { $addToSet: "same" } } }]).toArray()).toEqual([{ _id: null, s: ["same"] }]);
    // Per group: ten groups of ten values each fit.
    expect(await coll.aggregate([{ $group: { _id: { $mod: ["$_id", 10] }, s: { $addToSet: "$s" } } }]).toArray()).toHaveLength(10);
    await admin().command({ setParameter: 1, internalQueryMaxPushBytes: 1000 });
    expect((await codeOf(coll.aggregate([{ $group: { _id: null, s: { $push: "$s" } } }]).toArray())).code).toBe(146);
  });

  it("fails a $densify generating more than internalQueryMaxAllowedDensifyDocs (5897900)", async () => {
    const coll = mongo.db.collection<Loose>("densify");
    await coll.insertMany([{ _id: 1, n: 0 }, { _id: 2, n: 20 }]);
    await admin().command({ setParameter: 1, internalQueryMaxAllowedDensifyDocs: 19 });
    const stage = { $densify: { field: "n", range: { step: 1, bounds: "full" } } };
    // 0..20 holds 19 values to generate: exactly the limit.
    expect(await coll.aggregate([stage]).toArray()).toHaveLength(21);
    await admin().command({ setParameter: 1, internalQueryMaxAllowedDensifyDocs: 18 });
    expect(await codeOf(coll.aggregate([stage]).toArray())).toEqual({
      code: 5897900,
      message: "Generated 19 documents in $densify, which is over the limit of 18. Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents",
    });
  });

  it("answers setParameter and getParameter only on admin, and refuses unknown parameters and bad values", async () => {
    expect((await codeOf(mongo.db.command({ setParameter: 1, internalQueryMaxPushBytes: 10 }))).code).toBe(13);
    expect((await codeOf(admin().command({ setParameter: 1, noSuchParameter: 1 }))).code).toBe(72);
    expect((await codeOf(admin().command({ setParameter: 1, internalQueryMaxPushBytes: -1 }))).code).toBe(2);
    const all = await admin().command({ getParameter: "*" });
    expect(all).toMatchObject({ internalQueryMaxPushBytes: 104857600, internalQueryMaxAddToSetBytes: 104857600, internalQueryMaxAllowedDensifyDocs: 500000 });
  });
});
