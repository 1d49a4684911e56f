/**
 * The embedded server's journal (EMBEDDED_DATA_DIR): every write is replayed at the next start, so
 * the data and indexes survive a clean stop, a `kill -9` of the process, and a torn last record.
 */
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Db, MongoClient } from "mongodb";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo } from "../../src/embedded/index.js";
import { EmbeddedMongoServer } from "../../src/embedded/server.js";

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "usage-journal-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function withClient<T>(uri: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
  try {
    return await fn(client.db("app"));
  } finally {
    await client.close();
  }
}

/** Every collection's documents (sorted by _id) and index names, to compare whole states. */
async function snapshot(db: Db) {
  const out: Record<string, unknown> = {};
  for (const { name } of await db.listCollections().toArray()) {
    const indexes = (await db.collection(name).listIndexes().toArray()).map((i) => `${i.name}${i.unique ? "!" : ""}`).sort();
    out[name] = { docs: await db.collection(name).find().sort({ _id: 1 }).toArray(), indexes };
  }
  return out;
}

/** A mix of every kind of write the service makes, including ones that fail half-way. */
async function writeEverything(db: Db): Promise<void> {
  const events = db.collection("events");
  await events.createIndex({ org: 1, id: 1 }, { unique: true, name: "org_id_unique" });
  await events.insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: `e${i}` as never, org: "a", id: i, at: new Date(Date.UTC(2026, 4, 1, 0, i)) })));
  // An unordered insert with duplicates: the new ones land, the duplicates fail.
  await events.insertMany([{ org: "a", id: 1 }, { _id: "e-new" as never, org: "a", id: 1000 }], { ordered: false }).catch(() => undefined);
  await events.updateMany({ id: { $lt: 10 } }, { $set: { touched: true }, $inc: { n: 2 } });
  await events.updateOne({ _id: "up-1" as never }, { $setOnInsert: { org: "b", id: 1 } }, { upsert: true });
  await events.deleteMany({ id: { $gte: 490, $lt: 500 } });
  await events.findOneAndUpdate({ _id: "e20" as never }, { $set: { found: 1 } });
  await db.collection("sessions").createIndex({ org: 1, s: 1 }, { unique: true, name: "org_s_unique" });
  await events.aggregate([{ $group: { _id: { $mod: ["$id", 7] }, n: { $sum: 1 } } }, { $project: { _id: 0, org: "a", s: "$_id", n: 1 } }, { $merge: { into: "sessions", on: ["org", "s"] } }]).toArray();
  await db.collection("scratch").insertOne({ _id: "gone" as never });
  await db.collection("scratch").drop();
}

describe("embedded server journal", () => {
  it("replays every write after a clean stop: same documents, same indexes, and keeps enforcing them", async () => {
    const dir = dataDir();
    const first = await startEmbeddedMongo({ dataDir: dir });
    const before = await withClient(first.uri, async (db) => {
      await writeEverything(db);
      return snapshot(db);
    });
    await first.stop();
    expect(Object.keys(before).sort()).toEqual(["events", "sessions"]);

    const second = await startEmbeddedMongo({ dataDir: dir });
    expect(second.replayed).toBeGreaterThan(0);
    await withClient(second.uri, async (db) => {
      expect(await snapshot(db)).toEqual(before);
      const dup = await db.collection("events").insertOne({ org: "a", id: 5 }).catch((e: { code?: number }) => e);
      expect((dup as { code?: number }).code).toBe(11000);
      await db.collection("events").insertOne({ _id: "after-restart" as never, org: "a", id: 2000 });
    });
    await second.stop();

    // The write made after the restart is journaled too (on top of the compacted snapshot).
    const third = await startEmbeddedMongo({ dataDir: dir });
    await withClient(third.uri, async (db) => {
      expect(await db.collection("events").countDocuments()).toBe((before.events as { docs: unknown[] }).docs.length + 1);
      expect(await db.collection("events").findOne({ _id: "after-restart" as never })).toMatchObject({ id: 2000 });
    });
    await third.stop();
  }, 60_000);

  it("drops a torn last record (a crash mid-write) and keeps everything before it", async () => {
    const dir = dataDir();
    const server = new EmbeddedMongoServer({ dataDir: dir });
    const port = await server.listen();
    await withClient(`mongodb://127.0.0.1:${port}`, (db) => db.collection("c").insertMany([{ _id: 1 as never }, { _id: 2 as never }]));
    await server.close();
    const path = join(dir, "journal.bson");
    const size = statSync(path).size;
    // Half of a record: a length prefix promising 200 bytes, then 10 bytes.
    appendFileSync(path, Buffer.concat([Buffer.from([200, 0, 0, 0]), Buffer.alloc(10, 7)]));
    expect(statSync(path).size).toBe(size + 14);
    const again = new EmbeddedMongoServer({ dataDir: dir });
    const port2 = await again.listen();
    await withClient(`mongodb://127.0.0.1:${port2}`, async (db) => {
      expect(await db.collection("c").find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1 }, { _id: 2 }]);
    });
    await again.close();
  });

  it("keeps every acknowledged write across a kill -9 of the server process", async () => {
    const dir = dataDir();
    const startProcess = () =>
      new Promise<{ uri: string; kill: () => Promise<void> }>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "scripts/embedded-mongo.ts", "--port", "0", "--data-dir", dir], { stdio: ["ignore", "pipe", "inherit"] });
        child.once("error", reject);
        child.stdout.on("data", (chunk: Buffer) => {
          const m = /mongodb:\/\/[\d.]+:\d+/.exec(chunk.toString());
          if (m) resolve({ uri: m[0], kill: () => new Promise((r) => { child.once("exit", () => r()); child.kill("SIGKILL"); }) });
        });
      });
    const first = await startProcess();
    await withClient(first.uri, async (db) => {
      for (let i = 0; i < 20; i++) await db.collection("acks").insertOne({ _id: i as never, at: new Date() });
    });
    await first.kill();
    const second = await startProcess();
    await withClient(second.uri, async (db) => {
      expect((await db.collection("acks").find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });
    await second.kill();
  }, 60_000);
});
