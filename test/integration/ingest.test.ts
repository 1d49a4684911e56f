import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_KEY, bearer, startTestApp, type TestApp } from "../helpers/app.js";

/** A valid operation event; `over` changes or adds fields. */
function op(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    type: "sandbox.operation",
    timestamp: "2026-05-27T10:00:00Z",
    sandbox_id: "sb-1",
    session_id: "sess-1",
    user_id: "u-1",
    provider: "aws",
    session_kind: "standard",
    operation: "command",
    ...over,
  };
}

describe("POST /api/v1/usage/events", () => {
  let t: TestApp;
  let ingestKey: string;
  let readKey: string;
  const post = (payload: unknown, key = ingestKey, headers: Record<string, string> = {}) =>
    t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json", ...headers }, payload: typeof payload === "string" ? payload : JSON.stringify(payload) });

  beforeAll(async () => {
    t = await startTestApp({ env: { INGEST_MAX_BODY_BYTES: "65536" }, label: "ingest" });
    ingestKey = await t.key("acme", "alice", ["ingest"]);
    readKey = await t.key("acme", "alice", ["read"]);
  });
  afterAll(() => t.close());

  it("stores events in MongoDB with defaults applied and the key's org", async () => {
    const res = await post({ events: [op("e-1", { request_count: 3, duration_ms: 1500 }), op("e-2", { timestamp: "2026-05-27T12:30:00+02:00" })] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 2, duplicates: 0 });
    const stored = await t.mongo.db.collection("usage_events").find({ event_id: { $in: ["e-1", "e-2"] } }).sort({ event_id: 1 }).toArray();
    expect(stored).toHaveLength(2);
    expect(stored[0]).toMatchObject({ org_id: "acme", event_id: "e-1", request_count: 3, duration_ms: 1500, workspace_bytes_in: 0, oom_killed: false, api_key_id: null, peak_memory_mib: null });
    // +02:00 at 12:30 is 10:30 UTC.
    expect(stored[1]!.ts).toEqual(new Date("2026-05-27T10:30:00Z"));
    expect(stored[1]).toMatchObject({ request_count: 1, duration_ms: 0 });
  });

  it("accepts NDJSON, one event per line, blank lines ignored", async () => {
    const body = `${JSON.stringify(op("nd-1"))}\n\n${JSON.stringify({ id: "nd-2", type: "sandbox.memory", timestamp: "2026-05-27T10:00:30Z", sandbox_id: "sb-1", used_memory_mb: 612.5 })}\n`;
    const res = await post(body, ingestKey, { "content-type": "application/x-ndjson" });
    expect(res.json()).toEqual({ accepted: 2, duplicates: 0 });
    const mem = await t.mongo.db.collection("usage_events").findOne({ org_id: "acme", event_id: "nd-2" });
    expect(mem).toMatchObject({ type: "sandbox.memory", sandbox_id: "sb-1", used_memory_mb: 612.5 });
  });

  it("counts a re-sent id as a duplicate and changes nothing", async () => {
    await post({ events: [op("dup-1", { duration_ms: 10 })] });
    const res = await post({ events: [op("dup-1", { duration_ms: 99999 }), op("dup-2"), op("dup-2")] });
    // dup-1 was stored before; the second dup-2 repeats the first within the same request.
    expect(res.json()).toEqual({ accepted: 1, duplicates: 2 });
    const docs = await t.mongo.db.collection("usage_events").find({ org_id: "acme", event_id: { $in: ["dup-1", "dup-2"] } }).toArray();
    expect(docs).toHaveLength(2);
    expect(docs.find((d) => d.event_id === "dup-1")!.duration_ms).toBe(10);
  });

  it("stores each id once when many overlapping batches arrive concurrently", async () => {
    // 20 requests, each with 50 ids drawn from the same 200: the unique index must settle every race.
    const ids = (r: number) => Array.from({ length: 50 }, (_, i) => `conc-${(r * 37 + i * 3) % 200}`);
    const distinct = new Set(Array.from({ length: 20 }, (_, r) => ids(r)).flat());
    const results = await Promise.all(Array.from({ length: 20 }, (_, r) => post({ events: ids(r).map((id) => op(id)) })));
    const bodies = results.map((r) => r.json() as { accepted: number; duplicates: number });
    expect(bodies.reduce((n, b) => n + b.accepted, 0)).toBe(distinct.size);
    expect(bodies.reduce((n, b) => n + b.accepted + b.duplicates, 0)).toBe(20 * 50);
    expect(await t.mongo.db.collection("usage_events").countDocuments({ org_id: "acme", event_id: /^conc-/ })).toBe(distinct.size);
  });

  it("rejects the whole request, naming each bad event's index and field, and stores nothing", async () => {
    const res = await post({
      events: [
        op("bad-0"),
        op("bad-1", { timestamp: "2026-05-27 10:00" }),
        op("bad-2", { operation: "reboot", request_count: -1 }),
        { id: "bad-3", type: "sandbox.cpu" },
        op("bad-4", { operation: "session_start" }),
        op("bad-5", { vcpus: 2 }),
        op("bad-6", { $where: "1" }),
      ],
    });
    expect(res.statusCode).toBe(422);
    const locs = (res.json().detail as Array<{ loc: unknown[]; type: string }>).map((d) => [d.loc.join("."), d.type]);
    expect(locs).toEqual(
      expect.arrayContaining([
        ["body.events.1.timestamp", "value_error"],
        ["body.events.2.operation", "enum"],
        ["body.events.2.request_count", "greater_than_equal"],
        ["body.events.3.type", "enum"],
        ["body.events.4.vcpus", "missing"],
        ["body.events.4.memory_mb", "missing"],
        ["body.events.5.vcpus", "value_error"],
        ["body.events.6.$where", "extra_forbidden"],
      ]),
    );
    expect(locs.some(([loc]) => String(loc).startsWith("body.events.0"))).toBe(false);
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: /^bad-/ })).toBe(0);
  });

  it("rejects bodies of the wrong shape with FastAPI's envelope", async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ events: [] }, 422, "body.events"],
      [{ events: Array.from({ length: 5001 }, (_, i) => ({ id: `x${i}` })) }, 413, ""], // over the 64 KiB test limit
      [{}, 422, "body.events"],
      [[op("a")], 422, "body"],
      [{ events: {} }, 422, "body.events"],
      [{ events: [op("a")], extra: 1 }, 422, "body.extra"],
      ["{not json", 422, "body"],
      [{ events: [null, 5] }, 422, "body.events.0"],
    ];
    for (const [payload, status, loc] of cases) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 60)).toBe(status);
      const detail = res.json().detail;
      if (status === 422) expect(detail.map((d: { loc: unknown[] }) => d.loc.join("."))).toContain(loc);
      else expect(typeof detail).toBe("string");
    }
  });

  it("caps a request at 5000 events", async () => {
    // Small events so the body stays under this suite's 64 KiB limit is impossible at 5001 — use a bigger app.
    const big = await startTestApp({ label: "ingestcap" });
    try {
      const key = await big.key("acme", "alice", ["ingest"]);
      const events = Array.from({ length: 5001 }, (_, i) => op(`cap-${i}`));
      const res = await big.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify({ events }) });
      expect(res.statusCode).toBe(422);
      expect(res.json().detail[0]).toMatchObject({ loc: ["body", "events"], type: "too_long" });
      const ok = await big.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify({ events: events.slice(0, 5000) }) });
      expect(ok.json()).toEqual({ accepted: 5000, duplicates: 0 });
      expect(await big.mongo.db.collection("usage_events").countDocuments({})).toBe(5000);
    } finally {
      await big.close();
    }
  });

  it("answers 415 for an unsupported content type and 413 for an oversized NDJSON body", async () => {
    const res = await post("hello", ingestKey, { "content-type": "text/plain" });
    expect(res.statusCode).toBe(415);
    const huge = Array.from({ length: 400 }, (_, i) => JSON.stringify(op(`big-${i}`))).join("\n");
    const res2 = await post(huge, ingestKey, { "content-type": "application/x-ndjson" });
    expect(res2.statusCode).toBe(413);
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: /^big-/ })).toBe(0);
  });

  it("enforces the key: 401 without or with a wrong key, 403 without ingest scope or for another org", async () => {
    const none = await t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { "content-type": "application/json" }, payload: JSON.stringify({ events: [op("auth-1")] }) });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ detail: "Missing API key" });
    expect((await post({ events: [op("auth-1")] }, "usk_nope_nope")).statusCode).toBe(401);
    expect((await post({ events: [op("auth-1")] }, readKey)).statusCode).toBe(403);
    const foreign = await post({ events: [op("auth-2", { org_id: "globex" })] });
    expect(foreign.statusCode).toBe(403);
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: /^auth-/ })).toBe(0);
  });

  it("lets a cluster admin write any org, and needs org_id from a key without one", async () => {
    const noOrg = await post({ events: [op("ca-1")] }, BOOTSTRAP_KEY);
    expect(noOrg.statusCode).toBe(422);
    expect(noOrg.json().detail[0].loc).toEqual(["body", "events", 0, "org_id"]);
    const ok = await post({ events: [op("ca-1", { org_id: "globex" }), op("ca-1", { org_id: "initech" })] }, BOOTSTRAP_KEY);
    // The same id in two orgs is two events: idempotency is per (org, id).
    expect(ok.json()).toEqual({ accepted: 2, duplicates: 0 });
  });
});

describe("sessions derived from lifecycle events", () => {
  let t: TestApp;
  let key: string;
  const ingest = async (events: unknown[]) => {
    const res = await t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify({ events }) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const session = (id: string) => t.mongo.db.collection("sessions").findOne({ org_id: "acme", session_id: id }, { projection: { _id: 0 } });
  const start = (id: string, sessionId: string, ts: string, over: Record<string, unknown> = {}) =>
    op(id, { session_id: sessionId, operation: "session_start", timestamp: ts, vcpus: 2, memory_mb: 1024, ...over });

  beforeAll(async () => {
    t = await startTestApp({ label: "sessions" });
    key = await t.key("acme", "alice", ["ingest"]);
  });
  afterAll(() => t.close());

  it("takes resources from session_start and the end from the first stop, in any arrival order", async () => {
    // The stop arrives first, then a later terminate, then the start: the session still runs 10:00-11:00.
    await ingest([op("s1-stop", { session_id: "s1", operation: "session_stop", timestamp: "2026-05-27T11:00:00Z" })]);
    expect(await session("s1")).toMatchObject({ ended_at: new Date("2026-05-27T11:00:00Z") });
    expect((await session("s1"))!.started_at).toBeUndefined();
    await ingest([op("s1-term", { session_id: "s1", operation: "session_terminate", timestamp: "2026-05-27T11:30:00Z" })]);
    await ingest([start("s1-start", "s1", "2026-05-27T10:00:00Z", { resource: "computer", storage_gb: 5, external_user_id: "cust-1", tags: { team: "core", "a.b": "x" } })]);
    expect(await session("s1")).toEqual({
      org_id: "acme", session_id: "s1", sandbox_id: "sb-1", user_id: "u-1", api_key_id: null, provider: "aws", session_kind: "standard",
      resource: "computer", vcpus: 2, memory_mb: 1024, disk_mb: 0, storage_gb: 5, external_user_id: "cust-1",
      tags: [{ key: "a.b", value: "x" }, { key: "team", value: "core" }],
      started_at: new Date("2026-05-27T10:00:00Z"), start_event_id: "s1-start", ended_at: new Date("2026-05-27T11:00:00Z"),
      // The earliest end at or after the start; `end_at` is what the overlap index reads.
      first_end: new Date("2026-05-27T11:00:00Z"), end_at: new Date("2026-05-27T11:00:00Z"),
    });
  });

  it("moves the end earlier when an earlier stop arrives late, never later", async () => {
    await ingest([start("s2-start", "s2", "2026-05-27T10:00:00Z"), op("s2-stop-b", { session_id: "s2", operation: "session_stop", timestamp: "2026-05-27T12:00:00Z" })]);
    await ingest([op("s2-stop-a", { session_id: "s2", operation: "session_terminate", timestamp: "2026-05-27T11:15:00Z" })]);
    expect((await session("s2"))!.ended_at).toEqual(new Date("2026-05-27T11:15:00Z"));
    await ingest([op("s2-stop-c", { session_id: "s2", operation: "session_stop", timestamp: "2026-05-27T13:00:00Z" })]);
    expect((await session("s2"))!.ended_at).toEqual(new Date("2026-05-27T11:15:00Z"));
  });

  it("leaves a session without a stop open, and re-sending its start changes nothing", async () => {
    await ingest([start("s3-start", "s3", "2026-05-27T09:00:00Z", { vcpus: 4 })]);
    const before = await session("s3");
    expect(before!.ended_at).toBeUndefined();
    expect(await ingest([start("s3-start", "s3", "2026-05-27T09:00:00Z", { vcpus: 64 })])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await session("s3")).toEqual(before);
  });

  it("keeps the earliest start's resources when a later duplicate start arrives", async () => {
    await ingest([start("s4-b", "s4", "2026-05-27T10:05:00Z", { vcpus: 8 })]);
    await ingest([start("s4-a", "s4", "2026-05-27T10:00:00Z", { vcpus: 1 })]);
    await ingest([start("s4-c", "s4", "2026-05-27T10:10:00Z", { vcpus: 16 })]);
    expect(await session("s4")).toMatchObject({ started_at: new Date("2026-05-27T10:00:00Z"), vcpus: 1 });
  });
});

describe("Mutation.recordUsageEvents", () => {
  let t: TestApp;
  let key: string;
  const mutation = `mutation($events: [UsageEventInput!]!) { recordUsageEvents(events: $events) { accepted duplicates } }`;
  const gqlEvent = (id: string, over: Record<string, unknown> = {}) => ({
    id, type: "SANDBOX_OPERATION", timestamp: "2026-05-27T10:00:00Z", sandboxId: "sb-g", sessionId: "sess-g", userId: "u-g",
    provider: "gcp", sessionKind: "browser", operation: "session_start", vcpus: 2, memoryMb: 2048, tags: [{ key: "env", value: "prod" }], ...over,
  });

  beforeAll(async () => {
    t = await startTestApp({ label: "gqlingest" });
    key = await t.key("acme", "alice", ["ingest"]);
  });
  afterAll(() => t.close());

  it("stores events through the same service as REST and counts duplicates", async () => {
    const first = await t.graphql(mutation, { events: [gqlEvent("g-1"), { id: "g-2", type: "SANDBOX_MEMORY", timestamp: "2026-05-27T10:00:10Z", sandboxId: "sb-g", usedMemoryMb: 700 }] }, bearer(key));
    expect(first.body).toEqual({ data: { recordUsageEvents: { accepted: 2, duplicates: 0 } } });
    const again = await t.graphql(mutation, { events: [gqlEvent("g-1")] }, { "x-api-key": key });
    expect(again.body.data).toEqual({ recordUsageEvents: { accepted: 0, duplicates: 1 } });
    const stored = await t.mongo.db.collection("usage_events").findOne({ event_id: "g-1" });
    expect(stored).toMatchObject({ org_id: "acme", session_kind: "browser", memory_mb: 2048, tags: [{ key: "env", value: "prod" }] });
    expect(await t.mongo.db.collection("sessions").findOne({ session_id: "sess-g" })).toMatchObject({ vcpus: 2, started_at: new Date("2026-05-27T10:00:00Z") });
  });

  it("reports invalid events as BAD_USER_INPUT with camelCase locations, storing nothing", async () => {
    const res = await t.graphql(mutation, { events: [gqlEvent("g-3"), gqlEvent("g-4", { vcpus: -1, timestamp: "yesterday" })] }, bearer(key));
    expect(res.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    const locs = res.body.errors![0]!.extensions!.issues.map((i: { loc: unknown[] }) => i.loc.join("."));
    expect(locs).toEqual(expect.arrayContaining(["events.1.vcpus", "events.1.timestamp"]));
    expect(await t.mongo.db.collection("usage_events").countDocuments({ event_id: { $in: ["g-3", "g-4"] } })).toBe(0);
  });

  it("needs a key with the ingest scope", async () => {
    const none = await t.graphql(mutation, { events: [gqlEvent("g-5")] });
    expect(none.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const reader = await t.key("acme", "bob", ["read"]);
    const forbidden = await t.graphql(mutation, { events: [gqlEvent("g-5")] }, bearer(reader));
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
