/**
 * The size limit of a command: its BSON document (or any entry of a document sequence) may be
 * 16 MiB + 16 KiB — room for a 16 MiB document plus the command around it — and a larger one
 * gets MongoDB's BSONObjectTooLarge (10334) on a connection that stays usable.
 */
import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { useTestMongo } from "../helpers/mongo.js";

const LIMIT = 16 * 1024 * 1024 + 16 * 1024;

describe("embedded mongo: command size limit", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("cmdsize");

  it("rejects a command document over 16 MiB + 16 KiB with BSONObjectTooLarge and keeps the connection", async () => {
    const pad = "x".repeat(LIMIT);
    const err = (await mongo.db.command({ insert: "big", documents: [{ _id: 1, pad }] }).catch((e) => e)) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(10334);
    expect(err.codeName).toBe("BSONObjectTooLarge");
    expect(err.message).toMatch(/BSONObj size: \d+ .* is invalid/);
    expect(await mongo.db.collection("big").countDocuments()).toBe(0);
    expect((await mongo.db.command({ ping: 1 })).ok).toBe(1);
  });

  it("accepts a command just under the limit, larger than 16 MiB", async () => {
    if (!mongo.embedded) return; // a real mongod may reject the unknown field; the size is what is tested here
    const res = await mongo.db.command({ ping: 1, pad: "x".repeat(16 * 1024 * 1024 + 1_000) });
    expect(res.ok).toBe(1);
  });
});
