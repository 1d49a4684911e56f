/**
 * No stored document grows with the number of sessions (a day's rollup once kept every session id
 * and passed 16 MiB at ~120k sessions), and no read builds a set of ids. Two days of one org with
 * the same dimension tuples, one with 20 sessions and one with 2,000: their rollup documents are
 * the same size, their presence documents one per session and bucket, and both count exactly.
 */
import { BSON } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, operation } from "../helpers/events.js";

let t: TestApp;
let read: string;
const DAYS = { sparse: "2026-05-25", dense: "2026-05-26" };
const SESSIONS = { sparse: 20, dense: 2000 };

beforeAll(async () => {
  t = await startTestApp({ label: "bounds", clock: fixedClock("2026-05-28T00:00:00Z"), monitorCommands: true });
  const key = await t.key("acme", "alice", ["ingest"]);
  read = await t.key("acme", "alice", ["read"]);
  for (const which of ["sparse", "dense"] as const) {
    const events = Array.from({ length: SESSIONS[which] }, (_, i) =>
      operation(`${which}-${i}-${"x".repeat(100)}`, i % 2 ? "command" : "turn", `${DAYS[which]}T10:${String(i % 60).padStart(2, "0")}:00Z`, { sandbox_id: "sb" }),
    );
    for (let i = 0; i < events.length; i += 1000) await ingest(t, key, events.slice(i, i + 1000));
  }
}, 120_000);
afterAll(() => t?.close());

const day = (d: string) => ({ "_id.org_id": "acme", "_id.t": new Date(`${d}T00:00:00Z`) });

describe("bounded documents", () => {
  it("keeps a day's rollup documents the same size whatever the number of sessions", async () => {
    const sizes = async (d: string) => (await t.mongo.db.collection("usage_ops_1d").find(day(d)).toArray()).map((x) => BSON.calculateObjectSize(x)).sort();
    expect(await sizes(DAYS.dense)).toEqual(await sizes(DAYS.sparse));
    expect(await t.mongo.db.collection("usage_session_buckets").countDocuments({ ...day(DAYS.dense), "_id.l": "1d" })).toBe(SESSIONS.dense);
  });

  it("counts distinct sessions of the dense day from counters, with no $push or $addToSet in any read", async () => {
    const commands: Array<Record<string, unknown>> = [];
    const listen = (e: { commandName: string; command: Record<string, unknown> }) => e.commandName === "aggregate" && commands.push(e.command);
    t.mongo.client.on("commandStarted", listen);
    const url = `/api/v1/sandbox/usage?start_time=${Date.parse(`${DAYS.sparse}T00:00:00Z`) / 1000}&end_time=${Date.parse("2026-05-27T00:00:00Z") / 1000}&bucket_width=1d&group_by=operation`;
    const res = await t.app.inject({ method: "GET", url, headers: bearer(read) });
    t.mongo.client.off("commandStarted", listen);
    const [sparse, dense] = res.json().data as Array<{ results: Array<{ operation: string; num_sessions: number }> }>;
    expect(dense!.results.map((r) => [r.operation, r.num_sessions])).toEqual([["command", 1000], ["turn", 1000]]);
    expect(sparse!.results.map((r) => [r.operation, r.num_sessions])).toEqual([["command", 10], ["turn", 10]]);
    expect(JSON.stringify(commands)).not.toMatch(/\$push|\$addToSet/);
  });
});
