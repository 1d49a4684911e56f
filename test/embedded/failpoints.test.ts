/**
 * The `failCommand` fail point, configured as MongoDB's driver spec tests configure it: its modes
 * (alwaysOn, off, times, skip), the error it injects (code, labels), dropped connections, delays,
 * write concern errors and the appName filter; and an error injected at one step of a transaction.
 */
import { MongoClient, MongoServerError, MongoWriteConcernError } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

describe("embedded mongo: the failCommand fail point", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("failpoints");
  const admin = () => mongo.client.db("admin");
  const failCommand = (mode: unknown, data: Record<string, unknown>) => admin().command({ configureFailPoint: "failCommand", mode, data });
  afterEach(async () => {
    await admin().command({ configureFailPoint: "failCommand", mode: "off" });
  });

  async function outcome(p: Promise<unknown>): Promise<number | "ok"> {
    try {
      await p;
      return "ok";
    } catch (err) {
      return (err as MongoServerError).code as number;
    }
  }

  it("fails the named commands n times, then lets them through", async () => {
    const coll = mongo.db.collection<Loose>("times");
    await failCommand({ times: 2 }, { failCommands: ["find"], errorCode: 2 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await outcome(coll.findOne({})));
    expect(results).toEqual([2, 2, "ok"]);
    // Commands not named are never failed.
    expect(await outcome(coll.insertOne({ _id: 1 }))).toBe("ok");
  });

  it("skips the first n, then fails until turned off", async () => {
    const coll = mongo.db.collection<Loose>("skip");
    await failCommand({ skip: 1 }, { failCommands: ["count", "aggregate"], errorCode: 8000 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await outcome(coll.countDocuments()));
    expect(results).toEqual(["ok", 8000, 8000]);
    await admin().command({ configureFailPoint: "failCommand", mode: "off" });
    expect(await outcome(coll.countDocuments())).toBe("ok");
  });

  it("alwaysOn fails every time; errorLabels given in data are the reply's labels", async () => {
    const coll = mongo.db.collection<Loose>("always");
    await failCommand("alwaysOn", { failCommands: ["insert"], errorCode: 11600, errorLabels: ["MyLabel"] });
    for (let i = 0; i < 2; i++) {
      const err = (await coll.insertOne({ _id: i }, { writeConcern: { w: 1 } }).catch((e) => e)) as MongoServerError;
      expect(err.code).toBe(11600);
      expect(err.errorLabels).toContain("MyLabel");
    }
    expect(await coll.countDocuments()).toBe(0);
  });

  it("labels an injected retryable error on a retryable write so the driver retries it once", async () => {
    const coll = mongo.db.collection<Loose>("retry");
    // ShutdownInProgress (91) on a retryable write gets RetryableWriteError: the driver retries,
    // the fail point has fired once, and the write lands exactly once.
    await failCommand({ times: 1 }, { failCommands: ["insert"], errorCode: 91 });
    await coll.insertOne({ _id: "once" });
    expect(await coll.find().toArray()).toEqual([{ _id: "once" }]);
  });

  it("closes the connection instead of replying; the driver's retry then succeeds", async () => {
    const coll = mongo.db.collection<Loose>("close");
    await failCommand({ times: 1 }, { failCommands: ["update"], closeConnection: true });
    await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { upsert: true });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
  });

  it("blocks a command for blockTimeMS before running it", async () => {
    const coll = mongo.db.collection<Loose>("block");
    await failCommand({ times: 1 }, { failCommands: ["find"], blockConnection: true, blockTimeMS: 300 });
    const started = Date.now();
    expect(await coll.findOne({})).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("adds a writeConcernError to a write that still happens", async () => {
    const coll = mongo.db.collection<Loose>("wce");
    await failCommand({ times: 1 }, { failCommands: ["insert"], writeConcernError: { code: 64, errmsg: "waiting for replication timed out" } });
    const err = await coll.insertOne({ _id: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(MongoWriteConcernError);
    expect(await coll.countDocuments()).toBe(1);
  });

  it("fails only the connections of the given appName", async () => {
    const other = new MongoClient(mongo.uri, { appName: "victim", serverSelectionTimeoutMS: 5_000 });
    await other.connect();
    try {
      await failCommand("alwaysOn", { failCommands: ["find"], errorCode: 2, appName: "victim" });
      expect(await outcome(other.db(mongo.dbName).collection("app").findOne({}))).toBe(2);
      expect(await outcome(mongo.db.collection("app").findOne({}))).toBe("ok");
    } finally {
      await other.close();
    }
  });

  it("rejects an unknown fail point and a bad mode", async () => {
    expect(await outcome(admin().command({ configureFailPoint: "noSuchFailPoint", mode: "alwaysOn" }))).toBe(2);
    expect(await outcome(admin().command({ configureFailPoint: "failCommand", mode: "sometimes", data: { failCommands: ["find"] } }))).toBe(2);
  });

  it("fails the 3rd update of an ingest transaction: withTransaction retries and the retry commits everything once", async () => {
    const rollups = mongo.db.collection<Loose>("ingest_rollups");
    const events = mongo.db.collection<Loose>("ingest_events");
    await failCommand({ skip: 2 }, { failCommands: ["update"], errorCode: 112 });
    const session = mongo.client.startSession();
    let attempts = 0;
    try {
      await session.withTransaction(async () => {
        attempts++;
        // The retry turns the fail point off first, so it commits.
        if (attempts > 1) await admin().command({ configureFailPoint: "failCommand", mode: "off" });
        await events.insertMany([{ _id: "e1" }, { _id: "e2" }], { session });
        for (const key of ["a", "b", "c"]) await rollups.updateOne({ _id: key }, { $inc: { n: 1 } }, { session, upsert: true });
      });
    } finally {
      await session.endSession();
    }
    expect(attempts).toBe(2);
    expect(await events.countDocuments()).toBe(2);
    expect(await rollups.find().sort({ _id: 1 }).toArray()).toEqual([{ _id: "a", n: 1 }, { _id: "b", n: 1 }, { _id: "c", n: 1 }]);
  });

  it("a commitTransaction failing with a retryable error is retried by the driver and commits once", async () => {
    const coll = mongo.db.collection<Loose>("commit_fail");
    await failCommand({ times: 1 }, { failCommands: ["commitTransaction"], errorCode: 91 });
    const session = mongo.client.startSession();
    try {
      session.startTransaction();
      await coll.insertOne({ _id: 1 }, { session });
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    expect(await coll.countDocuments()).toBe(1);
  });
});
