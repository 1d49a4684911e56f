import { describe, expect, it } from "vitest";
import { MongoClient, MongoServerError } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * Connection-level behaviour: the handshake commands the driver (and tools like mongosh) send,
 * database listing/dropping, unknown commands, and a clean close.
 */
describe("embedded mongo: handshake and admin commands", { timeout: 30_000 }, () => {
  const mongo = useTestMongo("handshake");

  /** A plain `mongodb://127.0.0.1:PORT` URI (no options) when embedded; the external URI otherwise. */
  function plainUri(): string {
    return mongo.embedded ? `mongodb://127.0.0.1:${mongo.embedded.port}` : mongo.uri;
  }

  it("accepts a plain mongodb://127.0.0.1:PORT URI", async () => {
    if (mongo.embedded) {
      expect(mongo.embedded.port).toBeGreaterThan(0);
      // The advertised URI must point at the advertised port.
      expect(mongo.embedded.uri).toContain(String(mongo.embedded.port));
    }
    const client = new MongoClient(plainUri(), { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.connect();
      const res = await client.db("admin").command({ ping: 1 });
      expect(res.ok).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("answers hello", async () => {
    const res = await mongo.client.db("admin").admin().command({ hello: 1 });
    expect(res.ok).toBe(1);
    // A writable primary / standalone must say so, or the driver would never select it for writes.
    expect(res.isWritablePrimary).toBe(true);
    expect(typeof res.maxWireVersion).toBe("number");
    // Driver 7 requires wire version >= 8 (MongoDB 4.2+); the design targets MongoDB >= 6.0 (17).
    expect(res.maxWireVersion).toBeGreaterThanOrEqual(17);
    expect(res.localTime).toBeInstanceOf(Date);
  });

  it("answers the legacy isMaster", async () => {
    const res = await mongo.client.db("admin").admin().command({ isMaster: 1 });
    expect(res.ok).toBe(1);
    expect(res.ismaster).toBe(true);
    expect(typeof res.maxWireVersion).toBe("number");
  });

  it("answers buildInfo with a version string", async () => {
    const res = await mongo.client.db("admin").admin().command({ buildInfo: 1 });
    expect(res.ok).toBe(1);
    expect(typeof res.version).toBe("string");
    expect(res.version).toMatch(/^\d+\.\d+/);
  });

  it("answers ping with ok 1", async () => {
    const res = await mongo.db.command({ ping: 1 });
    expect(res.ok).toBe(1);
  });

  it("lists a database after an insert and drops it with dropDatabase", async () => {
    const name = `${mongo.dbName}_extra`;
    const db = mongo.client.db(name);
    await db.collection("c").insertOne({ a: 1 });

    const listed = await mongo.client.db("admin").admin().listDatabases();
    expect(listed.databases.map((d) => d.name)).toContain(name);

    expect(await db.dropDatabase()).toBe(true);
    const after = await mongo.client.db("admin").admin().listDatabases();
    expect(after.databases.map((d) => d.name)).not.toContain(name);
    // The data is really gone, not just hidden from the listing.
    expect(await db.collection("c").countDocuments()).toBe(0);
  });

  it("rejects an unknown command with CommandNotFound (59), promptly", async () => {
    const started = Date.now();
    const outcome = await Promise.race([
      mongo.db.command({ fooBarBaz: 1 }).then(
        (r) => ({ kind: "resolved" as const, value: r }),
        (e: unknown) => ({ kind: "rejected" as const, error: e }),
      ),
      new Promise<{ kind: "timeout" }>((resolve) => setTimeout(() => resolve({ kind: "timeout" }), 5_000)),
    ]);
    expect(outcome.kind).toBe("rejected");
    if (outcome.kind !== "rejected") return;
    expect(outcome.error).toBeInstanceOf(MongoServerError);
    expect((outcome.error as MongoServerError).code).toBe(59);
    expect(Date.now() - started).toBeLessThan(5_000);

    // The connection is still usable afterwards.
    expect((await mongo.db.command({ ping: 1 })).ok).toBe(1);
  });

  it("closes a client cleanly (endSessions) and the server keeps serving others", async () => {
    const client = new MongoClient(plainUri(), { serverSelectionTimeoutMS: 5_000 });
    await client.connect();
    // Use an implicit session so the driver has something to end on close.
    await client.db(mongo.dbName).collection("close_probe").insertOne({ x: 1 });
    const session = client.startSession();
    await client.db(mongo.dbName).collection("close_probe").findOne({}, { session });
    await session.endSession();

    await expect(client.close()).resolves.toBeUndefined();
    // Closing one client must not disturb the server or the other connections.
    expect(await mongo.db.collection<Loose>("close_probe").countDocuments()).toBe(1);
    expect((await mongo.db.command({ ping: 1 })).ok).toBe(1);
  });
});
