/**
 * `npm run bench:budgets [-- --events 10000 --rounds 3 --budgets 100 --clients 2]`
 *
 * Does defining budgets slow ingest down? Ingest throughput (100-event requests, `--clients` in
 * flight) into ONE org, alternately with no budgets and with `--budgets` of them defined (every
 * metric, scope kind, period and three zones; a tenth of them with thresholds that are reached, so
 * deliveries go out to a receiver in this process), `--rounds` times each, so both conditions see
 * the same machine load and a similar history. Each phase is a fresh day of a 60-sandbox fleet
 * (its sessions and `--events` operations). Target: with budgets ≥ 0.8 × without.
 *
 * Processes: an embedded MongoDB and the service (`src/index.ts`, its budget worker on, as in
 * production) as children on loopback.
 */
import { Metrics } from "../src/metrics.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { BudgetEvaluator } from "../src/budgets/evaluator.js";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { collections } from "../src/db/collections.js";
import type { AppDeps } from "../src/deps.js";
import { PageTokens } from "../src/paging.js";
import { type BenchEvent, benchFleet, benchOperations, inTimeOrder } from "./bench-data.js";
import { freePort, startChild, stopChildren, waitFor } from "./processes.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "10000" },
    rounds: { type: "string", default: "3" },
    budgets: { type: "string", default: "100" },
    clients: { type: "string", default: "2" },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const BUDGETS = Number(values.budgets);
const CLIENTS = Number(values.clients);
if (![EVENTS, ROUNDS, BUDGETS, CLIENTS].every((n) => Number.isInteger(n) && n > 0) || BUDGETS > 200) {
  console.error("--events, --rounds, --clients: positive integers; --budgets 1-200");
  process.exit(1);
}
const BOOTSTRAP = "bench-bootstrap-key-0123456789abcdef";
const ORG = "bench-budgets";
const REQUEST_EVENTS = 100;
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// A receiver for the budgets that do fire: counts what it is sent.
let received = 0;
const receiver = createServer((req, res) => {
  req.resume().on("end", () => {
    received++;
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

const mongoPort = await freePort();
const mongoUri = `mongodb://127.0.0.1:${mongoPort}`;
const mongo = startChild("scripts/embedded-mongo.ts", ["--port", String(mongoPort)], { nodeArgs: ["--max-old-space-size=8192"] });
const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 2_000 });
await waitFor(async () => (await client.connect(), true), "embedded MongoDB", mongo);
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const service = startChild("src/index.ts", [], {
  env: {
    ...process.env,
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    MONGODB_URI: mongoUri,
    MONGODB_DB: "bench_budgets",
    LOG_LEVEL: "warn",
    BOOTSTRAP_ADMIN_KEY: BOOTSTRAP,
    RATE_LIMIT_MAX: "0",
    WEBHOOK_ALLOW_PRIVATE: "true",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "service", service);

async function api(method: string, path: string, key: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}
const { key: KEY } = await api("POST", "/api/v1/api-keys", BOOTSTRAP, { org_id: ORG, user_id: "bench", scopes: ["admin", "ingest"] });

/** `n` budgets over every metric, scope kind, period and three zones; every tenth one fires. */
function budgetDefinitions(n: number): unknown[] {
  const metrics = ["credit_cents", "sandbox_seconds", "computer_seconds", "storage_gb_hours", "memory_gb_seconds"];
  const scopes = (i: number) =>
    [
      {},
      { external_user_id: `acme-customer-${(i % 10) + 1}` },
      { external_project_id: `globex-project-${(i % 4) + 1}` },
      { workspace_id: `initech-ws-${i % 2 ? "main" : "lab"}` },
      { sandbox_id: `sb-acme-${String((i % 20) + 1).padStart(2, "0")}` },
      { tag: { key: "team", value: ["core", "growth", "research"][i % 3] } },
    ][i % 6];
  return Array.from({ length: n }, (_, i) => ({
    name: `budget ${i}`,
    metric: metrics[i % metrics.length],
    scope: scopes(Math.floor(i / 5)),
    period: i % 2 ? "day" : "month",
    time_zone: ["UTC", "America/New_York", "Asia/Kolkata"][i % 3],
    thresholds: i % 10 === 0 ? [1, 10, 100] : [1e12],
    webhook: { url: hookUrl, secret: "bench-webhook-secret-0123456789" },
  }));
}

/** A fresh day of the fleet, all in ORG, with ids of its own. */
function phaseEvents(phase: number): BenchEvent[][] {
  const fleet = benchFleet(new Date(), 1);
  const p = `p${phase}-`;
  const events = inTimeOrder([...fleet.lifecycle, ...benchOperations(fleet, EVENTS)]).map(({ org_id: _, ...e }) => ({
    ...e,
    id: p + e.id,
    session_id: p + e.session_id,
  })) as BenchEvent[];
  const requests: BenchEvent[][] = [];
  for (let i = 0; i < events.length; i += REQUEST_EVENTS) requests.push(events.slice(i, i + REQUEST_EVENTS));
  return requests;
}

async function ingestRate(requests: BenchEvent[][]): Promise<number> {
  let next = 0;
  const events = requests.reduce((n, r) => n + r.length, 0);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < requests.length) await api("POST", "/api/v1/usage/events", KEY, { events: requests[next++] });
    }),
  );
  return events / ((performance.now() - t0) / 1000);
}

const rates: Record<"none" | "budgets", number[]> = { none: [], budgets: [] };
let phase = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const condition of ["none", "budgets"] as const) {
    const existing = (await api("GET", `/api/v1/orgs/${ORG}/budgets`, KEY)).budgets as Array<{ id: string }>;
    for (const b of existing) await api("DELETE", `/api/v1/orgs/${ORG}/budgets/${b.id}`, KEY);
    if (condition === "budgets") for (const b of budgetDefinitions(BUDGETS)) await api("POST", `/api/v1/orgs/${ORG}/budgets`, KEY, b);
    const requests = phaseEvents(phase++);
    // Let the worker settle (the previous phase's last evaluation) before timing.
    await new Promise((r) => setTimeout(r, 2_000));
    const rate = await ingestRate(requests);
    rates[condition].push(rate);
    log(`round ${round + 1}, ${condition === "none" ? "no budgets" : `${BUDGETS} budgets`}: ${Math.round(rate)} events/s`);
  }
}
await new Promise((r) => setTimeout(r, 3_000));
const db = client.db("bench_budgets");
// One evaluation of the org's budgets over the last day's periods, timed here over the same data
// (what the service's evaluator does every BUDGET_EVALUATE_INTERVAL_MS while the org ingests).
const deps: AppDeps = { config: loadConfig({}), client, db, cols: collections(db), clock: systemClock, pageTokens: new PageTokens(undefined), metrics: new Metrics() };
const sessions = await deps.cols.sessions.countDocuments({ org_id: ORG });
const evaluationMs: number[] = [];
for (let i = 0; i < 5; i++) {
  await deps.cols.budgetMarks.updateOne({ _id: ORG }, { $set: { dirty: true, lease_until: new Date(0), min_ts: new Date(Date.now() - 86_400_000), max_ts: new Date() } });
  const t0 = performance.now();
  await new BudgetEvaluator(deps, { owner: "bench" }).runOnce();
  evaluationMs.push(performance.now() - t0);
}
const deliveries = await db.collection("webhook_deliveries").countDocuments({ org_id: ORG });
const delivered = await db.collection("webhook_deliveries").countDocuments({ org_id: ORG, status: "delivered" });
await client.close();
receiver.close();
stopChildren();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const none = median(rates.none);
const withBudgets = median(rates.budgets);
const ratio = withBudgets / none;
const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString("en")).join(", ");
console.log(`
| budgets defined | ingest events/s (median of ${ROUNDS}) | rounds | ratio | target |
| ---: | ---: | --- | ---: | --- |
| 0 | ${Math.round(none).toLocaleString("en")} | ${fmt(rates.none)} | 1.00 | |
| ${BUDGETS} | ${Math.round(withBudgets).toLocaleString("en")} | ${fmt(rates.budgets)} | ${ratio.toFixed(2)} | ≥ 0.80 ${ratio >= 0.8 ? "✓" : "✗"} |

${REQUEST_EVENTS}-event requests, ${CLIENTS} in flight, ~${(requests0Count()).toLocaleString("en")} events a phase into one org; ${deliveries} crossings recorded (${delivered} delivered, ${received} requests received).
One evaluation of all ${BUDGETS} budgets over the last day's periods, ${sessions.toLocaleString("en")} sessions stored: median ${Math.round(median(evaluationMs))} ms (the service runs one per org at most every 3 s).
`);
process.exit(0);

function requests0Count(): number {
  return phaseEvents(0).reduce((n, r) => n + r.length, 0);
}
