/**
 * A long read yields to other connections' commands (engine/yielding.ts), as mongod yields every
 * 10 ms of a query: while a multi-second aggregation runs on one connection, short commands on
 * others are answered, each connection's own commands stay in order, maxTimeMS still holds across
 * the pauses, and what a yielding read returns still matches its filter when writes land meanwhile.
 * Verdicts rest on the order in which replies arrive, never on how long anything took.
 */
import net from "node:net";
import { deserialize, serialize, type Document } from "bson";
import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { Collection } from "../../src/embedded/engine/collection.js";
import { matchingDocsYielding, Yielder } from "../../src/embedded/engine/yielding.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

/** Seconds of work on the server: a few million generated documents, counted (then grouped). */
const LONG: Document[] = [{ $documents: [{}] }, { $set: { x: { $range: [0, 1_200_000] } } }, { $unwind: "$x" }, { $group: { _id: { $mod: ["$x", 3] }, n: { $sum: 1 } } }, { $sort: { _id: 1 } }];

describe("yielding", () => {
  const mongo = useTestMongo("yielding");

  it("answers short commands on other connections while a long aggregation runs", async () => {
    const db = mongo.client.db(mongo.dbName);
    await db.collection<Loose>("small").insertOne({ _id: 1, v: "short" });
    const finished: string[] = [];
    const long = db.aggregate(LONG).toArray().then((r) => (finished.push("long"), r));
    // Short commands, one after another on another pooled connection, until the long one answers.
    let shortAnswered = 0;
    while (!finished.includes("long")) {
      const [doc] = await db.collection<Loose>("small").find({ _id: 1 }).toArray();
      expect(doc).toEqual({ _id: 1, v: "short" });
      if (!finished.includes("long")) shortAnswered++;
      finished.push("short");
      if (shortAnswered > 5) break;
    }
    expect(await long).toEqual([{ _id: 0, n: 400_000 }, { _id: 1, n: 400_000 }, { _id: 2, n: 400_000 }]);
    // Run one command at a time, at most one short command (one that arrived first) could finish before it.
    expect(shortAnswered).toBeGreaterThan(5);
    expect(finished.indexOf("short")).toBeLessThan(finished.indexOf("long"));
  }, 120_000);

  it("answers one connection's commands in the order they were sent, even when the first yields", async () => {
    const socket = net.connect(mongo.embedded!.port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const replies: Array<{ responseTo: number; body: Document }> = [];
    let buf = Buffer.alloc(0);
    const twoReplies = new Promise<void>((resolve) => {
      socket.on("data", (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) {
          const len = buf.readInt32LE(0);
          replies.push({ responseTo: buf.readInt32LE(8), body: deserialize(buf.subarray(21, len)) });
          buf = buf.subarray(len);
          if (replies.length === 2) resolve();
        }
      });
    });
    const opMsg = (requestId: number, body: Document) => {
      const bson = serialize(body);
      const header = Buffer.alloc(21);
      header.writeInt32LE(21 + bson.length, 0);
      header.writeInt32LE(requestId, 4);
      header.writeInt32LE(2013, 12);
      return Buffer.concat([header, bson]);
    };
    // Both frames in one write: the long aggregate first, a ping right behind it.
    socket.write(Buffer.concat([opMsg(1, { aggregate: 1, pipeline: LONG, cursor: {}, $db: mongo.dbName }), opMsg(2, { ping: 1, $db: "admin" })]));
    await twoReplies;
    socket.destroy();
    expect(replies.map((r) => r.responseTo)).toEqual([1, 2]);
    expect(replies[0]!.body.cursor.firstBatch).toHaveLength(3);
    expect(replies[1]!.body.ok).toBe(1);
  }, 120_000);

  it("still fails a yielding aggregation past its maxTimeMS (MaxTimeMSExpired 50)", async () => {
    const db = mongo.client.db(mongo.dbName);
    const err = await db.aggregate(LONG, { maxTimeMS: 50 }).toArray().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(50);
  }, 120_000);

  it("returns only documents that match the filter when writes land while a read yields", async () => {
    // In-process, so the writes land exactly in the pauses: each pause moves the next 100 records out of the filter.
    // A string equality: the index answers it exactly, so only the re-check after a pause can catch a moved record.
    const coll = new Collection("db", "moving");
    for (let i = 0; i < 2_000; i++) coll.insert({ _id: i, v: "in" });
    coll.createIndex({ key: { v: 1 }, name: "v_1" });
    let moved = 0;
    class WritingYielder extends Yielder {
      override async pause(): Promise<void> {
        await super.pause();
        for (let k = 0; k < 100 && moved < 2_000; k++, moved++) coll.replace(moved + 1, { _id: moved, v: "out" });
      }
    }
    const y = new WritingYielder(undefined, 0);
    const docs = await matchingDocsYielding(coll, { v: "in" }, y);
    expect(y.pauses).toBeGreaterThan(3);
    expect(moved).toBeGreaterThan(0);
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.every((d) => d.v === "in")).toBe(true);
    expect(new Set(docs.map((d) => d._id)).size).toBe(docs.length);
  });
});
