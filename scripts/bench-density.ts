/**
 * `npm run bench -- --profile density [--dense 1000000] [--mid 100000] [--sessions 130000] [--sustain-seconds 60] [--rounds 30]`
 *
 * What ingest and queries cost as one org-hour gets dense (the history profile, scripts/bench.ts,
 * spreads its events over 30 days instead). Prints, beside its targets:
 * 1. p50 of 100-event ingest requests (HTTP, the service's endpoint) into an org-hour holding 0,
 *    `--mid` and `--dense` events; target dense ÷ empty ≤ 1.3;
 * 2. sustained ingest of 100-event requests from 4 clients for `--sustain-seconds`, against a bare
 *    `insertMany` of the same requests from 4 clients into an empty copy of the collection; ≥ 0.5;
 * 3. MKA1 `1m` buckets over the dense hour against a sparse hour (2,000 events), asked alternately,
 *    30 of each after 5 warm-up pairs; ≤ 2.0; and, without target, the other ungrouped paths over
 *    the dense data: `1h` × 24 over its UTC day, `1d` × 7, and `1h` in Asia/Kolkata (local hours
 *    of 60 minute buckets, sessions counted from presence);
 * 4. MKA1 `1d` with `group_by=operation` over a day of `--sessions` sessions: exact (every row
 *    checked against the generated data) and without error;
 * 5. peak RSS of the embedded server per stored event.
 *
 * Processes: an embedded MongoDB and the service as children on loopback, as bench.ts runs them.
 * The dense hour is seeded through the ingest service code in-process (5,000 events a call: the
 * real store, rollups and sessions included), the measured requests go over HTTP.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Principal } from "../src/auth/principal.js";
import { systemClock } from "../src/clock.js";
import { ensureIndexes } from "../src/db/collections.js";
import { MAX_EVENTS_PER_REQUEST } from "../src/ingest/events.js";
import { recordUsageEvents, toStoredEvent, validateEvents } from "../src/ingest/service.js";
import { peakRssMb, percentiles, startBenchStack } from "./bench-stack.js";
import { stopChildren } from "./processes.js";

const { values } = parseArgs({
  options: {
    profile: { type: "string" },
    dense: { type: "string", default: "1000000" },
    mid: { type: "string", default: "100000" },
    sessions: { type: "string", default: "130000" },
    "sustain-seconds": { type: "string", default: "60" },
    rounds: { type: "string", default: "30" },
  },
});
const DENSE = Number(values.dense);
const MID = Number(values.mid);
const SESSIONS = Number(values.sessions);
const SUSTAIN_S = Number(values["sustain-seconds"]);
const ROUNDS = Number(values.rounds);
if (![DENSE, MID, SESSIONS, SUSTAIN_S, ROUNDS].every((n) => Number.isInteger(n) && n > 0) || MID >= DENSE) {
  console.error("--dense, --mid, --sessions, --sustain-seconds and --rounds: positive integers, --mid below --dense");
  process.exit(1);
}

const DB = "bench_density";
const HOUR = 3_600_000;
const DAY = 86_400_000;
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

const { mongo, client, cols, url, createKey: keyOf } = await startBenchStack(DB, 600_000);
const createKey = (org: string, scopes: string[]) => keyOf(org, `${org}-bench`, scopes);
const SEEDER: Principal = { keyId: "bench", orgId: null, userId: "bench", scopes: new Set(["ingest"]), clusterAdmin: true, onBehalfOf: null };

// The org-hours: the dense one two days back, a sparse one the day before, a day of many sessions.
const now = Date.now();
const denseHour = Math.floor((now - 2 * DAY) / HOUR) * HOUR;
const sparseHour = denseHour - DAY;
const sessionDay = Math.floor((now - 5 * DAY) / DAY) * DAY;

const WORK = ["command", "code", "turn", "repo_task", "workspace_upload", "workspace_download"] as const;
const SANDBOXES = 1_000;
let seq = 0;
/** One operation of org `org` at `t` in one of the hour's 1,000 sandboxes (a session each). */
function op(org: string, t: number, n: number, prefix: string): Record<string, unknown> {
  const sb = n % SANDBOXES;
  return {
    id: `${prefix}-${++seq}`,
    type: "sandbox.operation",
    timestamp: new Date(t).toISOString(),
    sandbox_id: `sb-${sb}`,
    session_id: `${org}-s-${sb}`,
    user_id: `user-${sb % 50}`,
    provider: "aws",
    session_kind: "standard",
    operation: WORK[n % WORK.length],
    request_count: 1 + (n % 3),
    duration_ms: 10 + (n % 100),
  };
}
/** `count` operations spread evenly over the hour starting at `hour`. */
const hourOps = (org: string, hour: number, count: number, prefix: string, offset = 0) =>
  Array.from({ length: count }, (_, i) => op(org, hour + Math.floor(((offset + i) * HOUR) / Math.max(count, 1)) % HOUR, offset + i, prefix));

async function seed(org: string, events: Record<string, unknown>[], what: string): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_REQUEST) {
    const batch = events.slice(i, i + MAX_EVENTS_PER_REQUEST).map((e) => ({ ...e, org_id: org }));
    await recordUsageEvents({ client, cols, clock: systemClock }, SEEDER, batch, ["events"]);
  }
  const s = (performance.now() - t0) / 1000;
  log(`seeded ${events.length.toLocaleString("en")} ${what} in ${s.toFixed(0)} s (${Math.round(events.length / s)} events/s)`);
}

const ingestKey = await createKey("dense", ["ingest"]);
const readKey = await createKey("dense", ["read"]);
async function post(events: Record<string, unknown>[], key = ingestKey): Promise<void> {
  const res = await fetch(`${url}/api/v1/usage/events`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ events }) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${body.slice(0, 300)}`);
}
const p50 = (xs: number[]) => percentiles(xs).p50;

/** p50 of ROUNDS 100-event requests into the dense hour (new events each time). */
async function ingestP50(label: string): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < ROUNDS + 3; r++) {
    const batch = hourOps("dense", denseHour, 100, `probe-${label}-${r}`, r * 100 + 7);
    const t0 = performance.now();
    await post(batch);
    if (r >= 3) times.push(performance.now() - t0); // three warm-up requests
  }
  const p = p50(times);
  log(`100-event ingest into an hour of ${label} events: p50 ${p.toFixed(1)} ms`);
  return p;
}

// 1. Ingest p50 at 0, MID and DENSE events in the hour, after the service has warmed up (JIT,
// connection pool) on another org, so that the empty hour is not measured cold.
const warmKey = await createKey("warmup", ["ingest"]);
for (let r = 0; r < 50; r++) await post(hourOps("warmup", denseHour, 100, `warm-${r}`, r * 100), warmKey);
const atEmpty = await ingestP50("0");
await seed("dense", hourOps("dense", denseHour, MID, "mid"), "events into the dense hour");
const atMid = await ingestP50(MID.toLocaleString("en"));
await seed("dense", hourOps("dense", denseHour, DENSE - MID, "dense", MID), "more events into the dense hour");
const atDense = await ingestP50(DENSE.toLocaleString("en"));

// 3. MKA1 1m over the dense hour against a sparse one.
await seed("dense", hourOps("dense", sparseHour, 2_000, "sparse"), "events into the sparse hour");
async function mka1(query: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/sandbox/usage?${query}`, { headers: { authorization: `Bearer ${readKey}` } });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`MKA1: ${res.status} ${body.slice(0, 300)}`);
  return { ms, body };
}
async function mka1P50(q: string, label: string): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < Math.min(ROUNDS, 15) + 2; r++) {
    const { ms } = await mka1(q);
    if (r >= 2) times.push(ms);
  }
  const p = p50(times);
  log(`MKA1 ${label}: p50 ${p.toFixed(1)} ms`);
  return p;
}
/**
 * The dense and the sparse hour's 1m pages, asked alternately (5 warm-up pairs, then 30), so that
 * both are measured under the same conditions: asked one after the other, the dense hour came
 * straight after seeding and took the server's settling (collections, GC) into its p50.
 */
async function minutesP50s(): Promise<{ dense: number; sparse: number }> {
  const q = (hour: number) => `start_time=${hour / 1000}&end_time=${(hour + HOUR) / 1000}&bucket_width=1m&limit=60`;
  const times = { dense: [] as number[], sparse: [] as number[] };
  for (let r = 0; r < 35; r++) {
    for (const [which, hour] of [["dense", denseHour], ["sparse", sparseHour]] as const) {
      const { ms } = await mka1(q(hour));
      if (r >= 5) times[which].push(ms);
    }
  }
  const out = { dense: p50(times.dense), sparse: p50(times.sparse) };
  log(`MKA1 1m over the dense hour: p50 ${out.dense.toFixed(1)} ms; over the sparse hour: p50 ${out.sparse.toFixed(1)} ms`);
  return out;
}
const { dense: minutesDense, sparse: minutesSparse } = await minutesP50s();
// The other ungrouped paths over the dense data (no target): whole UTC hours and days, and the
// two Kolkata hours (:30 to :30 UTC) that cover the dense hour, minute buckets and presence.
const denseDay = Math.floor(denseHour / DAY) * DAY;
const hoursDense = await mka1P50(`start_time=${denseDay / 1000}&end_time=${(denseDay + DAY) / 1000}&bucket_width=1h&limit=24`, "1h × 24 over the dense day");
const daysDense = await mka1P50(`start_time=${(denseDay - 5 * DAY) / 1000}&end_time=${(denseDay + 2 * DAY) / 1000}&bucket_width=1d&limit=7`, "1d × 7 over the dense day");
const kolkataDense = await mka1P50(`start_time=${(denseHour - HOUR / 2) / 1000}&end_time=${(denseHour + (3 * HOUR) / 2) / 1000}&bucket_width=1h&time_zone=Asia%2FKolkata`, "1h × 2 in Asia/Kolkata over the dense hour");
const denseStored = await cols.usageEvents.countDocuments({ org_id: "dense", ts: { $gte: new Date(denseHour), $lt: new Date(denseHour + HOUR) } });

// 4. A day of SESSIONS sessions, 1d grouped by operation: exact against the generated data.
const dayEvents: Record<string, unknown>[] = [];
const expected = new Map<string, { ops: number; sessions: Set<string>; requests: number }>();
for (let s = 0; s < SESSIONS; s++) {
  const session = `day-s-${s}`;
  const startAt = sessionDay + Math.floor((s * (DAY - 2 * HOUR)) / SESSIONS);
  const base = { type: "sandbox.operation", sandbox_id: `day-sb-${s % 5_000}`, session_id: session, user_id: `user-${s % 200}`, provider: "aws", session_kind: "standard" };
  const ops: Array<[string, number, number]> = [["session_start", startAt, 1], [WORK[s % WORK.length]!, startAt + 60_000, 1 + (s % 4)], ["session_stop", startAt + HOUR, 1]];
  for (const [operation, t, requests] of ops) {
    dayEvents.push({ ...base, id: `day-${s}-${operation}`, timestamp: new Date(t).toISOString(), operation, request_count: requests, ...(operation === "session_start" ? { vcpus: 1, memory_mb: 1024 } : {}) });
    const e = expected.get(operation) ?? { ops: 0, sessions: new Set(), requests: 0 };
    e.ops++;
    e.sessions.add(session);
    e.requests += requests;
    expected.set(operation, e);
  }
}
const dayKey = await createKey("days", ["read"]);
await seed("days", dayEvents, `events of ${SESSIONS.toLocaleString("en")} sessions in one day`);
const dayQuery = `start_time=${sessionDay / 1000}&end_time=${(sessionDay + DAY) / 1000}&bucket_width=1d&group_by=operation`;
let dayMs = NaN;
let dayExact = false;
let dayError = "";
{
  const t0 = performance.now();
  const res = await fetch(`${url}/api/v1/sandbox/usage?${dayQuery}`, { headers: { authorization: `Bearer ${dayKey}` } });
  const body = await res.text();
  dayMs = performance.now() - t0;
  if (res.status !== 200) dayError = `${res.status} ${body.slice(0, 200)}`;
  else {
    const page = JSON.parse(body) as { data: Array<{ results: Array<{ operation: string; num_operations: number; num_sessions: number; request_count: number }> }> };
    const rows = page.data.flatMap((b) => b.results);
    dayExact = rows.length === expected.size && rows.every((r) => {
      const e = expected.get(r.operation);
      return e !== undefined && r.num_operations === e.ops && r.num_sessions === e.sessions.size && r.request_count === e.requests;
    });
    if (!dayExact) dayError = `answer differs from the generated data: ${JSON.stringify(rows).slice(0, 300)}`;
  }
  log(`MKA1 1d group_by=operation over ${SESSIONS.toLocaleString("en")} sessions: ${dayMs.toFixed(0)} ms, ${dayExact ? "exact" : dayError}`);
}

// 2. Sustained: 4 clients × SUSTAIN_S seconds of 100-event requests into one hour of a new org,
// then a bare insertMany of exactly those requests, 4 clients, into an empty copy of the collection.
const CLIENTS = 4;
const sustainKey = await createKey("sustain", ["ingest"]);
const sent: Record<string, unknown>[][] = [];
const sustainHour = Math.floor((now - HOUR) / HOUR) * HOUR;
let n = 0;
const sustainStart = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, async () => {
  while (performance.now() - sustainStart < SUSTAIN_S * 1000) {
    const batch = hourOps("sustain", sustainHour, 100, "sustain", (n += 100));
    sent.push(batch);
    await post(batch, sustainKey);
  }
}));
const sustainSeconds = (performance.now() - sustainStart) / 1000;
const sustainEvents = sent.length * 100;
const bareDb = client.db(`${DB}_bare`);
await ensureIndexes(bareDb);
const at = new Date();
const bareBatches = sent.map((events) => validateEvents(events, ["events"], at).map((e) => toStoredEvent(e, "sustain", at)));
let next = 0;
const bareStart = performance.now();
await Promise.all(Array.from({ length: CLIENTS }, async () => {
  while (next < bareBatches.length) await bareDb.collection("usage_events").insertMany(bareBatches[next++]!, { ordered: false });
}));
const bareSeconds = (performance.now() - bareStart) / 1000;
const ingestRate = sustainEvents / sustainSeconds;
const bareRate = sustainEvents / bareSeconds;
log(`sustained: ${Math.round(ingestRate)} events/s through the service, ${Math.round(bareRate)} bare`);

// 5. Peak RSS of the embedded server per stored event.
const stored = (await cols.usageEvents.estimatedDocumentCount()) + (await bareDb.collection("usage_events").estimatedDocumentCount());
const mongoRss = peakRssMb(mongo.pid!);
await client.close();
stopChildren();

const ok = (good: boolean) => (good ? "✓" : "✗");
const ms = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString("en"));
const lines: string[] = [];
lines.push(`| measure | figure | target |`);
lines.push(`| --- | ---: | --- |`);
lines.push(`| 100-event ingest p50, hour holding 0 events | ${ms(atEmpty)} ms | |`);
lines.push(`| 100-event ingest p50, hour holding ${MID.toLocaleString("en")} | ${ms(atMid)} ms | |`);
lines.push(`| 100-event ingest p50, hour holding ${DENSE.toLocaleString("en")} | ${ms(atDense)} ms | |`);
lines.push(`| ratio ${DENSE.toLocaleString("en")} ÷ 0 | ${(atDense / atEmpty).toFixed(2)} | ≤ 1.3 ${ok(atDense / atEmpty <= 1.3)} |`);
lines.push(`| sustained ingest, ${CLIENTS} clients × ${SUSTAIN_S} s, 100-event requests | ${Math.round(ingestRate).toLocaleString("en")} events/s | |`);
lines.push(`| bare insertMany of the same requests, ${CLIENTS} clients | ${Math.round(bareRate).toLocaleString("en")} events/s | |`);
lines.push(`| ratio service ÷ bare | ${(ingestRate / bareRate).toFixed(2)} | ≥ 0.5 ${ok(ingestRate / bareRate >= 0.5)} |`);
lines.push(`| MKA1 1m p50, dense hour (${denseStored.toLocaleString("en")} events) | ${ms(minutesDense)} ms | |`);
lines.push(`| MKA1 1m p50, sparse hour (2,000 events) | ${ms(minutesSparse)} ms | |`);
lines.push(`| ratio dense ÷ sparse | ${(minutesDense / minutesSparse).toFixed(2)} | ≤ 2.0 ${ok(minutesDense / minutesSparse <= 2)} |`);
lines.push(`| MKA1 1h × 24 p50, the dense hour's UTC day | ${ms(hoursDense)} ms | |`);
lines.push(`| MKA1 1d × 7 p50, a week ending the day after the dense one | ${ms(daysDense)} ms | |`);
lines.push(`| MKA1 1h × 2 p50 in Asia/Kolkata, over the dense hour (minutes, sessions from presence) | ${ms(kolkataDense)} ms | |`);
lines.push(`| MKA1 1d group_by=operation, a day of ${SESSIONS.toLocaleString("en")} sessions | ${ms(dayMs)} ms, ${dayExact ? "exact" : `wrong: ${dayError}`} | exact, no error ${ok(dayExact)} |`);
lines.push(`| embedded server peak RSS / stored events | ${Math.round(mongoRss).toLocaleString("en")} MiB / ${stored.toLocaleString("en")} = ${Math.round((mongoRss * 1024 * 1024) / stored).toLocaleString("en")} bytes/event | |`);
console.log(`\n${lines.join("\n")}\n`);
process.exit(0);
