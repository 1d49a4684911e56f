/**
 * Transactions and the journal: a commit is one journal record, so replaying the data directory
 * after a crash reproduces exactly the committed state — all of a commit or none of it, and
 * nothing of a transaction still open when the process died. "Crash" here is opening the same
 * data directory again without closing the first server (its writes are already in the file).
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Db, MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedMongoServer } from "../../src/embedded/server.js";
import type { Loose } from "../helpers/mongo.js";

const dirs: string[] = [];
const servers: EmbeddedMongoServer[] = [];
const clients: MongoClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers) await s.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "usage-txn-journal-"));
  dirs.push(dir);
  return dir;
}

/** A server on `dir` and a client of it (both closed at the end, never before: a crash leaves them open). */
async function open(dir: string): Promise<{ server: EmbeddedMongoServer; client: MongoClient; db: Db }> {
  const server = new EmbeddedMongoServer({ dataDir: dir });
  servers.push(server);
  const port = await server.listen();
  const client = new MongoClient(`mongodb://127.0.0.1:${port}`, { serverSelectionTimeoutMS: 5_000 });
  clients.push(client);
  await client.connect();
  return { server, client, db: client.db("app") };
}

/** Every collection's documents (by _id) and index names: a whole state, to compare. */
async function state(db: Db) {
  const out: Record<string, unknown> = {};
  for (const { name } of (await db.listCollections().toArray()).sort((a, b) => a.name.localeCompare(b.name))) {
    const indexes = (await db.collection(name).listIndexes().toArray()).map((i) => `${i.name}${i.unique ? "!" : ""}`).sort();
    out[name] = { docs: await db.collection(name).find().sort({ _id: 1 }).toArray(), indexes };
  }
  return out;
}

/** The byte offsets at which the journal's records start. */
function recordOffsets(dir: string): number[] {
  const bytes = readFileSync(join(dir, "journal.bson"));
  const offsets: number[] = [];
  for (let o = 0; o + 4 <= bytes.length; o += bytes.readInt32LE(o)) offsets.push(o);
  return offsets;
}

describe("embedded mongo: transactions in the journal", { timeout: 60_000 }, () => {
  it("replays committed transactions to exactly the state the server had", async () => {
    const dir = dataDir();
    const { client, db } = await open(dir);
    await db.collection<Loose>("rollups").createIndex({ key: 1 }, { unique: true });
    await db.collection<Loose>("rollups").insertOne({ _id: "r", key: "k0", n: 1 });
    const session = client.startSession();
    await session.withTransaction(async () => {
      await db.collection<Loose>("events").insertMany([{ _id: "e1" }, { _id: "e2" }], { session });
      await db.collection<Loose>("rollups").updateOne({ key: "k0" }, { $inc: { n: 2 } }, { session });
      await db.collection<Loose>("rollups").updateOne({ key: "k1" }, { $inc: { n: 1 } }, { session, upsert: true });
      await db.collection<Loose>("sessions").deleteMany({}, { session });
    });
    // A write outside the transaction while another one is open (applied as a write set).
    const open2 = client.startSession();
    open2.startTransaction();
    await db.collection<Loose>("events").insertOne({ _id: "pending" }, { session: open2 });
    await db.collection<Loose>("events").insertOne({ _id: "e3" });
    await open2.abortTransaction();
    await session.endSession();
    await open2.endSession();
    const before = await state(db);
    const again = await open(dir);
    expect(await state(again.db)).toEqual(before);
    expect((before.events as { docs: unknown[] }).docs).toEqual([{ _id: "e1" }, { _id: "e2" }, { _id: "e3" }]);
  });

  it("leaves nothing of a transaction open at the crash", async () => {
    const dir = dataDir();
    const { client, db } = await open(dir);
    await db.collection<Loose>("c").insertOne({ _id: 1, v: "committed" });
    const session = client.startSession();
    session.startTransaction();
    await db.collection<Loose>("c").updateOne({ _id: 1 }, { $set: { v: "uncommitted" } }, { session });
    await db.collection<Loose>("c").insertOne({ _id: 2 }, { session });
    await db.collection<Loose>("d").insertOne({ _id: 3 }, { session });
    // Crash: the first server is never closed, its transaction never ends.
    const again = await open(dir);
    expect(await state(again.db)).toEqual({ c: { docs: [{ _id: 1, v: "committed" }], indexes: ["_id_!"] } });
  });

  it("keeps all of a commit or none of it when the process dies while writing its record", async () => {
    const dir = dataDir();
    const { client, db } = await open(dir);
    await db.collection<Loose>("a").insertOne({ _id: 1, n: 0 });
    const committed = await state(db);
    const before = recordOffsets(dir);
    const session = client.startSession();
    await session.withTransaction(async () => {
      await db.collection<Loose>("a").updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session });
      await db.collection<Loose>("a").insertOne({ _id: 2 }, { session });
      await db.collection<Loose>("b").insertOne({ _id: 3 }, { session });
    });
    await session.endSession();
    const after = recordOffsets(dir);
    // The whole commit, three writes in two collections (one created by it), is one record.
    expect(after.length).toBe(before.length + 1);
    const recordStart = after[after.length - 1]!;
    const size = readFileSync(join(dir, "journal.bson")).length;
    // Die half-way through writing that record.
    truncateSync(join(dir, "journal.bson"), recordStart + Math.floor((size - recordStart) / 2));
    const again = await open(dir);
    expect(await state(again.db)).toEqual(committed);
  });
});
