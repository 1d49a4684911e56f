/**
 * Sessions and multi-document transactions through the official driver, as MongoDB behaves on a
 * replica set: the driver discovers one, `withTransaction` commits atomically, nobody sees a
 * transaction's writes before its commit, reads are of its snapshot, and concurrent writers get
 * WriteConflict (112) with the TransientTransactionError label.
 */
import { Long, MongoClient, MongoServerError, type ClientSession } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

describe("embedded mongo: sessions and transactions", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("txn");
  const open: ClientSession[] = [];
  function session(): ClientSession {
    const s = mongo.client.startSession();
    open.push(s);
    return s;
  }
  afterEach(async () => {
    for (const s of open.splice(0)) await s.endSession();
  });

  /** The error a promise rejects with (fails the test if it resolves). */
  async function rejection(p: Promise<unknown>): Promise<MongoServerError> {
    try {
      await p;
    } catch (err) {
      return err as MongoServerError;
    }
    throw new Error("expected the operation to fail");
  }

  it("presents a one-member replica set primary the driver discovers from a plain URI", async () => {
    const hello = await mongo.client.db("admin").command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(typeof hello.setName).toBe("string");
    expect(hello.hosts).toContain(hello.me);
    expect(hello.primary).toBe(hello.me);
    expect(hello.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
    if (mongo.embedded) expect(hello.me).toBe(`127.0.0.1:${mongo.embedded.port}`);
    const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5_000 });
    let topology = "";
    client.on("topologyDescriptionChanged", (e) => (topology = e.newDescription.type));
    try {
      await client.connect();
      await client.db("admin").command({ ping: 1 });
      expect(topology).toBe("ReplicaSetWithPrimary");
    } finally {
      await client.close();
    }
  });

  it("keeps a transaction's writes invisible to others until commit, then shows all of them at once", async () => {
    const events = mongo.db.collection<Loose>("vis_events");
    const rollups = mongo.db.collection<Loose>("vis_rollups");
    await rollups.insertOne({ _id: "r1", n: 10 });
    const s = session();
    s.startTransaction();
    await events.insertMany([{ _id: "e1" }, { _id: "e2" }], { session: s });
    await rollups.updateOne({ _id: "r1" }, { $inc: { n: 2 } }, { session: s });
    await rollups.updateOne({ _id: "r2" }, { $inc: { n: 1 } }, { session: s, upsert: true });
    // The transaction reads its own writes (find, aggregate-based countDocuments, distinct, getMore).
    expect(await rollups.findOne({ _id: "r1" }, { session: s })).toEqual({ _id: "r1", n: 12 });
    expect(await events.countDocuments({}, { session: s })).toBe(2);
    expect((await rollups.distinct("_id", {}, { session: s })).sort()).toEqual(["r1", "r2"]);
    expect(await events.find({}, { session: s, batchSize: 1 }).toArray()).toHaveLength(2);
    // Nobody else does.
    expect(await events.countDocuments()).toBe(0);
    expect(await rollups.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: "r1", n: 10 }]);
    await s.commitTransaction();
    expect(await events.countDocuments()).toBe(2);
    expect(await rollups.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: "r1", n: 12 }, { _id: "r2", n: 1 }]);
    // A commit retried after it succeeded still answers ok, and changes nothing.
    await s.commitTransaction();
    expect(await rollups.findOne({ _id: "r1" })).toEqual({ _id: "r1", n: 12 });
  });

  it("creates a collection a transaction writes to at commit, and not before", async () => {
    const name = "created_in_txn";
    const s = session();
    s.startTransaction();
    await mongo.db.collection<Loose>(name).insertOne({ _id: 1 }, { session: s });
    expect((await mongo.db.listCollections({ name }).toArray()).length).toBe(0);
    await s.commitTransaction();
    expect((await mongo.db.listCollections({ name }).toArray()).length).toBe(1);
    expect(await mongo.db.collection(name).countDocuments()).toBe(1);
  });

  it("discards everything on abort", async () => {
    const coll = mongo.db.collection<Loose>("abort");
    await coll.insertOne({ _id: 1, v: "before" });
    const s = session();
    s.startTransaction();
    await coll.updateOne({ _id: 1 }, { $set: { v: "during" } }, { session: s });
    await coll.insertOne({ _id: 2 }, { session: s });
    await coll.deleteOne({ _id: 1 }, { session: s });
    expect(await coll.countDocuments({}, { session: s })).toBe(1);
    await s.abortTransaction();
    expect(await coll.find().toArray()).toEqual([{ _id: 1, v: "before" }]);
  });

  it("reads the transaction's snapshot: a commit by someone else after it started is not seen", async () => {
    const coll = mongo.db.collection<Loose>("snapshot");
    await coll.insertMany([{ _id: 1, v: 1 }, { _id: 2, v: 1 }]);
    const s = session();
    s.startTransaction();
    expect(await coll.findOne({ _id: 1 }, { session: s })).toEqual({ _id: 1, v: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { v: 2 } });
    await coll.insertOne({ _id: 3, v: 1 });
    expect(await coll.findOne({ _id: 1 }, { session: s })).toEqual({ _id: 1, v: 1 });
    expect(await coll.countDocuments({}, { session: s })).toBe(2);
    await s.commitTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, v: 2 });
  });

  it("fails the second of two transactions writing one document with WriteConflict and TransientTransactionError", async () => {
    const coll = mongo.db.collection<Loose>("conflict");
    await coll.insertOne({ _id: 1, n: 0 });
    const a = session();
    const b = session();
    a.startTransaction();
    b.startTransaction();
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: a });
    const err = await rejection(coll.updateOne({ _id: 1 }, { $inc: { n: 10 } }, { session: b }));
    expect(err.code).toBe(112);
    expect(err.codeName).toBe("WriteConflict");
    expect(err.hasErrorLabel("TransientTransactionError")).toBe(true);
    // The loser's transaction is aborted: its commit says NoSuchTransaction.
    const commit = await rejection(b.commitTransaction());
    expect(commit.code).toBe(251);
    await a.commitTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
  });

  it("fails a write to a document committed by someone else after the snapshot with WriteConflict", async () => {
    const coll = mongo.db.collection<Loose>("conflict_after");
    await coll.insertOne({ _id: 1, n: 0 });
    const s = session();
    s.startTransaction();
    await coll.findOne({ _id: 1 }, { session: s });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 5 } });
    const err = await rejection(coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: s }));
    expect(err.code).toBe(112);
    expect(err.hasErrorLabel("TransientTransactionError")).toBe(true);
    await s.abortTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 5 });
  });

  it("makes two transactions upserting the same unique key conflict", async () => {
    const coll = mongo.db.collection<Loose>("upserts");
    await coll.createIndex({ key: 1 }, { unique: true });
    const a = session();
    const b = session();
    a.startTransaction();
    b.startTransaction();
    await coll.updateOne({ key: "k" }, { $inc: { n: 1 } }, { upsert: true, session: a });
    const err = await rejection(coll.updateOne({ key: "k" }, { $inc: { n: 1 } }, { upsert: true, session: b }));
    expect(err.code).toBe(112);
    expect(err.hasErrorLabel("TransientTransactionError")).toBe(true);
    await a.commitTransaction();
    expect(await coll.find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ key: "k", n: 1 }]);
  });

  it("fails a duplicate key inside a transaction with 11000 and aborts it", async () => {
    const coll = mongo.db.collection<Loose>("dup");
    await coll.insertOne({ _id: 1 });
    const s = session();
    s.startTransaction();
    await coll.insertOne({ _id: 2 }, { session: s });
    const err = await rejection(coll.insertOne({ _id: 1 }, { session: s }));
    expect(err.code).toBe(11000);
    expect(err.hasErrorLabel("TransientTransactionError")).toBe(false);
    const commit = await rejection(s.commitTransaction());
    expect(commit.code).toBe(251);
    expect(commit.hasErrorLabel("TransientTransactionError")).toBe(true);
    expect(await coll.countDocuments()).toBe(1);
  });

  it("makes a write outside any transaction wait for the transaction holding its document, then apply on top", async () => {
    const coll = mongo.db.collection<Loose>("blocking");
    await coll.insertOne({ _id: 1, n: 0 });
    const s = session();
    s.startTransaction();
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: s });
    let applied = false;
    const outside = coll.updateOne({ _id: 1 }, { $inc: { n: 10 } }).then((r) => {
      applied = true;
      return r;
    });
    // Until the transaction ends, the blocked write has not happened.
    expect((await coll.findOne({ _id: 1 }))?.n).toBe(0);
    expect(applied).toBe(false);
    await s.commitTransaction();
    const res = await outside;
    expect(res.modifiedCount).toBe(1);
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 11 });
  });

  it("fails a blocked write outside transactions with MaxTimeMSExpired when its maxTimeMS runs out first", async () => {
    const coll = mongo.db.collection<Loose>("blocked_timeout");
    await coll.insertOne({ _id: 1, n: 0 });
    const s = session();
    s.startTransaction();
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: s });
    const err = await rejection(coll.updateOne({ _id: 1 }, { $inc: { n: 10 } }, { maxTimeMS: 200 }));
    expect(err.code).toBe(50);
    await s.abortTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 0 });
  });

  it("makes a drop of a collection an open transaction wrote to wait for the transaction", async () => {
    const name = "dropped_after";
    const coll = mongo.db.collection<Loose>(name);
    await coll.insertOne({ _id: 0 });
    const s = session();
    s.startTransaction();
    await coll.insertOne({ _id: 1 }, { session: s });
    const dropped = coll.drop();
    await s.commitTransaction();
    await dropped;
    // The drop came after the commit: nothing of the collection is left.
    expect(await mongo.db.listCollections({ name }).toArray()).toEqual([]);
  });

  it("lets writes outside transactions to other documents through at once", async () => {
    const coll = mongo.db.collection<Loose>("nonblocking");
    await coll.insertMany([{ _id: 1, n: 0 }, { _id: 2, n: 0 }]);
    const s = session();
    s.startTransaction();
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: s });
    await coll.updateOne({ _id: 2 }, { $inc: { n: 1 } });
    await coll.insertOne({ _id: 3, n: 0 });
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1, n: 0 }, { _id: 2, n: 1 }, { _id: 3, n: 0 }]);
    await s.commitTransaction();
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
  });

  it("withTransaction retries a transient error to one successful commit", async () => {
    const coll = mongo.db.collection<Loose>("with_txn");
    await coll.insertOne({ _id: "total", n: 0 });
    const admin = mongo.client.db("admin");
    await admin.command({ configureFailPoint: "failCommand", mode: { times: 1 }, data: { failCommands: ["update"], errorCode: 112 } });
    let attempts = 0;
    const s = session();
    await s.withTransaction(async () => {
      attempts++;
      await coll.insertOne({ _id: `event-${attempts}` }, { session: s });
      await coll.updateOne({ _id: "total" }, { $inc: { n: 1 } }, { session: s });
    });
    expect(attempts).toBe(2);
    // The first attempt left nothing behind; the second committed once.
    expect(await coll.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: "event-2" }, { _id: "total", n: 1 }]);
  });

  it("withTransaction retries a commit whose connection dropped (UnknownTransactionCommitResult) and commits once", async () => {
    const coll = mongo.db.collection<Loose>("commit_retry");
    const admin = mongo.client.db("admin");
    await admin.command({ configureFailPoint: "failCommand", mode: { times: 1 }, data: { failCommands: ["commitTransaction"], closeConnection: true } });
    let attempts = 0;
    const s = session();
    await s.withTransaction(async () => {
      attempts++;
      await coll.updateOne({ _id: "c" }, { $inc: { n: 1 } }, { session: s, upsert: true });
    });
    expect(attempts).toBe(1);
    expect(await coll.findOne({ _id: "c" })).toEqual({ _id: "c", n: 1 });
  });

  it("rejects $merge/$out and unsupported commands in a transaction with OperationNotSupportedInTransaction", async () => {
    const coll = mongo.db.collection<Loose>("unsupported");
    await coll.insertOne({ _id: 1 });
    const s = session();
    s.startTransaction();
    await coll.findOne({}, { session: s });
    const err = await rejection(coll.aggregate([{ $match: {} }, { $out: "unsupported_out" }], { session: s }).toArray());
    expect(err.code).toBe(263);
    expect(err.codeName).toBe("OperationNotSupportedInTransaction");
    await s.abortTransaction().catch(() => undefined);
    const t = session();
    t.startTransaction();
    const count = await rejection(mongo.db.command({ count: "unsupported" }, { session: t }));
    expect(count.code).toBe(263);
    await t.abortTransaction().catch(() => undefined);
  });

  it("aborts a transaction past transactionLifetimeLimitSeconds; its next command gets NoSuchTransaction", async () => {
    const admin = mongo.client.db("admin");
    const { was } = await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: 1 });
    try {
      const coll = mongo.db.collection<Loose>("lifetime");
      const s = session();
      s.startTransaction();
      await coll.insertOne({ _id: 1 }, { session: s });
      await new Promise((r) => setTimeout(r, 1_500));
      const err = await rejection(coll.insertOne({ _id: 2 }, { session: s }));
      expect(err.code).toBe(251);
      expect(err.hasErrorLabel("TransientTransactionError")).toBe(true);
      await s.abortTransaction().catch(() => undefined);
      expect(await coll.countDocuments()).toBe(0);
    } finally {
      await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: was });
    }
    expect((await admin.command({ getParameter: 1, transactionLifetimeLimitSeconds: 1 })).transactionLifetimeLimitSeconds).toBe(was);
  });

  it("runs a retryable write once: a retry with the same txnNumber gets the first reply; an older one TransactionTooOld", async () => {
    // Its own client: these txnNumbers are not the driver's, so its pooled session must not be reused.
    const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 5_000 });
    await client.connect();
    try {
      const db = client.db(mongo.dbName);
      const coll = db.collection<Loose>("retryable");
      await coll.insertOne({ _id: "n", n: 0 });
      const s = client.startSession();
      const inc = (txnNumber: number) =>
        db.command({ update: "retryable", updates: [{ q: { _id: "n" }, u: { $inc: { n: 1 } } }], txnNumber: Long.fromNumber(txnNumber) }, { session: s });
      const first = await inc(7);
      const retry = await inc(7);
      expect(retry.n).toBe(first.n);
      expect(retry.nModified).toBe(1);
      expect(await coll.findOne({ _id: "n" })).toEqual({ _id: "n", n: 1 });
      const insert = () => db.command({ insert: "retryable", documents: [{ _id: "x" }], txnNumber: Long.fromNumber(8) }, { session: s });
      expect((await insert()).n).toBe(1);
      expect((await insert()).n).toBe(1); // not a duplicate key: the first insert's reply
      const old = await rejection(inc(6));
      expect(old.code).toBe(225);
      expect(await coll.findOne({ _id: "n" })).toEqual({ _id: "n", n: 1 });
      await s.endSession();
    } finally {
      await client.close();
    }
  });

  it("loses no update when concurrent withTransaction ingests and plain writes hit the same documents", async () => {
    const totals = mongo.db.collection<Loose>("race_totals");
    const events = mongo.db.collection<Loose>("race_events");
    await totals.insertOne({ _id: "t", txn: 0, plain: 0 });
    const workers = 6;
    const perWorker = 4;
    const ingest = async (w: number) => {
      const s = session();
      for (let i = 0; i < perWorker; i++) {
        await s.withTransaction(async () => {
          await events.insertOne({ _id: `w${w}-${i}` }, { session: s });
          await totals.updateOne({ _id: "t" }, { $inc: { txn: 1 } }, { session: s });
          await totals.updateOne({ _id: `w${w}` }, { $inc: { n: 1 } }, { session: s, upsert: true });
        });
      }
    };
    const plain = async () => {
      for (let i = 0; i < 10; i++) await totals.updateOne({ _id: "t" }, { $inc: { plain: 1 } });
    };
    await Promise.all([...Array.from({ length: workers }, (_, w) => ingest(w)), plain()]);
    expect(await totals.findOne({ _id: "t" })).toEqual({ _id: "t", txn: workers * perWorker, plain: 10 });
    expect(await events.countDocuments()).toBe(workers * perWorker);
    for (let w = 0; w < workers; w++) expect((await totals.findOne({ _id: `w${w}` }))?.n).toBe(perWorker);
  });

  it("fails a transaction's write of a unique key that someone committed after its snapshot with WriteConflict", async () => {
    const coll = mongo.db.collection<Loose>("unique_after");
    await coll.createIndex({ key: 1 }, { unique: true });
    const s = session();
    s.startTransaction();
    await coll.findOne({}, { session: s });
    await coll.insertOne({ _id: "outside", key: "k" });
    const err = await rejection(coll.insertOne({ _id: "inside", key: "k" }, { session: s }));
    expect(err.code).toBe(112);
    await s.abortTransaction();
    expect(await coll.find().toArray()).toEqual([{ _id: "outside", key: "k" }]);
  });

  it("joins within the snapshot: $lookup in a transaction reads the other collection as of the snapshot plus its own writes", async () => {
    const orders = mongo.db.collection<Loose>("lk_orders");
    const items = mongo.db.collection<Loose>("lk_items");
    await orders.insertOne({ _id: 1 });
    await items.insertOne({ _id: "a", order: 1 });
    const s = session();
    s.startTransaction();
    await orders.findOne({}, { session: s });
    await items.insertOne({ _id: "late", order: 1 }); // committed after the snapshot: not seen
    await items.insertOne({ _id: "own", order: 1 }, { session: s });
    const [joined] = await orders
      .aggregate([{ $lookup: { from: "lk_items", localField: "_id", foreignField: "order", as: "items" } }], { session: s })
      .toArray();
    expect((joined!.items as Loose[]).map((i) => i._id).sort()).toEqual(["a", "own"]);
    await s.commitTransaction();
  });
});
