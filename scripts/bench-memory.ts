/**
 * `npx tsx scripts/bench-memory.ts [-- --iterations 7]`
 *
 * The 30-day memory series of one sandbox with a sample every minute (43,200 samples, one open
 * session), through REST and GraphQL in-process (Fastify inject) over the embedded MongoDB; prints
 * a table of p50 / min latency and the response size. A quick before/after check for the series
 * (scripts/bench.ts is the full benchmark).
 */
import { Metrics } from "../src/metrics.js";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { createApiKey } from "../src/auth/keys.js";
import { fixedClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { collections, ensureIndexes } from "../src/db/collections.js";
import type { AppDeps } from "../src/deps.js";
import { startEmbeddedMongo } from "../src/embedded/index.js";
import { PageTokens } from "../src/paging.js";
import { buildServer } from "../src/server.js";

const { values } = parseArgs({ options: { iterations: { type: "string", default: "7" } } });
const iterations = Number(values.iterations);
const TO = Date.parse("2026-05-31T00:00:00Z");
const FROM = TO - 30 * 86_400_000;

const embedded = await startEmbeddedMongo();
const client = new MongoClient(embedded.uri);
const db = client.db("bench_memory");
await ensureIndexes(db);
const config = loadConfig({ LOG_LEVEL: "silent", BOOTSTRAP_ADMIN_KEY: "bench-bootstrap-key-0123456789abcdef", DEMO_DATA: "false", RATE_LIMIT_MAX: "0" });
const deps: AppDeps = { config, client, db, cols: collections(db), clock: fixedClock(new Date(TO + 1000).toISOString()), pageTokens: new PageTokens(config.PAGE_TOKEN_SECRET), metrics: new Metrics() };
const { app } = await buildServer(deps);
await app.ready();
const ingestKey = (await createApiKey(deps.cols, { org_id: "bench", user_id: "u", scopes: ["ingest"], cluster_admin: false }, "bench")).key;
const readKey = (await createApiKey(deps.cols, { org_id: "bench", user_id: "u", scopes: ["read"], cluster_admin: false }, "bench")).key;

const events: object[] = [
  { id: "start", type: "sandbox.operation", timestamp: new Date(FROM - 60_000).toISOString(), sandbox_id: "sb-1", session_id: "s1", user_id: "u", provider: "aws", session_kind: "standard", operation: "session_start", vcpus: 1, memory_mb: 1024 },
];
for (let t = FROM; t < TO; t += 60_000) events.push({ id: `m${t}`, type: "sandbox.memory", timestamp: new Date(t + 5_000).toISOString(), sandbox_id: "sb-1", used_memory_mb: 256 + ((t / 60_000) % 512) });
for (let i = 0; i < events.length; i += 5000) {
  const res = await app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, payload: JSON.stringify({ events: events.slice(i, i + 5000) }) });
  if (res.statusCode !== 200) throw new Error(res.body);
}

const from = new Date(FROM).toISOString();
const to = new Date(TO).toISOString();
const query = `{ sandbox(id: "sb-1") { memoryUsage(from: "${from}", to: "${to}") { totals { memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds memoryAllocatedPeakMb memoryUsedPeakMb } points { ts memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds allocatedMemoryMb usedMemoryMbAvg usedMemoryMbPeak } } } }`;
const surfaces = {
  REST: () => app.inject({ method: "GET", url: `/api/sandboxes/sb-1/usage?from=${from}&to=${to}`, headers: { "x-api-key": readKey } }),
  GraphQL: () => app.inject({ method: "POST", url: "/graphql", headers: { "x-api-key": readKey, "content-type": "application/json" }, payload: JSON.stringify({ query }) }),
};
console.log("| surface | p50 ms | min ms | bytes |\n|---|---:|---:|---:|");
for (const [name, run] of Object.entries(surfaces)) {
  const times: number[] = [];
  let bytes = 0;
  await run(); // warm-up
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    const res = await run();
    times.push(performance.now() - t0);
    if (res.statusCode !== 200 || res.body.includes('"errors"')) throw new Error(res.body.slice(0, 500));
    bytes = res.body.length;
  }
  times.sort((a, b) => a - b);
  console.log(`| ${name} | ${times[Math.floor(times.length / 2)]!.toFixed(0)} | ${times[0]!.toFixed(0)} | ${bytes} |`);
}
await app.close();
await client.close();
await embedded.stop();
