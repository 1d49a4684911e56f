/**
 * `npm run bench:csv [-- --rows 1000000 --users 7 --data-days 5]`
 *
 * Streams a CSV export of `--rows` rows (DESIGN §10's limit is 1,000,000) while sampling the
 * service's resident memory, and prints a table with the targets beside the figures: memory flat
 * (RSS growth during the export ≤ 100 MiB whatever the row count) and rows/s.
 *
 * The export: MKA1 `GET /api/v1/sandbox/usage?bucket_width=1m&group_by=user_id&format=csv`, the one
 * usage GET whose single answer can reach a million rows (OpenComputer's per-minute series stops at
 * 30 days = 43,200 points; its aggregate has a row per sandbox). `--users` users each run one
 * operation every minute of the last `--data-days` days (one row per user-minute), and the window
 * reaches back far enough that its empty minutes (one zero row each) bring the rows to `--rows`.
 * A tenth-size export runs first, so the table shows whether memory grows with the rows.
 *
 * Processes: an embedded MongoDB and the service as children on loopback. The data is ingested
 * through the service's ingest endpoint, then the service is restarted, so its memory before the
 * export is that of a fresh process and not of the ingest.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { ChildProcess } from "node:child_process";
import { freePort, startChild, stopChildren, waitFor } from "./processes.js";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    users: { type: "string", default: "7" },
    "data-days": { type: "string", default: "5" },
  },
});
const ROWS = Number(values.rows);
const USERS = Number(values.users);
const DATA_DAYS = Number(values["data-days"]);
const MINUTE = 60_000;
const DATA_MINUTES = DATA_DAYS * 1440;
if (![ROWS, USERS, DATA_DAYS].every((n) => Number.isInteger(n) && n > 0) || ROWS > 1_000_000 || USERS * DATA_MINUTES > ROWS / 10) {
  console.error("--rows 1..1000000; --users and --data-days positive integers with users × data-days × 1440 ≤ rows / 10");
  process.exit(1);
}

const BOOTSTRAP = "bench-bootstrap-key-0123456789abcdef";
const ORG = "csvbench";
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** Resident set size of a process now, in MiB (Linux: VmRSS). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const mongoPort = await freePort();
const mongoUri = `mongodb://127.0.0.1:${mongoPort}`;
const mongo = startChild("scripts/embedded-mongo.ts", ["--port", String(mongoPort)], { nodeArgs: ["--max-old-space-size=8192"], stdio: ["ignore", "pipe", "inherit"] });
await new Promise<void>((resolve, reject) => {
  mongo.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("listening") && resolve());
  mongo.once("exit", (code) => reject(new Error(`embedded MongoDB exited with ${code}`)));
});

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
function startService(): ChildProcess {
  return startChild("src/index.ts", [], {
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", MONGODB_URI: mongoUri, MONGODB_DB: "bench_csv", LOG_LEVEL: "warn", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP, RATE_LIMIT_MAX: "0", QUERY_TIMEOUT_MS: "300000" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}
async function ready(child: ChildProcess) {
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "service", child, 120_000);
}
async function stopped(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function createKey(scopes: string[]): Promise<string> {
  const res = await fetch(`${url}/api/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${BOOTSTRAP}`, "content-type": "application/json" },
    body: JSON.stringify({ org_id: ORG, user_id: "bench", scopes }),
  });
  if (res.status !== 201) throw new Error(`api key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

// The window ends at the last whole minute; the data fills its last DATA_MINUTES minutes.
const end = Math.floor(Date.now() / MINUTE) * MINUTE;
const dataFrom = end - DATA_MINUTES * MINUTE;

let service = startService();
await ready(service);
const ingestKey = await createKey(["ingest"]);
const readKey = await createKey(["read"]);
const t0 = performance.now();
let sent = 0;
for (let minute = 0; minute < DATA_MINUTES; ) {
  const events: Array<Record<string, unknown>> = [];
  for (; minute < DATA_MINUTES && events.length + USERS <= 5000; minute++) {
    const at = new Date(dataFrom + minute * MINUTE + 30_000).toISOString();
    for (let u = 0; u < USERS; u++) {
      events.push({
        id: `op-${minute}-${u}`, type: "sandbox.operation", timestamp: at, sandbox_id: `sb-${u}`, session_id: `sess-${u}-${Math.floor(minute / 240)}`,
        user_id: `user-${u}`, provider: "aws", session_kind: "standard", operation: "command", request_count: 1 + ((minute + u) % 5), duration_ms: 20 + ((minute * 7 + u) % 3000),
      });
    }
  }
  const res = await fetch(`${url}/api/v1/usage/events`, { method: "POST", headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" }, body: JSON.stringify({ events }) });
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
  sent += events.length;
}
log(`ingested ${sent.toLocaleString("en")} operation events in ${((performance.now() - t0) / 1000).toFixed(0)} s; restarting the service`);
await stopped(service);
service = startService();
await ready(service);

interface Export {
  rows: number;
  buckets: number;
  seconds: number;
  mib: number;
  rssBefore: number;
  rssPeak: number;
}

/** One export of `rows` rows: the window is widened by the empty minutes that make up the rest. */
async function exportCsv(rows: number): Promise<Export> {
  const buckets = DATA_MINUTES + (rows - USERS * DATA_MINUTES);
  const start = (end - buckets * MINUTE) / 1000;
  const path = `/api/v1/sandbox/usage?start_time=${start}&end_time=${end / 1000}&bucket_width=1m&group_by=user_id&format=csv`;
  const pid = service.pid!;
  const rssBefore = rssMb(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid))), 50);
  const t = performance.now();
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${readKey}` } });
  if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
  // Count records as they arrive (no value in this data holds a line break) without keeping them.
  let lines = 0;
  let bytes = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    bytes += chunk.byteLength;
    const text = decoder.decode(chunk, { stream: true });
    for (let i = text.indexOf("\r\n"); i !== -1; i = text.indexOf("\r\n", i + 2)) lines++;
  }
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssMb(pid));
  if (lines - 1 !== rows) throw new Error(`export: expected ${rows} rows, got ${lines - 1}`);
  log(`exported ${rows.toLocaleString("en")} rows (${buckets.toLocaleString("en")} minute buckets) in ${seconds.toFixed(1)} s`);
  return { rows, buckets, seconds, mib: bytes / 1024 / 1024, rssBefore, rssPeak };
}

const runs = [await exportCsv(Math.round(ROWS / 10)), await exportCsv(ROWS)];
await stopped(service);
stopChildren();

const ok = (good: boolean) => (good ? "✓" : "✗");
const mib = (x: number) => Math.round(x).toString();
const lines = [
  `| export (MKA1 1m × group_by=user_id, ${USERS} users) | rows | CSV MiB | seconds | rows/s | service RSS before → peak MiB | growth (≤ 100 MiB) |`,
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...runs.map((r) => {
    const growth = r.rssPeak - r.rssBefore;
    return `| ${r.buckets.toLocaleString("en")} minute buckets | ${r.rows.toLocaleString("en")} | ${r.mib.toFixed(0)} | ${r.seconds.toFixed(1)} | ${Math.round(r.rows / r.seconds).toLocaleString("en")} | ${mib(r.rssBefore)} → ${mib(r.rssPeak)} | ${mib(growth)} ${ok(growth <= 100)} |`;
  }),
];
const [small, big] = runs;
const growthRatio = (big!.rssPeak - big!.rssBefore) / Math.max(1, small!.rssPeak - small!.rssBefore);
lines.push("", `memory flat: ${(big!.rows / small!.rows).toFixed(0)} × the rows, ${growthRatio.toFixed(2)} × the RSS growth`);
console.log(`\n${lines.join("\n")}\n`);
process.exit(0);
