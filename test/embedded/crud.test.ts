import { describe, expect, it } from "vitest";
import { Long, MongoServerError, ObjectId } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * Basic CRUD through the official driver. Every expected value is computed from the fixture in
 * plain JS, so the assertions encode MongoDB semantics, not whatever the server happened to return.
 */

interface Product {
  _id: number;
  name: string;
  cat: string;
  price: number;
  qty: number;
  tags: string[];
}

const CATS = ["a", "b", "c", "d"];
const TAGS = ["red", "green", "blue"];

/** 40 deterministic products; price/qty chosen so that sort keys have ties (qty repeats every 7). */
function products(): Product[] {
  const out: Product[] = [];
  for (let i = 0; i < 40; i++) {
    out.push({
      _id: i,
      name: `p${String(i).padStart(2, "0")}`,
      cat: CATS[i % CATS.length]!,
      price: (i * 37) % 100,
      qty: i % 7,
      tags: TAGS.filter((_, t) => (i >> t) & 1),
    });
  }
  return out;
}

/** Comparator for a multi-key sort spec over plain numbers/strings, like MongoDB's. */
function bySpec(spec: [keyof Product, 1 | -1][]) {
  return (x: Product, y: Product): number => {
    for (const [k, dir] of spec) {
      const a = x[k] as number | string;
      const b = y[k] as number | string;
      if (a < b) return -dir;
      if (a > b) return dir;
    }
    return 0;
  };
}

describe("embedded mongo: CRUD", { timeout: 30_000 }, () => {
  const mongo = useTestMongo("crud");

  async function seeded(name: string) {
    const coll = mongo.db.collection<Product>(name);
    const data = products();
    const res = await coll.insertMany(data);
    expect(res.insertedCount).toBe(data.length);
    return { coll, data };
  }

  describe("insert and find", () => {
    it("insertOne returns the id and the doc reads back", async () => {
      const coll = mongo.db.collection<Loose>("ins_one");
      const res = await coll.insertOne({ _id: new ObjectId("64b000000000000000000001"), a: 1, s: "x" });
      expect(res.acknowledged).toBe(true);
      expect(res.insertedId).toEqual(new ObjectId("64b000000000000000000001"));
      const doc = await coll.findOne({ a: 1 });
      expect(doc).toEqual({ _id: new ObjectId("64b000000000000000000001"), a: 1, s: "x" });
    });

    it("insertMany reports every inserted id by index", async () => {
      const coll = mongo.db.collection<Loose>("ins_many");
      const docs = [{ _id: "x" }, { _id: "y" }, { _id: "z" }];
      const res = await coll.insertMany(docs);
      expect(res.insertedCount).toBe(3);
      expect(res.insertedIds).toEqual({ 0: "x", 1: "y", 2: "z" });
      expect(await coll.countDocuments()).toBe(3);
    });

    it("find filters with equality, comparison, $in, $and/$or and array membership", async () => {
      const { coll, data } = await seeded("find_filter");

      const eq = await coll.find({ cat: "b" }).toArray();
      expect(eq.map((d) => d._id).sort((a, b) => a - b)).toEqual(data.filter((d) => d.cat === "b").map((d) => d._id));

      const range = await coll.find({ price: { $gte: 20, $lt: 60 } }).toArray();
      expect(range.map((d) => d._id).sort((a, b) => a - b)).toEqual(
        data.filter((d) => d.price >= 20 && d.price < 60).map((d) => d._id),
      );

      const inq = await coll.find({ qty: { $in: [0, 3] }, cat: { $ne: "a" } }).toArray();
      expect(inq.map((d) => d._id).sort((a, b) => a - b)).toEqual(
        data.filter((d) => (d.qty === 0 || d.qty === 3) && d.cat !== "a").map((d) => d._id),
      );

      const or = await coll.find({ $or: [{ cat: "c" }, { price: { $lt: 10 } }] }).toArray();
      expect(or.map((d) => d._id).sort((a, b) => a - b)).toEqual(
        data.filter((d) => d.cat === "c" || d.price < 10).map((d) => d._id),
      );

      // Equality against an array field matches when any element is equal.
      const tag = await coll.find({ tags: "blue" }).toArray();
      expect(tag.map((d) => d._id).sort((a, b) => a - b)).toEqual(
        data.filter((d) => d.tags.includes("blue")).map((d) => d._id),
      );
    });

    it("projects with inclusion (with and without _id) and exclusion", async () => {
      const { coll } = await seeded("find_proj");

      const inc = await coll.find({ _id: 5 }, { projection: { name: 1, price: 1 } }).toArray();
      // Inclusion keeps _id unless explicitly excluded.
      expect(inc).toEqual([{ _id: 5, name: "p05", price: (5 * 37) % 100 }]);

      const incNoId = await coll.find({ _id: 5 }, { projection: { name: 1, _id: 0 } }).toArray();
      expect(incNoId).toEqual([{ name: "p05" }]);

      const exc = await coll.find({ _id: 5 }, { projection: { tags: 0, qty: 0 } }).toArray();
      expect(exc).toEqual([{ _id: 5, name: "p05", cat: CATS[5 % 4], price: (5 * 37) % 100 }]);
    });

    it("sorts by several keys in mixed directions, then skips and limits", async () => {
      const { coll, data } = await seeded("find_sort");
      // qty has ties (period 7), price breaks most of them; _id makes the order total.
      const expected = [...data].sort(bySpec([["qty", -1], ["price", 1], ["_id", 1]]));

      const all = await coll.find({}).sort({ qty: -1, price: 1, _id: 1 }).toArray();
      expect(all.map((d) => d._id)).toEqual(expected.map((d) => d._id));

      const page = await coll.find({}).sort({ qty: -1, price: 1, _id: 1 }).skip(7).limit(9).toArray();
      expect(page.map((d) => d._id)).toEqual(expected.slice(7, 16).map((d) => d._id));

      const asc = await coll.find({ cat: "d" }, { sort: { name: -1 }, limit: 3 }).toArray();
      const expAsc = data.filter((d) => d.cat === "d").sort((x, y) => (x.name < y.name ? 1 : -1)).slice(0, 3);
      expect(asc.map((d) => d.name)).toEqual(expAsc.map((d) => d.name));
    });

    it("iterates 250 docs with batchSize 10 (one find + 24 getMores)", async () => {
      const coll = mongo.db.collection<Loose>("batch250");
      await coll.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i, v: i * 2 })));
      const seen: number[] = [];
      for await (const doc of coll.find({}).sort({ _id: 1 }).batchSize(10)) {
        seen.push(doc._id as unknown as number);
      }
      expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    });

    it("handles ~30 MB of documents: split insert batches and multi-batch reads", { timeout: 120_000 }, async () => {
      const coll = mongo.db.collection<Loose>("big");
      const N = 30_000;
      const pad = "x".repeat(1_000);
      // ~30 MB in one insertMany: more than a 16 MB BSON document and well past one reply batch,
      // so the driver must split the writes and the server must split its replies.
      const res = await coll.insertMany(Array.from({ length: N }, (_, i) => ({ _id: i, pad, m: i % 7 })));
      expect(res.insertedCount).toBe(N);
      expect(await coll.countDocuments()).toBe(N);
      let n = 0;
      let sum = 0;
      for await (const d of coll.find({}, { projection: { m: 1, pad: 1 } })) {
        n++;
        sum += d.m as number;
        expect(d.pad).toHaveLength(1_000);
      }
      expect(n).toBe(N);
      let expSum = 0;
      for (let i = 0; i < N; i++) expSum += i % 7;
      expect(sum).toBe(expSum);
      const grouped = await coll.aggregate([{ $group: { _id: "$m", n: { $sum: 1 } } }, { $sort: { _id: 1 } }]).toArray();
      expect(grouped).toEqual(Array.from({ length: 7 }, (_, m) => ({ _id: m, n: Math.floor((N - 1 - m) / 7) + 1 })));
    });

    it("closes a cursor early (killCursors) and a killed cursor cannot be continued", async () => {
      const coll = mongo.db.collection<Loose>("kill");
      await coll.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i })));

      const cursor = coll.find({}).batchSize(10);
      for (let i = 0; i < 15; i++) expect(await cursor.next()).not.toBeNull();
      // After the first batch is exhausted, a live server-side cursor must exist.
      expect(cursor.id).toBeDefined();
      expect(cursor.id!.isZero()).toBe(false);
      await expect(cursor.close()).resolves.toBeUndefined();

      // Same thing at the command level: find -> killCursors -> getMore fails with CursorNotFound.
      const found = await mongo.db.command({ find: "kill", filter: {}, batchSize: 5 });
      expect(found.cursor.firstBatch).toHaveLength(5);
      const id = found.cursor.id as Long | number;
      const idLong = typeof id === "number" ? Long.fromNumber(id) : id;
      expect(idLong.isZero()).toBe(false);
      const killed = await mongo.db.command({ killCursors: "kill", cursors: [idLong] });
      expect(killed.cursorsKilled.map((x: Long | number) => String(x))).toEqual([idLong.toString()]);
      const err = await mongo.db.command({ getMore: idLong, collection: "kill" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(43); // CursorNotFound

      // Collection still readable after all that.
      expect(await coll.countDocuments()).toBe(100);
    });
  });

  describe("counting and distinct", () => {
    it("countDocuments, estimatedDocumentCount, distinct", async () => {
      const { coll, data } = await seeded("counts");
      expect(await coll.countDocuments()).toBe(data.length);
      expect(await coll.countDocuments({ cat: "a", price: { $gt: 30 } })).toBe(
        data.filter((d) => d.cat === "a" && d.price > 30).length,
      );
      // skip/limit apply to countDocuments too.
      expect(await coll.countDocuments({}, { skip: 5, limit: 10 })).toBe(Math.min(10, data.length - 5));
      expect(await coll.estimatedDocumentCount()).toBe(data.length);

      const cats = await coll.distinct("cat");
      expect([...cats].sort()).toEqual([...new Set(data.map((d) => d.cat))].sort());

      const qtys = await coll.distinct("qty", { cat: "b" });
      expect([...qtys].sort((a, b) => a - b)).toEqual(
        [...new Set(data.filter((d) => d.cat === "b").map((d) => d.qty))].sort((a, b) => a - b),
      );

      // distinct over an array field yields the individual elements.
      const tags = await coll.distinct("tags");
      expect([...tags].sort()).toEqual([...new Set(data.flatMap((d) => d.tags))].sort());
    });
  });

  describe("updates", () => {
    it("updateOne with $set $inc $max $min $unset", async () => {
      const coll = mongo.db.collection<Loose>("upd_ops");
      await coll.insertOne({ _id: 1, a: 5, b: 10, c: 10, d: "gone", n: { x: 1 } });

      const r1 = await coll.updateOne(
        { _id: 1 },
        { $set: { s: "hi", "n.y": 2 }, $inc: { a: 3 }, $max: { b: 7 }, $min: { c: 4 }, $unset: { d: "" } },
      );
      expect(r1.matchedCount).toBe(1);
      expect(r1.modifiedCount).toBe(1);
      // $max 7 < 10 keeps b; $min 4 < 10 lowers c; $inc 5+3.
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, a: 8, b: 10, c: 4, n: { x: 1, y: 2 }, s: "hi" });

      const r2 = await coll.updateOne({ _id: 1 }, { $max: { b: 12 }, $min: { c: 9 }, $inc: { fresh: 2 } });
      // $max raises b to 12, $min 9 > 4 keeps c, $inc on a missing field creates it.
      expect(await coll.findOne({ _id: 1 })).toMatchObject({ b: 12, c: 4, fresh: 2 });
      expect(r2.modifiedCount).toBe(1);

      // Setting a field to its current value is a no-op: matched but not modified.
      const r3 = await coll.updateOne({ _id: 1 }, { $set: { a: 8 } });
      expect(r3.matchedCount).toBe(1);
      expect(r3.modifiedCount).toBe(0);

      const r4 = await coll.updateOne({ _id: 999 }, { $set: { a: 1 } });
      expect(r4.matchedCount).toBe(0);
      expect(r4.modifiedCount).toBe(0);
      expect(r4.upsertedId).toBeNull();
    });

    it("updateMany counts matched and modified separately", async () => {
      const { coll, data } = await seeded("upd_many");
      const res = await coll.updateMany({ cat: "c" }, { $inc: { qty: 100 } });
      const nC = data.filter((d) => d.cat === "c").length;
      expect(res.matchedCount).toBe(nC);
      expect(res.modifiedCount).toBe(nC);
      const after = await coll.find({ cat: "c" }).sort({ _id: 1 }).toArray();
      expect(after.map((d) => d.qty)).toEqual(data.filter((d) => d.cat === "c").map((d) => d.qty + 100));

      // Only docs whose price differs from 50 actually change.
      const res2 = await coll.updateMany({ cat: "a" }, { $set: { price: 50 } });
      const inA = data.filter((d) => d.cat === "a");
      expect(res2.matchedCount).toBe(inA.length);
      expect(res2.modifiedCount).toBe(inA.filter((d) => d.price !== 50).length);
    });

    it("upserts with the filter's equality fields plus $setOnInsert, and skips $setOnInsert on match", async () => {
      const coll = mongo.db.collection<Loose>("upsert");
      const r1 = await coll.updateOne(
        { sku: "k1", qty: 5, price: { $gt: 1 } },
        { $set: { label: "first" }, $setOnInsert: { created: 1 } },
        { upsert: true },
      );
      expect(r1.matchedCount).toBe(0);
      expect(r1.modifiedCount).toBe(0);
      expect(r1.upsertedCount).toBe(1);
      expect(r1.upsertedId).toBeInstanceOf(ObjectId);
      const doc = await coll.findOne({ sku: "k1" });
      // Equality fields (sku, qty) are copied from the filter; the $gt condition is not.
      expect(doc).toEqual({ _id: r1.upsertedId, sku: "k1", qty: 5, label: "first", created: 1 });

      // Filter no longer matches ({price:{$gt:1}} is missing) -> would upsert again, so use sku only.
      const r2 = await coll.updateOne(
        { sku: "k1" },
        { $set: { label: "second" }, $setOnInsert: { created: 2 } },
        { upsert: true },
      );
      expect(r2.matchedCount).toBe(1);
      expect(r2.modifiedCount).toBe(1);
      expect(r2.upsertedCount).toBe(0);
      expect(r2.upsertedId).toBeNull();
      expect(await coll.findOne({ sku: "k1" })).toEqual({ _id: r1.upsertedId, sku: "k1", qty: 5, label: "second", created: 1 });

      // An explicit _id in the filter becomes the upserted _id.
      const r3 = await coll.updateOne({ _id: "given" as unknown as ObjectId }, { $inc: { n: 1 } }, { upsert: true });
      expect(r3.upsertedId).toBe("given");
      expect(await coll.findOne({ _id: "given" as unknown as ObjectId })).toEqual({ _id: "given", n: 1 });
      expect(await coll.countDocuments()).toBe(2);
    });

    it("replaceOne keeps _id and replaces every other field", async () => {
      const coll = mongo.db.collection<Loose>("replace");
      await coll.insertMany([{ _id: 1, a: 1, b: 2 }, { _id: 2, a: 1 }]);
      const res = await coll.replaceOne({ _id: 1 }, { c: 3 });
      expect(res.matchedCount).toBe(1);
      expect(res.modifiedCount).toBe(1);
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, c: 3 });
      expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, a: 1 });

      const up = await coll.replaceOne({ _id: 3 }, { z: 9 }, { upsert: true });
      expect(up.upsertedId).toBe(3);
      expect(await coll.findOne({ _id: 3 })).toEqual({ _id: 3, z: 9 });
    });
  });

  describe("deletes", () => {
    it("deleteOne deletes at most one; deleteMany deletes all matches", async () => {
      const { coll, data } = await seeded("deletes");
      const one = await coll.deleteOne({ cat: "a" });
      expect(one.deletedCount).toBe(1);
      const nA = data.filter((d) => d.cat === "a").length;
      expect(await coll.countDocuments({ cat: "a" })).toBe(nA - 1);

      // Which "a" doc deleteOne removed is unspecified; find out, then predict deleteMany from the rest.
      const afterOne = new Set((await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
      const gone = data.filter((d) => !afterOne.has(d._id));
      expect(gone).toHaveLength(1);
      expect(gone[0]!.cat).toBe("a");

      const many = await coll.deleteMany({ price: { $lt: 50 } });
      expect(many.deletedCount).toBe(data.filter((d) => afterOne.has(d._id) && d.price < 50).length);
      const remaining = await coll.find({}).toArray();
      expect(remaining.map((d) => d._id).sort((a, b) => a - b)).toEqual(
        data.filter((d) => afterOne.has(d._id) && d.price >= 50).map((d) => d._id),
      );

      expect((await coll.deleteMany({ cat: "nope" })).deletedCount).toBe(0);
      const all = await coll.deleteMany({});
      expect(all.deletedCount).toBe(remaining.length);
      expect(await coll.countDocuments()).toBe(0);
    });
  });

  describe("findOneAnd*", () => {
    it("findOneAndUpdate returns the before/after doc and can upsert", async () => {
      const coll = mongo.db.collection<Loose>("fam_update");
      await coll.insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }]);

      const before = await coll.findOneAndUpdate({ _id: 1 }, { $inc: { n: 10 } }, { returnDocument: "before" });
      expect(before).toEqual({ _id: 1, n: 1 });
      const after = await coll.findOneAndUpdate({ _id: 1 }, { $inc: { n: 10 } }, { returnDocument: "after" });
      expect(after).toEqual({ _id: 1, n: 21 });

      // sort decides which of several matches is modified.
      const top = await coll.findOneAndUpdate({}, { $set: { top: true } }, { sort: { n: -1 }, returnDocument: "after" });
      expect(top).toEqual({ _id: 1, n: 21, top: true });

      expect(await coll.findOneAndUpdate({ _id: 9 }, { $set: { n: 9 } })).toBeNull();
      expect(await coll.countDocuments()).toBe(2);

      const upBefore = await coll.findOneAndUpdate({ _id: 7 }, { $set: { n: 7 } }, { upsert: true, returnDocument: "before" });
      expect(upBefore).toBeNull();
      const upAfter = await coll.findOneAndUpdate(
        { _id: 8 },
        { $set: { n: 8 }, $setOnInsert: { fresh: true } },
        { upsert: true, returnDocument: "after" },
      );
      expect(upAfter).toEqual({ _id: 8, n: 8, fresh: true });
      expect(await coll.countDocuments()).toBe(4);

      // Projection applies to the returned document.
      const proj = await coll.findOneAndUpdate({ _id: 2 }, { $set: { q: 1 } }, { returnDocument: "after", projection: { q: 1, _id: 0 } });
      expect(proj).toEqual({ q: 1 });

      const meta = await coll.findOneAndUpdate({ _id: 2 }, { $set: { q: 2 } }, { includeResultMetadata: true });
      expect(meta.ok).toBe(1);
      expect(meta.value).toEqual({ _id: 2, n: 2, q: 1 });
      expect(meta.lastErrorObject?.n).toBe(1);
      expect(meta.lastErrorObject?.updatedExisting).toBe(true);
    });

    it("findOneAndDelete and findOneAndReplace", async () => {
      const coll = mongo.db.collection<Loose>("fam_other");
      await coll.insertMany([{ _id: 1, g: "x", n: 3 }, { _id: 2, g: "x", n: 5 }, { _id: 3, g: "y", n: 1 }]);

      const del = await coll.findOneAndDelete({ g: "x" }, { sort: { n: -1 } });
      expect(del).toEqual({ _id: 2, g: "x", n: 5 });
      expect(await coll.countDocuments()).toBe(2);
      expect(await coll.findOneAndDelete({ g: "none" })).toBeNull();

      const repBefore = await coll.findOneAndReplace({ _id: 3 }, { g: "z", m: 1 });
      expect(repBefore).toEqual({ _id: 3, g: "y", n: 1 });
      const repAfter = await coll.findOneAndReplace({ _id: 3 }, { g: "w" }, { returnDocument: "after" });
      expect(repAfter).toEqual({ _id: 3, g: "w" });
      const repUpsert = await coll.findOneAndReplace({ _id: 4 }, { g: "new" }, { upsert: true, returnDocument: "after" });
      expect(repUpsert).toEqual({ _id: 4, g: "new" });
      expect(await coll.find({}).sort({ _id: 1 }).toArray()).toEqual([
        { _id: 1, g: "x", n: 3 },
        { _id: 3, g: "w" },
        { _id: 4, g: "new" },
      ]);
    });
  });

  describe("bulkWrite", () => {
    it("runs mixed operations in order and reports each count", async () => {
      const coll = mongo.db.collection<Loose>("bulk");
      await coll.insertMany([
        { _id: 1, k: "a", n: 1 },
        { _id: 2, k: "a", n: 2 },
        { _id: 3, k: "b", n: 3 },
        { _id: 4, k: "c", n: 4 },
      ]);
      const res = await coll.bulkWrite([
        { insertOne: { document: { _id: 5, k: "b", n: 5 } } }, // 5 docs
        { updateOne: { filter: { _id: 1 }, update: { $set: { n: 10 } } } }, // matched 1, modified 1
        { updateMany: { filter: { k: "b" }, update: { $inc: { n: 100 } } } }, // _id 3 and 5: matched 2, modified 2
        { updateOne: { filter: { _id: 99 }, update: { $set: { n: 99 } }, upsert: true } }, // upsert at index 3
        { replaceOne: { filter: { _id: 4 }, replacement: { k: "c", n: 40 } } }, // matched 1, modified 1
        { deleteOne: { filter: { k: "a" } } }, // deletes one of _id 1/2
        { deleteMany: { filter: { n: { $gte: 100 } } } }, // _id 3 (103) and 5 (105)
        { insertOne: { document: { _id: 6, k: "d" } } },
      ]);
      expect(res.insertedCount).toBe(2);
      expect(res.matchedCount).toBe(1 + 2 + 1);
      expect(res.modifiedCount).toBe(1 + 2 + 1);
      expect(res.upsertedCount).toBe(1);
      expect(res.upsertedIds).toEqual({ 3: 99 });
      expect(res.deletedCount).toBe(1 + 2);
      expect(res.insertedIds).toEqual({ 0: 5, 7: 6 });

      const left = await coll.find({}).sort({ _id: 1 }).toArray();
      // Started 4, +1 insert, +1 upsert, -1 deleteOne, -2 deleteMany, +1 insert = 4.
      expect(left).toHaveLength(4);
      expect(left.filter((d) => d.k === "a")).toHaveLength(1);
      expect(left.find((d) => d._id === 99)).toEqual({ _id: 99, n: 99 });
      expect(left.find((d) => d._id === 4)).toEqual({ _id: 4, k: "c", n: 40 });
      expect(left.find((d) => d._id === 6)).toEqual({ _id: 6, k: "d" });
    });
  });

  describe("collections", () => {
    it("createCollection, listCollections, drop", async () => {
      await mongo.db.createCollection("made_explicitly");
      await mongo.db.collection<Loose>("made_by_insert").insertOne({ a: 1 });

      const names = (await mongo.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      expect(names).toContain("made_explicitly");
      expect(names).toContain("made_by_insert");

      const filtered = await mongo.db.listCollections({ name: "made_explicitly" }).toArray();
      expect(filtered).toHaveLength(1);
      expect(filtered[0]!.name).toBe("made_explicitly");
      expect(filtered[0]!.type).toBe("collection");

      // An explicitly created collection is empty but exists.
      expect(await mongo.db.collection<Loose>("made_explicitly").countDocuments()).toBe(0);

      expect(await mongo.db.collection<Loose>("made_by_insert").drop()).toBe(true);
      const after = (await mongo.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      expect(after).not.toContain("made_by_insert");
      expect(after).toContain("made_explicitly");
      expect(await mongo.db.collection<Loose>("made_by_insert").countDocuments()).toBe(0);

      // createCollection on an existing name fails with NamespaceExists (48).
      const err = await mongo.db.createCollection("made_explicitly").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(48);
    });
  });
});
