/**
 * A long query must not make the driver declare the embedded server down (which fails every query
 * in flight with a 503). The verdict rests on what the driver reports, never on how long anything
 * took: heartbeats are observed starting while the query is in flight (so the query really did
 * overlap the monitor's checks, whether the server answers them meanwhile or after the query), no
 * heartbeat fails, the server is never described as Unknown, and the query and one queued behind
 * it both answer. If a fast machine finishes the query between two heartbeats, the work is
 * doubled and the round repeated, so the overlap is reached on any machine.
 */
import { MongoClient, type ServerDescriptionChangedEvent, type ServerHeartbeatFailedEvent } from "mongodb";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CLIENT_OPTIONS } from "../../src/db/connect.js";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../src/embedded/index.js";

let mongo: EmbeddedMongo;
let client: MongoClient;
const failed: ServerHeartbeatFailedEvent[] = [];
const unknown: ServerDescriptionChangedEvent[] = [];
let heartbeatsStarted = 0;

beforeAll(async () => {
  mongo = await startEmbeddedMongo();
  // The driver's fastest heartbeat, so a query of a second or two spans one or more.
  client = new MongoClient(mongo.uri, { ...CLIENT_OPTIONS, heartbeatFrequencyMS: 500 });
  client.on("serverHeartbeatStarted", () => heartbeatsStarted++);
  client.on("serverHeartbeatFailed", (e) => failed.push(e));
  client.on("serverDescriptionChanged", (e) => {
    if (e.newDescription.type === "Unknown") unknown.push(e);
  });
  await client.connect();
});
afterAll(async () => {
  await client?.close();
  await mongo?.stop();
});

it("keeps the server up through a query that spans the driver's heartbeats", async () => {
  const db = client.db("busy");
  let overlapped = 0;
  for (let round = 0, n = 1_000_000; round < 6 && overlapped < 1; round++, n *= 2) {
    const before = heartbeatsStarted;
    const long = db.aggregate([{ $documents: [{}] }, { $set: { x: { $range: [0, n] } } }, { $unwind: "$x" }, { $count: "n" }]).toArray();
    const behind = db.command({ ping: 1 });
    expect(await long).toEqual([{ n }]);
    // Heartbeats the monitor began while the query was in flight.
    overlapped = heartbeatsStarted - before;
    expect(await behind).toMatchObject({ ok: 1 });
  }
  expect(overlapped, "no round of the query overlapped a heartbeat").toBeGreaterThanOrEqual(1);
  expect(failed).toEqual([]);
  expect(unknown).toEqual([]);
  // Still selectable afterwards.
  expect(await db.command({ ping: 1 })).toMatchObject({ ok: 1 });
}, 120_000);
