/**
 * Rollups answer exactly what raw events answer. A random event stream (two orgs, overlapping
 * sessions, sub-minute and boundary timestamps, nulls, memory samples several to a minute) is
 * ingested shuffled, in random batch sizes, some batches concurrently, with re-sent duplicates.
 * Then two services over the same database — one reading rollups (the default), one with
 * USAGE_SOURCE=raw — must give byte-identical answers on every endpoint for random windows,
 * widths, group-bys (none at all included: the totals), scopes and pages; and a rebuild from raw events must reproduce the rollups
 * the incremental refreshes left behind, and repair ones that were damaged.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { Random } from "../../src/demo/random.js";
import { rebuildAll } from "../../src/store/rebuild.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { failCommand } from "../helpers/failpoints.js";

const NOW = "2026-05-28T00:00:00Z";
const T0 = Date.parse("2026-05-24T00:00:00Z");
const DAY = 86_400_000;
const ORGS = ["acme", "globex"];
const WORK = ["turn", "repo_task", "command", "code", "workspace_manifest", "workspace_download", "workspace_upload"];
const SECRET = "rollups-test-page-token-secret";

type Event = Record<string, unknown> & { id: string; org_id: string };

/** A deterministic random stream of operations and memory samples. */
function randomEvents(rnd: Random): Event[] {
  const events: Event[] = [];
  const iso = (t: number) => new Date(t).toISOString();
  for (const org of ORGS) {
    for (let s = 0; s < 14; s++) {
      const session = `${org}-s${s}`;
      const sandbox = `sb-${rnd.int(1, 4)}`;
      const base = {
        org_id: org, type: "sandbox.operation", sandbox_id: sandbox, session_id: session,
        user_id: `u${rnd.int(1, 3)}`, api_key_id: rnd.chance(0.3) ? null : `key-${rnd.int(1, 2)}`,
        provider: rnd.pick(["aws", "gcp"]), session_kind: rnd.pick(["standard", "browser"]),
      };
      const start = T0 + rnd.int(0, 3.5 * DAY);
      const end = Math.min(start + rnd.int(60_000, 20 * 3_600_000), Date.parse(NOW) - 1);
      events.push({ ...base, id: `${session}-start`, timestamp: iso(start), operation: "session_start", vcpus: rnd.int(1, 4), memory_mb: rnd.pick([512, 1024, 2048]), external_user_id: `cust-${rnd.int(1, 2)}` });
      if (rnd.chance(0.8)) events.push({ ...base, id: `${session}-stop`, timestamp: iso(end), operation: rnd.pick(["session_stop", "session_terminate"]) });
      // A stop before the start ends nothing: the session runs to its first end at or after its start.
      if (rnd.chance(0.2)) events.push({ ...base, id: `${session}-early-stop`, timestamp: iso(start - rnd.int(1_000, 3_600_000)), operation: "session_stop" });
      const ops = rnd.int(5, 60);
      for (let k = 0; k < ops; k++) {
        // Some operations land exactly on a minute, hour or day boundary.
        const at = rnd.chance(0.1) ? Math.floor(rnd.int(start, end) / 3_600_000) * 3_600_000 : rnd.int(start, end);
        // A few sessions change user or provider part-way ("mixed" in a bucket: counted from presence).
        const who = rnd.chance(0.05) ? { user_id: `u${rnd.int(1, 3)}`, provider: rnd.pick(["aws", "gcp"]) } : {};
        events.push({
          ...base, ...who, id: `${session}-op-${k}`, timestamp: iso(at), operation: rnd.pick(WORK),
          request_count: rnd.int(0, 5), duration_ms: rnd.int(0, 30_000), workspace_bytes_in: rnd.int(0, 1e6), workspace_bytes_out: rnd.int(0, 1e6),
          files_changed_count: rnd.int(0, 9), oom_killed: rnd.chance(0.05),
          peak_memory_mib: rnd.chance(0.3) ? null : rnd.int(100, 4000) / 10, reserved_memory_mib: rnd.chance(0.3) ? null : rnd.pick([512, 1024]),
        });
      }
    }
    // Memory samples, several to a minute at times, inside sessions and outside them.
    for (const e of events.filter((x) => x.org_id === org && x.operation === "session_start")) {
      let t = Date.parse(e.timestamp as string) - rnd.int(0, 600_000);
      for (let i = rnd.int(0, 50); i > 0; i--) {
        t += rnd.int(5_000, 3 * 60_000);
        events.push({ id: `${e.session_id}-mem-${i}`, org_id: org, type: "sandbox.memory", timestamp: iso(t), sandbox_id: e.sandbox_id, used_memory_mb: rnd.int(1000, 40000) / 10 });
      }
    }
  }
  return events;
}

function shuffle<T>(items: T[], rnd: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rnd.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

let fromRollups: TestApp;
let fromRaw: TestApp;
const keys: Record<string, string> = {};
let events: Event[];

let faulted = 0;
let voided = 0;

function post(t: TestApp, batch: Event[]) {
  return t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(keys.admin!), "content-type": "application/json" }, payload: JSON.stringify({ events: batch }) });
}

async function send(t: TestApp, batch: Event[]) {
  const res = await t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(keys.admin!), "content-type": "application/json" }, payload: JSON.stringify({ events: batch }) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { accepted: number; duplicates: number };
}

beforeAll(async () => {
  const env = { PAGE_TOKEN_SECRET: SECRET };
  fromRollups = await startTestApp({ label: "rollups", clock: fixedClock(NOW), env, monitorCommands: true });
  fromRaw = await startTestApp({ clock: fixedClock(NOW), env: { ...env, USAGE_SOURCE: "raw" }, mongo: fromRollups.mongo });
  keys.admin = await fromRollups.key("ops", "root", ["read", "ingest", "admin"], true);
  keys.acme = await fromRollups.key("acme", "u1", ["read"]);
  keys.globex = await fromRollups.key("globex", "u2", ["read"]);

  const rnd = new Random(20261201);
  events = randomEvents(rnd);
  // Every tenth event is sent twice, in another batch.
  const stream = shuffle([...events, ...events.filter((_, i) => i % 10 === 0)], rnd);
  const batches: Event[][] = [];
  for (let i = 0; i < stream.length; ) {
    const size = rnd.int(1, 150);
    batches.push(stream.slice(i, i + size));
    i += size;
  }
  // Three batches at a time (their transactions conflict on shared buckets and are retried). Every
  // third round runs with an injected failure inside the ingest transaction: a failed request must
  // have stored nothing, and the client's retry stores it once. Every third round voids some events
  // already sent (and a few never sent); some of those are re-sent later and are duplicates.
  const admin = fromRollups.mongo.client;
  const faults = [
    { failCommands: ["insert"], errorCode: 11600 },
    { failCommands: ["update"], errorCode: 91 },
    { failCommands: ["find"], closeConnection: true },
    { failCommands: ["aggregate"], errorCode: 11602 },
    { failCommands: ["delete", "update"], errorCode: 112, errorLabels: ["TransientTransactionError"] },
    { failCommands: ["commitTransaction"], closeConnection: true },
    { failCommands: ["commitTransaction"], errorCode: 91 },
  ];
  let accepted = 0;
  let round = 0;
  for (let i = 0; i < batches.length; i += 3, round++) {
    const group = batches.slice(i, i + 3);
    if (round % 3 === 1) {
      const off = await failCommand(admin, { times: 1 }, rnd.pick(faults));
      for (const b of group) {
        const res = await post(fromRollups, b);
        if (res.statusCode === 200) accepted += (res.json() as { accepted: number }).accepted;
        else {
          faulted++;
          // The database failed under it: 503, and nothing of the batch was stored (the retry accepts it all).
          expect(res.statusCode, res.body).toBe(503);
          accepted += (await send(fromRollups, b)).accepted;
        }
      }
      await off();
    } else {
      for (const r of await Promise.all(group.map((b) => send(fromRollups, b)))) accepted += r.accepted;
    }
    if (round % 3 === 2) {
      const sent = batches.slice(0, i + 3).flat();
      const ids = [...new Set(sent.filter(() => rnd.chance(0.02)).map((e) => e.id)), "never-sent"];
      const byOrg = new Map<string, string[]>();
      for (const e of sent) if (ids.includes(e.id)) byOrg.set(e.org_id, [...new Set([...(byOrg.get(e.org_id) ?? []), e.id])]);
      for (const [org, orgIds] of byOrg) {
        const res = await fromRollups.app.inject({ method: "POST", url: "/api/v1/usage/events/void", headers: bearer(keys.admin!), payload: { ids: [...orgIds, "never-sent"], reason: "test", org_id: org } });
        expect(res.statusCode, res.body).toBe(200);
        const r = res.json() as { voided: number; already_voided: number; unknown: number };
        expect(r.voided + r.already_voided).toBe(orgIds.length);
        expect(r.unknown).toBe(1);
        voided += r.voided;
      }
    }
  }
  expect(faulted).toBeGreaterThan(0);
  expect(voided).toBeGreaterThan(10);
  // Every event was stored exactly once, whatever failed; voided ones are still taken.
  expect(accepted).toBe(events.length);
  expect(await fromRollups.mongo.db.collection("usage_events").countDocuments()).toBe(events.length - voided);
}, 120_000);
afterAll(async () => {
  await fromRaw?.close();
  await fromRollups?.close();
});

/** The same request to both services: the same status (200 unless said otherwise), the same JSON. */
async function same(url: string, key: string, headers: Record<string, string> = {}, status: number[] = [200]): Promise<unknown> {
  const ask = (t: TestApp) => t.app.inject({ method: "GET", url, headers: { ...bearer(key), "x-api-key": key, ...headers } });
  const [a, b]: [LightMyRequestResponse, LightMyRequestResponse] = [await ask(fromRollups), await ask(fromRaw)];
  expect(status, `${url} → ${a.statusCode} ${a.body.slice(0, 300)}`).toContain(a.statusCode);
  expect([b.statusCode, b.json()], url).toEqual([a.statusCode, a.json()]);
  return a.json();
}

const GROUP_BY = ["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"];
const unix = (t: number) => Math.floor(t / 1000);

interface PageAsk {
  width: "1m" | "1h" | "1d";
  start: number;
  end: number | null;
  groupBy: string[];
  scope: string;
  zone: string;
}

/** Every page (up to 4) of one MKA1 question, each checked against the raw answer; how many buckets had results. */
async function samePages(ask: PageAsk): Promise<number> {
  const key = ask.scope === "acme" || ask.scope === "globex" ? keys[ask.scope]! : keys.admin!;
  let url =
    `/api/v1/sandbox/usage?start_time=${unix(ask.start)}&bucket_width=${ask.width}` +
    (ask.end ? `&end_time=${unix(ask.end)}` : "") +
    (ask.groupBy.length ? `&group_by=${ask.groupBy.join(",")}` : "") +
    (ask.scope === "all_orgs" ? "&all_orgs=true" : ask.scope === "org_ids" ? "&org_ids=acme,globex" : "") +
    (ask.width === "1m" ? "&limit=1440" : "") +
    (ask.zone === "UTC" ? "" : `&time_zone=${encodeURIComponent(ask.zone)}`);
  let nonEmpty = 0;
  for (let page = 0; page < 4; page++) {
    const body = (await same(url, key)) as { data: Array<{ results: unknown[] }>; has_more: boolean; next_page: string | null };
    nonEmpty += body.data.filter((b) => b.results.length > 0).length;
    if (!body.next_page) break;
    url = `${url.replace(/&page=[^&]*/, "")}&page=${encodeURIComponent(body.next_page)}`;
  }
  return nonEmpty;
}

describe("rollups answer as raw events do", () => {
  it("MKA1 buckets: random windows, widths, group-bys and scopes, every page", async () => {
    const rnd = new Random(7);
    let nonEmpty = 0;
    for (let i = 0; i < 45; i++) {
      const width = (["1m", "1h", "1d"] as const)[i % 3]!;
      const span = { "1m": 5 * 3_600_000, "1h": 2 * DAY, "1d": 5 * DAY }[width];
      const start = T0 - DAY + rnd.int(0, 4.5 * DAY);
      const end = rnd.chance(0.2) ? null : start + rnd.int(1_000, span);
      const groupBy = GROUP_BY.filter(() => rnd.chance(0.4));
      const scope = rnd.pick(["acme", "globex", "all_orgs", "org_ids"]);
      const zone = rnd.pick(["UTC", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"]);
      nonEmpty += await samePages({ width, start, end, groupBy, scope, zone });
    }
    expect(nonEmpty).toBeGreaterThan(100);
  }, 60_000);

  it("MKA1 without group-by (the totals) and by org only: random windows, widths, scopes and zones, every page", async () => {
    const rnd = new Random(13);
    let nonEmpty = 0;
    for (let i = 0; i < 36; i++) {
      const width = (["1m", "1h", "1d"] as const)[i % 3]!;
      const span = { "1m": 5 * 3_600_000, "1h": 2 * DAY, "1d": 5 * DAY }[width];
      // Whole UTC buckets (the totals' counters alone) and ragged ones (presence, raw edges).
      const start = T0 - DAY + (rnd.chance(0.5) ? Math.floor(rnd.int(0, 4.5 * DAY) / 3_600_000) * 3_600_000 : rnd.int(0, 4.5 * DAY));
      const end = rnd.chance(0.2) ? null : start + rnd.int(1_000, span);
      const byOrg = i % 4 === 3;
      const scope = rnd.pick(["acme", "globex", "all_orgs", "org_ids"]);
      const zone = rnd.pick(["UTC", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"]);
      nonEmpty += await samePages({ width, start, end, groupBy: byOrg ? ["org_id"] : [], scope, zone });
    }
    expect(nonEmpty).toBeGreaterThan(100);
  }, 60_000);

  it("MKA1 under X-On-Behalf-Of (raw events in both) and in GraphQL", async () => {
    await same(`/api/v1/sandbox/usage?start_time=${unix(T0)}&bucket_width=1h&limit=168&group_by=user_id`, keys.acme!, { "x-on-behalf-of": "cust-1" });
    const query = `{ sandboxUsage(startTime: ${unix(T0) + 59}, endTime: ${unix(T0 + 3 * DAY) - 1}, bucketWidth: "1d", groupBy: [operation, provider]) { hasMore data { startTime results { operation provider numOperations numSessions requestCount durationMs workspaceBytesIn oomKilledCount peakMemoryMib reservedMemoryMib } } } }`;
    const [a, b] = [await fromRollups.graphql(query, {}, { "x-api-key": keys.acme! }), await fromRaw.graphql(query, {}, { "x-api-key": keys.acme! })];
    expect(a.body.errors).toBeUndefined();
    expect(a.body).toEqual(b.body);
    // Without groupBy (the totals), in whole UTC hours and in Kolkata's.
    for (const zone of ["", `, timeZone: "Asia/Kolkata"`]) {
      const ungrouped = `{ sandboxUsage(startTime: ${unix(T0)}, endTime: ${unix(T0 + 2 * DAY)}, bucketWidth: "1h", limit: 48${zone}) { hasMore data { startTime results { numOperations numSessions requestCount durationMs workspaceBytesIn workspaceBytesOut filesChangedCount oomKilledCount peakMemoryMib reservedMemoryMib } } } }`;
      const [c, d] = [await fromRollups.graphql(ungrouped, {}, { "x-api-key": keys.acme! }), await fromRaw.graphql(ungrouped, {}, { "x-api-key": keys.acme! })];
      expect(c.body.errors).toBeUndefined();
      expect(c.body).toEqual(d.body);
    }
  });

  it("OpenComputer memory series: random windows over every sandbox, also on behalf of a customer", async () => {
    const rnd = new Random(11);
    let sampled = 0;
    for (let i = 0; i < 16; i++) {
      const org = rnd.pick(["acme", "globex"]);
      const from = T0 + rnd.int(0, 3 * DAY);
      const to = from + rnd.int(30_000, DAY);
      const url = `/api/sandboxes/sb-${rnd.int(1, 4)}/usage?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
      // A customer sees only sandboxes they ran (else 404, from both).
      const onBehalf = rnd.chance(0.3);
      const body = (await same(url, keys[org]!, onBehalf ? { "x-on-behalf-of": "cust-2" } : {}, onBehalf ? [200, 404] : [200])) as { totals?: { memoryUsedPeakMb: number } };
      if (body.totals && body.totals.memoryUsedPeakMb > 0) sampled++;
    }
    expect(sampled).toBeGreaterThan(3);
  }, 60_000);

  it("MIOSA, Dreadnode and the OpenComputer aggregate (sessions in both)", async () => {
    await same("/api/v1/usage?period=30d&group_by=external_user_id", keys.acme!);
    await same("/api/v1/org/acme/sandboxes/usage", keys.acme!);
    await same("/api/usage?groupBy=sandbox", keys.globex!);
  });

  /** The collections the rollup service's aggregations read (first stage, then each $unionWith), for one request. */
  async function sourcesOf(url: string): Promise<string[][]> {
    const pipelines: Array<{ aggregate: string; pipeline: Array<Record<string, any>> }> = [];
    const listener = (e: { commandName: string; command: any }) => e.commandName === "aggregate" && pipelines.push(e.command);
    fromRollups.mongo.client.on("commandStarted", listener);
    await same(url, keys.acme!);
    fromRollups.mongo.client.off("commandStarted", listener);
    // The rollup service's pipelines, then the raw one's (the last).
    return pipelines.slice(0, -1).map((p) => [p.aggregate, ...p.pipeline.filter((s) => s.$unionWith).map((s) => s.$unionWith.coll)]);
  }

  it("reads whole days from usage_ops_1d, and only the edges from finer rollups and raw events", async () => {
    // [T0 − 1 h 30 s, T0 + 3 d) in days: raw events for 30 s, an hour, then three whole days.
    const [measures, presence, ...rest] = await sourcesOf(`/api/v1/sandbox/usage?start_time=${unix(T0) - 3630}&end_time=${unix(T0 + 3 * DAY)}&bucket_width=1d&group_by=user_id`);
    expect(rest).toEqual([]);
    expect(measures).toEqual(["usage_ops_1d", "usage_ops_1h", "usage_events"]);
    // Distinct sessions of the three whole days come from the day counters; presence is read only
    // for the ragged first bucket (and the mixed sessions of whole days).
    expect(presence).toEqual(["usage_session_buckets", "usage_events", "usage_session_buckets"]);
  });

  it("without group-by, reads the totals: one document per org and bucket, and presence only for ragged buckets", async () => {
    const [measures, presence, ...rest] = await sourcesOf(`/api/v1/sandbox/usage?start_time=${unix(T0) - 3630}&end_time=${unix(T0 + 3 * DAY)}&bucket_width=1d`);
    expect(rest).toEqual([]);
    expect(measures).toEqual(["usage_totals_1d", "usage_totals_1h", "usage_events"]);
    // The totals count mixed sessions too: whole days need no presence.
    expect(presence).toEqual(["usage_session_buckets", "usage_events"]);
    // Whole UTC minutes: the totals alone, no presence pipeline at all.
    expect(await sourcesOf(`/api/v1/sandbox/usage?start_time=${unix(T0 + DAY)}&end_time=${unix(T0 + DAY) + 3600}&bucket_width=1m&group_by=org_id`)).toEqual([["usage_totals_1m"]]);
  });
});

/** A rollup collection's documents in `_id` order, with their session sets sorted. */
async function contents(t: TestApp, name: string) {
  const docs = await t.mongo.db.collection(name).find({}).toArray();
  return docs
    .map((d) => (Array.isArray(d.sessions) ? { ...d, sessions: [...(d.sessions as string[])].sort() } : d))
    .sort((a, b) => (JSON.stringify(a._id) < JSON.stringify(b._id) ? -1 : 1));
}

const ROLLUPS = ["usage_ops_1m", "usage_ops_1h", "usage_ops_1d", "usage_totals_1m", "usage_totals_1h", "usage_totals_1d", "usage_session_buckets", "usage_memory_1m", "sessions", "sandboxes"];

describe("rebuilding rollups from raw events", () => {
  it("reproduces exactly what the incremental refreshes left", async () => {
    const before = await Promise.all(ROLLUPS.map((c) => contents(fromRollups, c)));
    expect(before.map((c) => c.length).every((n) => n > 0)).toBe(true);
    await rebuildAll(fromRollups.deps.client, fromRollups.deps.cols);
    const after = await Promise.all(ROLLUPS.map((c) => contents(fromRollups, c)));
    for (const [i, name] of ROLLUPS.entries()) expect(after[i], name).toEqual(before[i]);
  }, 60_000);

  it("repairs damaged and stray rollups", async () => {
    const cols = fromRollups.deps.cols;
    const url = `/api/v1/sandbox/usage?start_time=${unix(T0)}&end_time=${unix(T0 + 4 * DAY)}&bucket_width=1d&group_by=user_id`;
    const good = await same(url, keys.acme!);
    const ungrouped = url.replace("&group_by=user_id", "");
    const goodTotals = await same(ungrouped, keys.acme!);
    await cols.totalsByDay.updateMany({ "_id.org_id": "acme" }, { $set: { n: 1e9, ns: 0 } });
    await cols.totalsByHour.deleteMany({ "_id.org_id": "acme" });
    await cols.opsByDay.updateMany({ "_id.org_id": "acme" }, { $set: { n: 1e9, request_count: 1 } });
    await cols.opsByHour.deleteMany({ "_id.org_id": "acme", "_id.t": { $lt: new Date(T0 + DAY) } });
    await cols.opsByDay.insertOne({ ...(await cols.opsByDay.findOne({ "_id.org_id": "acme" }))!, _id: { org_id: "acme", t: new Date(T0 - 30 * DAY), user_id: "ghost", api_key_id: null, operation: "turn", provider: "aws", session_kind: "standard" } });
    const damaged = await fromRollups.app.inject({ method: "GET", url, headers: bearer(keys.acme!) });
    expect(damaged.json()).not.toEqual(good);
    expect((await fromRollups.app.inject({ method: "GET", url: ungrouped, headers: bearer(keys.acme!) })).json()).not.toEqual(goodTotals);
    await rebuildAll(fromRollups.deps.client, cols);
    expect(await same(url, keys.acme!)).toEqual(good);
    expect(await same(ungrouped, keys.acme!)).toEqual(goodTotals);
    expect(await cols.opsByDay.countDocuments({ "_id.user_id": "ghost" })).toBe(0);
  }, 60_000);
});

describe("rebuilding while ingest goes on", () => {
  it("ends as a rebuild of the final events would, and answers as raw events do", async () => {
    const rnd = new Random(99);
    const more = randomEvents(rnd).map((e) => ({ ...e, id: `late-${e.id}` }));
    const batches: Event[][] = [];
    for (let i = 0; i < more.length; i += 60) batches.push(more.slice(i, i + 60));
    // The rebuild and a stream of ingests into the same org-days, at once.
    await Promise.all([
      rebuildAll(fromRollups.deps.client, fromRollups.deps.cols),
      (async () => {
        for (const b of batches) await send(fromRollups, b);
      })(),
    ]);
    const during = await Promise.all(ROLLUPS.map((c) => contents(fromRollups, c)));
    await rebuildAll(fromRollups.deps.client, fromRollups.deps.cols);
    const after = await Promise.all(ROLLUPS.map((c) => contents(fromRollups, c)));
    for (const [i, name] of ROLLUPS.entries()) expect(during[i], name).toEqual(after[i]);
    await same(`/api/v1/sandbox/usage?start_time=${unix(T0)}&end_time=${unix(T0 + 4 * DAY)}&bucket_width=1h&limit=168&group_by=operation`, keys.acme!);
    await same(`/api/v1/sandbox/usage?start_time=${unix(T0)}&end_time=${unix(T0 + 4 * DAY)}&bucket_width=1h&limit=168`, keys.acme!);
  }, 120_000);
});
