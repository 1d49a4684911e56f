/**
 * `npm run load [-- --duration 60 --connections 4 --batch 100]`: concurrent ingest and queries over
 * loopback for a bounded time, then a check that nothing was lost or double-counted.
 *
 * It starts an embedded MongoDB (`scripts/embedded-mongo.ts`) and the service (`src/index.ts`,
 * rate limiting off) as child processes, drives them concurrently — ingest workers posting batches
 * of new events, and autocannon cycling through every usage endpoint (REST and GraphQL) — and
 * prints throughput, p50/p99 latency and errors per workload. Afterwards it counts the stored events through the
 * driver: the count must equal the sum of `accepted` the ingest answers reported, exactly.
 */
import { parseArgs } from "node:util";
import autocannon, { type Result } from "autocannon";
import { performance } from "node:perf_hooks";
import { MongoClient } from "mongodb";
import { freePort, startChild, stopChildren, waitFor } from "./processes.js";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    connections: { type: "string", default: "4" },
    batch: { type: "string", default: "100" },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const BATCH = Number(values.batch);
if (![DURATION, CONNECTIONS, BATCH].every((n) => Number.isInteger(n) && n > 0) || BATCH > 5000) {
  console.error("--duration, --connections and --batch must be positive integers (batch ≤ 5000)");
  process.exit(1);
}

const BOOTSTRAP = "load-test-bootstrap-key-0123456789";
const ORG = "load";


const mongoPort = await freePort();
const mongoUri = `mongodb://127.0.0.1:${mongoPort}`;
const mongo = startChild("scripts/embedded-mongo.ts", ["--port", String(mongoPort)]);
const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 2_000 });
await waitFor(async () => (await client.connect(), true), "embedded MongoDB", mongo);

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const service = startChild("src/index.ts", [], {
  env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", MONGODB_URI: mongoUri, MONGODB_DB: "load", LOG_LEVEL: "warn", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP, RATE_LIMIT_MAX: "0" },
  stdio: ["ignore", "ignore", "inherit"],
});
await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "service", service);

const key = (await (
  await fetch(`${url}/api/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${BOOTSTRAP}`, "content-type": "application/json" },
    body: JSON.stringify({ org_id: ORG, user_id: "loader", scopes: ["read", "ingest"] }),
  })
).json()) as { key: string };

// Events: sessions of 20 sandboxes, each batch starting and stopping some and adding operations and
// memory samples, all inside the last day, every id new.
let seq = 0;
const DAY_START = Date.now() - 86_400_000;
function batchBody(): string {
  const events = [];
  for (let i = 0; i < BATCH; i++) {
    const n = seq++;
    const sandbox = `sb-${n % 20}`;
    const session = `s-${Math.floor(n / 10)}`;
    const at = new Date(DAY_START + (n % 86_000) * 1000).toISOString();
    const kind = n % 10;
    if (kind === 9) events.push({ id: `m-${n}`, type: "sandbox.memory", timestamp: at, sandbox_id: sandbox, used_memory_mb: 256 + (n % 512) });
    else
      events.push({
        id: `e-${n}`, type: "sandbox.operation", timestamp: at, sandbox_id: sandbox, session_id: session, user_id: `u-${n % 5}`,
        provider: "aws", session_kind: "standard",
        operation: kind === 0 ? "session_start" : kind === 8 ? "session_stop" : "command",
        ...(kind === 0 && { vcpus: 2, memory_mb: 1024, external_user_id: `cust-${n % 7}`, tags: { team: `t${n % 3}` } }),
      });
  }
  return JSON.stringify({ events });
}

let accepted = 0;
let duplicates = 0;
const now = Math.floor(Date.now() / 1000);
const QUERIES = [
  { path: `/api/v1/sandbox/usage?start_time=${now - 86_400}&bucket_width=1h&group_by=user_id&limit=24`, headers: { authorization: `Bearer ${key.key}` } },
  { path: "/api/v1/usage?period=7d", headers: { authorization: `Bearer ${key.key}` } },
  { path: `/api/v1/org/${ORG}/sandboxes/usage`, headers: { authorization: `Bearer ${key.key}` } },
  { path: "/api/sandboxes/sb-3/usage", headers: { "x-api-key": key.key } },
  { path: "/api/usage?groupBy=tag:team", headers: { "x-api-key": key.key } },
  {
    path: "/graphql",
    method: "POST" as const,
    headers: { "x-api-key": key.key, "content-type": "application/json" },
    body: JSON.stringify({ query: "{ usage(groupBy: \"sandbox\", limit: 5) { total { memoryGbSeconds } } usageRollup(period: \"7d\") { results { key creditCents } } }" }),
  },
];

/**
 * Ingest workers: each posts a batch, waits for the answer, and posts the next until the time is up,
 * so no request is abandoned in flight (its events would be stored without an answer to count).
 */
interface IngestStats {
  latencies: number[];
  errors: number;
  seconds: number;
}
async function ingestWorkers(): Promise<IngestStats> {
  const stats: IngestStats = { latencies: [], errors: 0, seconds: 0 };
  const t0 = Date.now();
  const end = t0 + DURATION * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const started = performance.now();
        try {
          const res = await fetch(`${url}/api/v1/usage/events`, {
            method: "POST",
            headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
            body: batchBody(),
          });
          const body = (await res.json()) as { accepted?: number; duplicates?: number };
          stats.latencies.push(performance.now() - started);
          if (res.status !== 200) stats.errors++;
          else {
            accepted += body.accepted ?? 0;
            duplicates += body.duplicates ?? 0;
          }
        } catch {
          stats.errors++;
        }
      }
    }),
  );
  stats.seconds = (Date.now() - t0) / 1000;
  return stats;
}

const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

const queryRun = autocannon({ url, connections: CONNECTIONS, duration: DURATION, requests: QUERIES.map((q) => ({ method: "GET" as const, ...q })) });
console.error(`load: ${DURATION} s, ${CONNECTIONS} connections per workload, ${BATCH} events per ingest request…`);
const [ingest, queries] = (await Promise.all([ingestWorkers(), queryRun])) as [IngestStats, Result];

const stored = await client.db("load").collection("usage_events").countDocuments({ org_id: ORG });
await client.close();
stopChildren();

const row = (name: string, requests: number, seconds: number, p50: number, p99: number, errors: number) =>
  `| ${name} | ${requests} | ${(requests / seconds).toFixed(1)} | ${Math.round(p50)} | ${Math.round(p99)} | ${errors} |`;
const sorted = [...ingest.latencies].sort((a, b) => a - b);
console.log(`
| workload | requests | req/s | p50 ms | p99 ms | errors |
| --- | ---: | ---: | ---: | ---: | ---: |
${row(`ingest (${BATCH} events/request)`, sorted.length, ingest.seconds, percentile(sorted, 50), percentile(sorted, 99), ingest.errors)}
${row("queries (MKA1, MIOSA, Dreadnode, OpenComputer ×2, GraphQL)", queries.requests.total, queries.duration, queries.latency.p50, queries.latency.p99, queries.non2xx + queries.errors + queries.timeouts)}

events: ${accepted} accepted (${(accepted / ingest.seconds).toFixed(0)} events/s), ${duplicates} duplicates, ${stored} stored — ${stored === accepted ? "stored = accepted ✓" : "MISMATCH ✗"}
`);
const queryErrors = queries.non2xx + queries.errors + queries.timeouts;
process.exit(stored === accepted && ingest.errors === 0 && queryErrors === 0 ? 0 : 1);
