/**
 * The time budget: a query over it becomes a 504 in the surface's envelope (a GraphQL TIMEOUT
 * with HTTP 504), never a hang; and the embedded server honours maxTimeMS as MongoDB does.
 */
import { failCommand } from "../helpers/failpoints.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MongoServerError } from "mongodb";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start } from "../helpers/events.js";

describe("a query over its time budget", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    // A sandbox that ran the whole month. The queries that must run out of time are stopped by the
    // server at their maxTimeMS (a fail point, as a real mongod would on a slower machine); the
    // budget itself is generous, so that no verdict depends on how fast this machine is.
    t = await startTestApp({ label: "timeouts", clock: fixedClock("2026-05-31T00:00:00Z"), env: { QUERY_TIMEOUT_MS: "10000" } });
    key = await t.key("acme", "alice", ["read", "ingest"]);
    await ingest(t, key, [start("long", "2026-05-01T00:00:00Z", { sandbox_id: "sb-long" }), memorySample("sb-long", "2026-05-02T00:00:00Z", 100)]);
  });
  afterAll(() => t.close());

  it("REST answers 504 in the vendor's envelope", async () => {
    // The server stops the query at its maxTimeMS (as a real mongod would on a slower machine):
    // the verdict does not depend on how fast this one is.
    await failCommand(t.mongo.client, { times: 1 }, { failCommands: ["aggregate"], errorCode: 50 });
    const res = await t.app.inject({ url: "/api/sandboxes/sb-long/usage?from=2026-05-01&to=2026-05-31", headers: { "x-api-key": key } });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toEqual({ error: "The query exceeded its time budget" });
  });

  it("GraphQL answers a TIMEOUT error with HTTP 504", async () => {
    await failCommand(t.mongo.client, { times: 1 }, { failCommands: ["aggregate"], errorCode: 50 });
    const res = await t.graphql(`{ sandbox(id: "sb-long") { memoryUsage(from: "2026-05-01", to: "2026-05-31") { totals { uptimeSeconds } } } }`, {}, { "x-api-key": key });
    expect(res.status).toBe(504);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("TIMEOUT");
  });

  it("a query within budget still answers", async () => {
    const res = await t.app.inject({ url: "/api/sandboxes/sb-long/usage?from=2026-05-02T00:00:00Z&to=2026-05-02T00:10:00Z", headers: { "x-api-key": key } });
    expect(res.statusCode).toBe(200);
    expect(res.json().totals.uptimeSeconds).toBe(600);
  });
});

describe("embedded server: maxTimeMS", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: "maxtime" });
    await t.mongo.db.collection("big").insertMany(Array.from({ length: 20_000 }, (_, i) => ({ i, g: i % 97 })));
  });
  afterAll(() => t.close());

  const slow = [{ $group: { _id: "$g", n: { $sum: 1 }, all: { $push: "$i" } } }, { $unwind: "$all" }, { $sort: { all: -1 } }];

  it("fails an aggregation past its maxTimeMS with MaxTimeMSExpired (50), and runs it without one", async () => {
    const err = await t.mongo.db.collection("big").aggregate(slow, { maxTimeMS: 1 }).toArray().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(50);
    expect((err as MongoServerError).codeName).toBe("MaxTimeMSExpired");
    expect(await t.mongo.db.collection("big").aggregate(slow).toArray()).toHaveLength(20_000);
  });

  it("fails a find past its maxTimeMS, and refuses a negative one", async () => {
    const err = await t.mongo.db.collection("big").find({ g: { $gte: 0 } }).sort({ i: -1 }).maxTimeMS(1).toArray().catch((e: unknown) => e);
    expect((err as MongoServerError).code).toBe(50);
    const bad = await t.mongo.db.command({ find: "big", filter: {}, maxTimeMS: -5 }).catch((e: unknown) => e);
    expect((bad as MongoServerError).code).toBe(2);
  });
});
