/**
 * A long query must not make the driver declare the embedded server down (which fails every query
 * in flight with a 503). The server yields between batches of a long read (engine/yielding.ts), so
 * heartbeats are answered meanwhile; and with the service's client options even a command that did
 * not yield would be waited for: a 4-second query, heartbeats every half second, and the query, and
 * one queued behind it, still answer.
 */
import { MongoClient, type ServerHeartbeatFailedEvent } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CLIENT_OPTIONS } from "../../src/db/connect.js";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../src/embedded/index.js";

let mongo: EmbeddedMongo;
let client: MongoClient;
beforeAll(async () => {
  mongo = await startEmbeddedMongo();
  client = new MongoClient(mongo.uri, { ...CLIENT_OPTIONS, heartbeatFrequencyMS: 500 });
  await client.connect();
});
afterAll(async () => {
  await client?.close();
  await mongo?.stop();
});

it("keeps the server up through a query longer than the heartbeat and selection timeouts", async () => {
  const failed: ServerHeartbeatFailedEvent[] = [];
  client.on("serverHeartbeatFailed", (e) => failed.push(e));
  const db = client.db("busy");
  const started = Date.now();
  // About four seconds of work on the server: 2.5 million generated documents counted.
  const long = db.aggregate([{ $documents: [{}] }, { $set: { x: { $range: [0, 2_500_000] } } }, { $unwind: "$x" }, { $count: "n" }]).toArray();
  const behind = db.command({ ping: 1 });
  expect(await long).toEqual([{ n: 2_500_000 }]);
  expect(await behind).toMatchObject({ ok: 1 });
  expect(Date.now() - started, "the query must outlast the 3 s server selection timeout to prove anything").toBeGreaterThan(3_500);
  expect(failed).toEqual([]);
}, 60_000);
