/**
 * What the benchmarks run against: an embedded MongoDB and the service as child processes on
 * loopback, as in production, with a driver connection of this process's own for seeding and for
 * bare pipelines. Rate limiting is off and the time budgets are wide: a benchmark measures cost,
 * not the limits.
 */
import { readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { type Db, MongoClient } from "mongodb";
import { type Collections, collections, ensureIndexes } from "../src/db/collections.js";
import { freePort, startChild, waitFor } from "./processes.js";

export const BOOTSTRAP = "bench-bootstrap-key-0123456789abcdef";

export interface BenchStack {
  mongo: ChildProcess;
  client: MongoClient;
  db: Db;
  cols: Collections;
  service: ChildProcess;
  url: string;
  /** A new API key of `org` (user `user`) with `scopes`, made with the bootstrap key. */
  createKey(org: string, user: string, scopes: string[]): Promise<string>;
}

export async function startBenchStack(dbName: string, timeBudgetMs: number): Promise<BenchStack> {
  // The embedded server holds every document in memory: give it room beyond V8's default heap limit.
  const mongoPort = await freePort();
  const mongoUri = `mongodb://127.0.0.1:${mongoPort}`;
  const mongo = startChild("scripts/embedded-mongo.ts", ["--port", String(mongoPort)], { nodeArgs: ["--max-old-space-size=16384"] });
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 2_000 });
  await waitFor(async () => (await client.connect(), true), "embedded MongoDB", mongo);
  const db = client.db(dbName);
  await ensureIndexes(db);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const budget = String(timeBudgetMs);
  const service = startChild("src/index.ts", [], {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", MONGODB_URI: mongoUri, MONGODB_DB: dbName, LOG_LEVEL: "warn", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP, RATE_LIMIT_MAX: "0", QUERY_TIMEOUT_MS: budget, REQUEST_DB_TIME_MS: budget },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "service", service);
  return {
    mongo, client, db, cols: collections(db), service, url,
    async createKey(org, user, scopes) {
      const res = await fetch(`${url}/api/v1/api-keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${BOOTSTRAP}`, "content-type": "application/json" },
        body: JSON.stringify({ org_id: org, user_id: user, scopes }),
      });
      return ((await res.json()) as { key: string }).key;
    },
  };
}

export interface Latency {
  p50: number;
  p99: number;
}

/** Nearest-rank percentiles of a sample of times. */
export function percentiles(xs: readonly number[]): Latency {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { p50: at(50), p99: at(99) };
}

/** Peak resident set size of a process, in MiB (Linux: VmHWM). */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}
