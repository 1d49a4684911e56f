/**
 * `npm run bench [-- --sizes 100000,1000000 --memory-days 30 --iterations 25 --ingest 50000 --ingest-clients 2]`
 * `npm run bench -- --profile density [...]`: cost as one org-hour gets dense (bench-density.ts).
 *
 * The default profile, `history`:
 *
 * Seeds data sets of operation events (each the previous one plus more operations in the same
 * sessions; see bench-data.ts) and a per-minute memory history for 20 sandboxes, then for every
 * query prints the p50/p99 latency through GraphQL, through REST and of the bare pipeline run
 * through the driver; then ingest throughput against a bare `insertMany` of the same events, and
 * peak RSS. Targets are printed beside the figures.
 *
 * Processes: an embedded MongoDB (`scripts/embedded-mongo.ts`) and the service (`src/index.ts`) as
 * children on loopback, as in production; this process seeds (through the ingest service code,
 * in-process, 5,000 events a call), sends the requests one at a time, and runs the bare pipelines.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { Db, Document } from "mongodb";
import type { Principal } from "../src/auth/principal.js";
import { systemClock } from "../src/clock.js";
import { ensureIndexes } from "../src/db/collections.js";
import { MAX_EVENTS_PER_REQUEST } from "../src/ingest/events.js";
import { recordUsageEvents, toStoredEvent, validateEvents } from "../src/ingest/service.js";
import { buildMemoryUsagePipeline } from "../src/pipelines/memory.js";
import { buildRuntimeSummaryPipeline, buildUsageRollupPipeline } from "../src/pipelines/runtime.js";
import { type GroupByDimension, planSandboxUsage } from "../src/pipelines/sandboxUsage.js";
import { buildUsageAggregatePipeline } from "../src/pipelines/usageAggregate.js";
import { periodWindow } from "../src/services/usageRollup.js";
import { MS_PER_DAY, MS_PER_MINUTE, utcMidnight, utcMonthStart } from "../src/time.js";
import { type BenchEvent, benchFleet, benchMemory, benchOperations, inTimeOrder, MEMORY_SANDBOXES } from "./bench-data.js";
import { type Latency, peakRssMb, percentiles, startBenchStack } from "./bench-stack.js";
import { stopChildren } from "./processes.js";

const profile = process.argv.includes("--profile") ? process.argv[process.argv.indexOf("--profile") + 1] : "history";
if (profile === "density") {
  await import("./bench-density.js"); // runs the density profile and exits
} else if (profile !== "history") {
  console.error("--profile: history (the default) or density");
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    profile: { type: "string", default: "history" },
    sizes: { type: "string", default: "100000,1000000" },
    "memory-days": { type: "string", default: "30" },
    iterations: { type: "string", default: "25" },
    ingest: { type: "string", default: "50000" },
    "ingest-clients": { type: "string", default: "2" },
  },
});
const SIZES = values.sizes.split(",").map(Number);
const MEMORY_DAYS = Number(values["memory-days"]);
const ITERATIONS = Number(values.iterations);
const INGEST = Number(values.ingest);
const INGEST_CLIENTS = Number(values["ingest-clients"]);
if (!SIZES.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > SIZES[i - 1]!)) || ![MEMORY_DAYS, ITERATIONS, INGEST, INGEST_CLIENTS].every((n) => Number.isInteger(n) && n > 0) || MEMORY_DAYS > 30) {
  console.error("--sizes: increasing positive integers; --memory-days 1-30; --iterations, --ingest and --ingest-clients positive integers");
  process.exit(1);
}

const DB = "bench";
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);



const { mongo, client, db, cols, service, url, createKey } = await startBenchStack(DB, 300_000);
const READ_KEY = await createKey("acme", "acme-user-1", ["read"]);
const INGEST_KEY = await createKey("bench-ingest", "loader", ["ingest"]);

const SEEDER: Principal = { keyId: "bench", orgId: null, userId: "bench", scopes: new Set(["ingest"]), clusterAdmin: true, onBehalfOf: null };

/** Seeds through the ingest service (validation, idempotent insert, sessions, sandboxes, rollups). */
async function seed(events: BenchEvent[], what: string): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_REQUEST) {
    await recordUsageEvents({ client, cols, clock: systemClock }, SEEDER, events.slice(i, i + MAX_EVENTS_PER_REQUEST), ["events"]);
  }
  const s = (performance.now() - t0) / 1000;
  log(`seeded ${events.length} ${what} in ${s.toFixed(0)} s (${Math.round(events.length / s)} events/s)`);
}

/** The MKA1 page's measures pipeline (the larger of its two; the sessions one reads presence only where needed). */
function bareMka1(width: "1h" | "1d", groupBy: GroupByDimension[], from: Date, to: Date) {
  const step = width === "1h" ? 3_600_000 : MS_PER_DAY;
  const boundaries: number[] = [];
  for (let t = from.getTime(); t <= to.getTime(); t += step) boundaries.push(t);
  const planned = planSandboxUsage({ scope: { orgIds: ["acme"], externalUserId: null }, width, groupBy, from, to, boundaries, timeZone: "UTC" }, "rollups");
  if ("raw" in planned) return planned.raw;
  return planned.measures ?? { collection: "usage_ops_1d", pipeline: [{ $match: { _id: null } }] };
}

interface Query {
  name: string;
  rest: { path: string; headers: Record<string, string> };
  graphql: string;
  bare: () => { collection: string; pipeline: Document[] };
}

function queries(now: Date): Query[] {
  const bearer = { authorization: `Bearer ${READ_KEY}` };
  const apiKey = { "x-api-key": READ_KEY };
  const s = (d: Date) => Math.floor(d.getTime() / 1000);
  const today = utcMidnight(now);
  const days30 = new Date(today.getTime() - 30 * MS_PER_DAY);
  const hour = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000);
  const hours24 = new Date(hour.getTime() - 24 * 3_600_000);
  const minute = new Date(Math.floor(now.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);
  const window = (ms: number) => ({ from: new Date(minute.getTime() - ms), to: minute });
  const RESULT = "userId numOperations numSessions requestCount durationMs workspaceBytesIn workspaceBytesOut filesChangedCount oomKilledCount peakMemoryMib reservedMemoryMib";
  const memory = (ms: number): Query => {
    const w = window(ms);
    return {
      name: `OpenComputer sandbox memory, ${ms === 3_600_000 ? "1 h" : "30 days"} (${Math.round(ms / MS_PER_MINUTE)} points)`,
      rest: { path: `/api/sandboxes/${MEMORY_SANDBOXES[0]}/usage?from=${w.from.toISOString()}&to=${w.to.toISOString()}`, headers: apiKey },
      graphql: `{ sandbox(id: "${MEMORY_SANDBOXES[0]}") { memoryUsage(from: "${w.from.toISOString()}", to: "${w.to.toISOString()}") { from to totals { memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds memoryAllocatedPeakMb memoryUsedPeakMb } points { ts memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds allocatedMemoryMb usedMemoryMbAvg usedMemoryMbPeak } } } }`,
      bare: () => buildMemoryUsagePipeline({ source: "rollups", orgId: "acme", sandboxIds: [MEMORY_SANDBOXES[0]!], window: w, now, externalUserId: null }),
    };
  };
  const aggregateWindow = window(30 * MS_PER_DAY);
  return [
    {
      name: "MKA1 30 × 1d, grouped by user",
      rest: { path: `/api/v1/sandbox/usage?start_time=${s(days30)}&end_time=${s(today)}&bucket_width=1d&group_by=user_id&limit=30`, headers: bearer },
      graphql: `{ sandboxUsage(startTime: ${s(days30)}, endTime: ${s(today)}, bucketWidth: "1d", groupBy: [user_id], limit: 30) { hasMore nextPage data { startTime endTime results { ${RESULT} } } } }`,
      bare: () => bareMka1("1d", ["user_id"], days30, today),
    },
    {
      name: "MKA1 24 × 1h",
      rest: { path: `/api/v1/sandbox/usage?start_time=${s(hours24)}&end_time=${s(hour)}&bucket_width=1h&limit=24`, headers: bearer },
      graphql: `{ sandboxUsage(startTime: ${s(hours24)}, endTime: ${s(hour)}, bucketWidth: "1h", limit: 24) { hasMore nextPage data { startTime endTime results { ${RESULT} } } } }`,
      bare: () => bareMka1("1h", [], hours24, hour),
    },
    {
      name: "MIOSA 30d",
      rest: { path: "/api/v1/usage?period=30d", headers: bearer },
      graphql: `{ usageRollup(period: "30d") { periodStart periodEnd results { key sandboxSeconds computerSeconds storageGbHours creditCents } } }`,
      bare: () => ({
        collection: "sessions",
        pipeline: buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "external_user_id", window: periodWindow({ period: "30d", start: null, end: null }, now), now, externalUserId: null }),
      }),
    },
    {
      name: "Dreadnode summary",
      rest: { path: "/api/v1/org/acme/sandboxes/usage", headers: bearer },
      graphql: `{ sandboxUsageSummary(org: "acme") { currentMonthSeconds sessionsCount totalRuntimeSeconds } }`,
      bare: () => ({ collection: "sessions", pipeline: buildRuntimeSummaryPipeline({ orgId: "acme", userIds: ["acme-user-1"], externalUserId: null, monthStart: utcMonthStart(now), now }) }),
    },
    memory(3_600_000),
    memory(30 * MS_PER_DAY),
    {
      name: "OpenComputer aggregate by tag, 30 days",
      rest: { path: `/api/usage?groupBy=tag:team&from=${aggregateWindow.from.toISOString()}&to=${aggregateWindow.to.toISOString()}`, headers: apiKey },
      graphql: `{ usage(groupBy: "tag:team", from: "${aggregateWindow.from.toISOString()}", to: "${aggregateWindow.to.toISOString()}") { from to groupBy total { memoryGbSeconds diskOverageGbSeconds } items { ... on TagUsageItem { tagKey tagValue memoryGbSeconds diskOverageGbSeconds } } untagged { memoryGbSeconds diskOverageGbSeconds } nextCursor } }`,
      bare: () => ({
        collection: "sessions",
        pipeline: buildUsageAggregatePipeline({ orgId: "acme", window: aggregateWindow, now, externalUserId: null, groupBy: { kind: "tag", key: "team" }, filters: [], sort: "memoryGbSeconds", limit: 50, after: null }),
      }),
    },
  ];
}

interface Measured {
  name: string;
  rounds: number;
  graphql: Latency;
  rest: Latency;
  bare: Latency;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measure(query: Query, database: Db): Promise<Measured> {
  const rest = async () => {
    const res = await fetch(`${url}${query.rest.path}`, { headers: query.rest.headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${query.name} REST: ${res.status} ${body.slice(0, 200)}`);
  };
  const graphql = async () => {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "x-api-key": READ_KEY, "content-type": "application/json" }, body: JSON.stringify({ query: query.graphql }) });
    const body = await res.text();
    if (res.status !== 200 || body.includes('"errors"')) throw new Error(`${query.name} GraphQL: ${res.status} ${body.slice(0, 200)}`);
  };
  const bare = async () => {
    const { collection, pipeline } = query.bare();
    await database.collection(collection).aggregate(pipeline).toArray();
  };
  let warm = 0;
  for (let i = 0; i < 2; i++) for (const f of [bare, graphql, rest]) warm = await timed(f);
  const times = { bare: [] as number[], graphql: [] as number[], rest: [] as number[] };
  // A slow query gets fewer rounds (at least 9): about a minute of it is enough.
  const rounds = Math.min(ITERATIONS, Math.max(9, Math.floor(60_000 / (3 * warm))));
  // Rotated, so drift (GC, the other process) falls on all three alike.
  for (let i = 0; i < rounds; i++) {
    times.bare.push(await timed(bare));
    times.graphql.push(await timed(graphql));
    times.rest.push(await timed(rest));
  }
  return { name: query.name, rounds, graphql: percentiles(times.graphql), rest: percentiles(times.rest), bare: percentiles(times.bare) };
}

const fleet = benchFleet(new Date());
const results = new Map<number, Measured[]>();
let seededOps = 0;
await seed(inTimeOrder([...fleet.lifecycle, ...benchMemory(fleet, MEMORY_DAYS)]), `session and memory events (${fleet.sessions.length} sessions, ${MEMORY_SANDBOXES.length} sandboxes × ${MEMORY_DAYS} days)`);
// Every size is the previous one plus more operations: all operations of the largest size, in
// parts; each step ingests the parts that take it to the next size.
const largest = SIZES[SIZES.length - 1]!;
const PARTS = 20;
for (const size of SIZES) {
  const upTo = Math.round((size / largest) * PARTS);
  const from = Math.round((seededOps / largest) * PARTS);
  const ops: BenchEvent[] = [];
  for (let k = from; k < upTo; k++) ops.push(...benchOperations(fleet, largest, { k, of: PARTS }));
  await seed(inTimeOrder(ops), "operation events");
  seededOps = size;
  const stored = await cols.usageEvents.countDocuments({ type: "sandbox.operation", operation: { $nin: ["session_start", "session_stop"] } });
  log(`measuring with ${stored} operation events…`);
  const now = new Date();
  const measured: Measured[] = [];
  for (const q of queries(now)) {
    measured.push(await measure(q, db));
    log(`  ${q.name}: GraphQL p50 ${measured.at(-1)!.graphql.p50.toFixed(1)} ms`);
  }
  results.set(size, measured);
}

// Ingest: the service's endpoint (HTTP, 5,000 events a request, a fresh org in the full database),
// as live traffic of the last day arrives (in time order), against a bare insertMany of the same
// stored documents into an empty copy of the collection.
const live = benchFleet(new Date(), 1);
const ingestEvents = inTimeOrder([...live.lifecycle, ...benchOperations(live, INGEST)].map(({ org_id: _, ...e }) => ({ ...e, id: `live-${e.id}` })));
/** Runs `work` over the items with `clients` of them in flight at a time, in order. */
async function withClients<T>(items: T[], clients: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}
const requests: BenchEvent[][] = [];
for (let i = 0; i < ingestEvents.length; i += MAX_EVENTS_PER_REQUEST) requests.push(ingestEvents.slice(i, i + MAX_EVENTS_PER_REQUEST));
const ingestSeconds = (await timed(() =>
  withClients(requests, INGEST_CLIENTS, async (events) => {
    const res = await fetch(`${url}/api/v1/usage/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${INGEST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ events }),
    });
    if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
  }),
)) / 1000;
const bareDb = client.db("bench_bare");
await ensureIndexes(bareDb);
const now = new Date();
const batches = requests.map((events) => validateEvents(events, ["events"], now).map((e) => toStoredEvent(e, "bench-ingest", now)));
const bareSeconds = (await timed(() => withClients(batches, INGEST_CLIENTS, async (docs) => void (await bareDb.collection("usage_events").insertMany(docs, { ordered: false }))))) / 1000;
const rss = { service: Math.round(peakRssMb(service.pid!)), mongo: Math.round(peakRssMb(mongo.pid!)), bench: Math.round(peakRssMb(process.pid)) };
await client.close();
stopChildren();

// The table.
const ms = (x: number) => (x < 10 ? x.toFixed(1) : Math.round(x).toString());
const ok = (good: boolean) => (good ? "✓" : "✗");
const lines: string[] = [];
lines.push(`| query | operation events | rounds | GraphQL p50 / p99 ms | REST p50 / p99 ms | bare pipeline p50 / p99 ms | GraphQL ÷ bare (≤ 1.25) | REST ÷ GraphQL (≤ 1.10) |`);
lines.push(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const [size, measured] of results) {
  for (const m of measured) {
    const gb = m.graphql.p50 / m.bare.p50;
    const rg = m.rest.p50 / m.graphql.p50;
    lines.push(`| ${m.name} | ${size.toLocaleString("en")} | ${m.rounds} | ${ms(m.graphql.p50)} / ${ms(m.graphql.p99)} | ${ms(m.rest.p50)} / ${ms(m.rest.p99)} | ${ms(m.bare.p50)} / ${ms(m.bare.p99)} | ${gb.toFixed(2)} ${ok(gb <= 1.25)} | ${rg.toFixed(2)} ${ok(rg <= 1.1)} |`);
  }
}
if (SIZES.length > 1) {
  const small = results.get(SIZES[0]!)!;
  const big = results.get(largest)!;
  lines.push("");
  lines.push(`| query | GraphQL p50, ${SIZES[0]!.toLocaleString("en")} → ${largest.toLocaleString("en")} events | ratio (≤ 1.5) |`);
  lines.push(`| --- | ---: | ---: |`);
  big.forEach((m, i) => {
    const r = m.graphql.p50 / small[i]!.graphql.p50;
    lines.push(`| ${m.name} | ${ms(small[i]!.graphql.p50)} → ${ms(m.graphql.p50)} ms | ${r.toFixed(2)} ${ok(r <= 1.5)} |`);
  });
}
const ingestRate = ingestEvents.length / ingestSeconds;
const bareRate = ingestEvents.length / bareSeconds;
lines.push("");
lines.push(`ingest (${INGEST_CLIENTS} clients, 5,000 events a request): ${Math.round(ingestRate).toLocaleString("en")} events/s through POST /api/v1/usage/events vs ${Math.round(bareRate).toLocaleString("en")} events/s bare insertMany: ${(ingestRate / bareRate).toFixed(2)} × (≥ 0.5) ${ok(ingestRate >= 0.5 * bareRate)}`);
lines.push(`peak RSS: service ${rss.service} MiB, embedded MongoDB ${rss.mongo} MiB, this process (data generation, driver) ${rss.bench} MiB`);
console.log(`\n${lines.join("\n")}\n`);
process.exit(0);
