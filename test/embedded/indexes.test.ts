import { describe, expect, it } from "vitest";
import { MongoBulkWriteError, MongoClient, MongoServerError, type Document, type WriteError } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * Index management and unique-key enforcement, including under concurrent writers.
 * Duplicate keys must fail with code 11000 (DuplicateKey) exactly like mongod.
 */

/** The driver types writeErrors as one-or-many; normalise to an array. */
function writeErrorsOf(err: MongoBulkWriteError): WriteError[] {
  return [err.writeErrors].flat();
}

async function rejection(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => new Error("expected the operation to be rejected"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MongoServerError);
  return err as MongoServerError;
}

describe("embedded mongo: indexes and unique keys", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("indexes");

  it("creates single, compound, unique and named indexes; lists them; is idempotent; drops them", async () => {
    const coll = mongo.db.collection<Loose>("idx_admin");
    await coll.insertOne({ a: 1, b: 2, email: "x@y" });

    // Default names are field_direction pairs joined by "_".
    expect(await coll.createIndex({ a: 1 })).toBe("a_1");
    expect(await coll.createIndex({ a: 1, b: -1 })).toBe("a_1_b_-1");
    expect(await coll.createIndex({ email: 1 }, { unique: true, name: "email_uniq" })).toBe("email_uniq");

    const list = await coll.listIndexes().toArray();
    const byName = new Map(list.map((ix) => [ix.name as string, ix]));
    expect([...byName.keys()].sort()).toEqual(["_id_", "a_1", "a_1_b_-1", "email_uniq"]);
    expect(byName.get("_id_")!.key).toEqual({ _id: 1 });
    expect(byName.get("a_1")!.key).toEqual({ a: 1 });
    // Key order in a compound index is significant and must be preserved.
    expect(Object.entries(byName.get("a_1_b_-1")!.key as Document)).toEqual([["a", 1], ["b", -1]]);
    expect(byName.get("email_uniq")!.key).toEqual({ email: 1 });
    expect(byName.get("email_uniq")!.unique).toBe(true);
    expect(byName.get("a_1")!.unique).toBeFalsy();

    // The same spec again is a no-op that returns the same name.
    expect(await coll.createIndex({ a: 1 })).toBe("a_1");
    expect(await coll.createIndex({ email: 1 }, { unique: true, name: "email_uniq" })).toBe("email_uniq");
    expect(await coll.listIndexes().toArray()).toHaveLength(4);

    // indexExists / indexInformation are built on listIndexes too.
    expect(await coll.indexExists("a_1_b_-1")).toBe(true);

    await coll.dropIndex("a_1");
    const after = (await coll.listIndexes().toArray()).map((ix) => ix.name as string).sort();
    expect(after).toEqual(["_id_", "a_1_b_-1", "email_uniq"]);

    // Dropping an index that does not exist is an error (IndexNotFound, 27).
    const err = await rejection(coll.dropIndex("nope_1"));
    expect(err.code).toBe(27);

    // The data is untouched by index operations.
    expect(await coll.countDocuments()).toBe(1);
  });

  it("answers a query with a long $in (12,000 values), alone or after an equality on a compound index", async () => {
    const coll = mongo.db.collection<Loose>("long_in");
    await coll.createIndex({ org: 1, sid: 1 });
    await coll.insertMany(Array.from({ length: 300 }, (_, i) => ({ _id: i, org: i % 2 ? "a" : "b", sid: `s${i}` })) as never[]);
    const idList = Array.from({ length: 12_000 }, (_, i) => i * 2);
    expect(await coll.countDocuments({ _id: { $in: idList } })).toBe(150);
    const sids = Array.from({ length: 12_000 }, (_, i) => `s${i * 3}`);
    const found = await coll.find({ org: "a", sid: { $in: sids } }).toArray();
    const want = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 === 0);
    expect(found.map((d) => d._id).sort((x, y) => Number(x) - Number(y))).toEqual(want);
  });

  it("rejects a duplicate _id with 11000", async () => {
    const coll = mongo.db.collection<Loose>("dup_id");
    await coll.insertOne({ _id: "same" as never, v: 1 });
    const err = await rejection(coll.insertOne({ _id: "same" as never, v: 2 }));
    expect(err.code).toBe(11000);
    // The original document is intact.
    expect(await coll.find({}).toArray()).toEqual([{ _id: "same", v: 1 }]);
  });

  it("rejects a duplicate unique key with 11000", async () => {
    const coll = mongo.db.collection<Loose>("dup_key");
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertOne({ email: "a@x" });
    const err = await rejection(coll.insertOne({ email: "a@x" }));
    expect(err.code).toBe(11000);
    expect(await coll.countDocuments()).toBe(1);

    // A compound unique index only rejects when the whole key repeats.
    const comp = mongo.db.collection<Loose>("dup_compound");
    await comp.createIndex({ org: 1, sess: 1 }, { unique: true });
    await comp.insertMany([{ org: "o1", sess: "s1" }, { org: "o1", sess: "s2" }, { org: "o2", sess: "s1" }]);
    const err2 = await rejection(comp.insertOne({ org: "o1", sess: "s2" }));
    expect(err2.code).toBe(11000);
    expect(await comp.countDocuments()).toBe(3);
  });

  it("insertMany ordered:true stops at the first duplicate", async () => {
    const coll = mongo.db.collection<Loose>("ordered_dup");
    await coll.createIndex({ k: 1 }, { unique: true });
    const docs = [{ k: 1 }, { k: 2 }, { k: 1 }, { k: 3 }, { k: 2 }];
    // Ordered: docs 0 and 1 go in, doc 2 fails, nothing after it is attempted.
    const err = await coll.insertMany(docs, { ordered: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bwe = err as MongoBulkWriteError;
    expect(bwe.code).toBe(11000);
    expect(bwe.insertedCount).toBe(2);
    const wes = writeErrorsOf(bwe);
    expect(wes.map((w) => w.index)).toEqual([2]);
    expect(wes[0]!.code).toBe(11000);
    expect((await coll.find({}).sort({ k: 1 }).toArray()).map((d) => d.k)).toEqual([1, 2]);
  });

  it("insertMany ordered:false inserts all others and reports every duplicate by index", async () => {
    const coll = mongo.db.collection<Loose>("unordered_dup");
    await coll.createIndex({ k: 1 }, { unique: true });
    await coll.insertOne({ k: 0 });
    const keys = [1, 2, 1, 3, 0, 2, 4, 4, 5];
    // Expected: a key fails if it was already present (k:0) or appeared earlier in this batch.
    const present = new Set([0]);
    const expectedFailures: number[] = [];
    for (const [i, k] of keys.entries()) {
      if (present.has(k)) expectedFailures.push(i);
      else present.add(k);
    }
    const err = await coll.insertMany(keys.map((k) => ({ k })), { ordered: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bwe = err as MongoBulkWriteError;
    expect(bwe.insertedCount).toBe(keys.length - expectedFailures.length);
    const wes = writeErrorsOf(bwe);
    expect(wes.map((w) => w.index).sort((a, b) => a - b)).toEqual(expectedFailures);
    expect(wes.every((w) => w.code === 11000)).toBe(true);
    expect((await coll.find({}).sort({ k: 1 }).toArray()).map((d) => d.k)).toEqual([...present].sort((a, b) => a - b));
  });

  it("an update that would duplicate a unique key fails with 11000 and leaves the doc unchanged", async () => {
    const coll = mongo.db.collection<Loose>("upd_dup");
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertMany([{ _id: 1, email: "a", n: 1 }, { _id: 2, email: "b", n: 2 }] as never[]);

    const err = await rejection(coll.updateOne({ _id: 2 as never }, { $set: { email: "a", n: 99 } }));
    expect(err.code).toBe(11000);
    expect(await coll.findOne({ _id: 2 as never })).toEqual({ _id: 2, email: "b", n: 2 });

    const err2 = await rejection(coll.replaceOne({ _id: 2 as never }, { email: "a" }));
    expect(err2.code).toBe(11000);
    expect(await coll.findOne({ _id: 2 as never })).toEqual({ _id: 2, email: "b", n: 2 });

    // An upsert that would insert a duplicate key also fails.
    const err3 = await rejection(coll.updateOne({ _id: 3 as never }, { $set: { email: "b" } }, { upsert: true }));
    expect(err3.code).toBe(11000);
    expect(await coll.countDocuments()).toBe(2);

    // Updating a doc to its own key is fine.
    const ok = await coll.updateOne({ _id: 1 as never }, { $set: { email: "a", n: 5 } });
    expect(ok.matchedCount).toBe(1);
  });

  it("creating a unique index over existing duplicates fails with 11000 and creates nothing", async () => {
    const coll = mongo.db.collection<Loose>("late_unique");
    await coll.insertMany([{ k: "x" }, { k: "y" }, { k: "x" }]);
    const err = await rejection(coll.createIndex({ k: 1 }, { unique: true }));
    expect(err.code).toBe(11000);
    const names = (await coll.listIndexes().toArray()).map((ix) => ix.name);
    expect(names).toEqual(["_id_"]);
    // Without an index, duplicates are still accepted.
    await coll.insertOne({ k: "x" });
    expect(await coll.countDocuments({ k: "x" })).toBe(3);
  });

  it("20 concurrent unordered insertMany batches with overlapping unique keys keep one doc per key", async () => {
    const coll = mongo.db.collection<Loose>("concurrent");
    await coll.createIndex({ key: 1 }, { unique: true });

    // Batch b holds keys [5b, 5b + 25): each key appears in up to 5 batches.
    const BATCHES = 20;
    const batches: { key: string; batch: number }[][] = [];
    const distinct = new Set<string>();
    for (let b = 0; b < BATCHES; b++) {
      const batch: { key: string; batch: number }[] = [];
      for (let k = 5 * b; k < 5 * b + 25; k++) {
        batch.push({ key: `k${k}`, batch: b });
        distinct.add(`k${k}`);
      }
      batches.push(batch);
    }
    const totalDocs = batches.reduce((n, b) => n + b.length, 0);
    expect(distinct.size).toBe(5 * (BATCHES - 1) + 25); // 120 distinct keys out of 500 docs

    const clients = await Promise.all(
      batches.map(async () => {
        const c = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5_000, maxPoolSize: 1 });
        await c.connect();
        return c;
      }),
    );
    try {
      const results = await Promise.all(
        batches.map(async (batch, i) => {
          const target = clients[i]!.db(mongo.dbName).collection("concurrent");
          try {
            const r = await target.insertMany(batch, { ordered: false });
            return { inserted: r.insertedCount, failed: 0 };
          } catch (e) {
            expect(e).toBeInstanceOf(MongoBulkWriteError);
            const bwe = e as MongoBulkWriteError;
            const wes = writeErrorsOf(bwe);
            expect(wes.every((w) => w.code === 11000)).toBe(true);
            return { inserted: bwe.insertedCount, failed: wes.length };
          }
        }),
      );
      const inserted = results.reduce((n, r) => n + r.inserted, 0);
      const failed = results.reduce((n, r) => n + r.failed, 0);
      expect(inserted).toBe(distinct.size);
      // Every doc either went in or was reported as a duplicate.
      expect(inserted + failed).toBe(totalDocs);

      expect(await coll.countDocuments()).toBe(distinct.size);
      const perKey = new Map<string, number>();
      for (const d of await coll.find({}, { projection: { key: 1 } }).toArray()) {
        perKey.set(d.key as string, (perKey.get(d.key as string) ?? 0) + 1);
      }
      expect(perKey.size).toBe(distinct.size);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);
      expect([...perKey.keys()].sort()).toEqual([...distinct].sort());
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
