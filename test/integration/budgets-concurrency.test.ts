/**
 * Exactly one delivery per (budget, period, threshold) with TWO service processes (`node
 * src/index.ts`, each with its budget worker running) ingesting concurrently into one database,
 * late events included (DESIGN §11). The receiver deduplicates by Usage-Event-Id, as a real one
 * would; the test insists that every expected event arrived and that each arrived exactly once.
 */
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/auth/keys.js";
import { collections } from "../../src/db/collections.js";
import { MS_PER_DAY, utcMidnight } from "../../src/time.js";
import { freePort, startChild, waitFor } from "../../scripts/processes.js";
import { BOOTSTRAP_KEY } from "../helpers/app.js";
import { startTestMongo, type TestMongo } from "../helpers/mongo.js";
import { type Receiver, startReceiver } from "../helpers/webhooks.js";

const ORG = "concurrent";
const SECRET = "whsec_concurrency_0123456789";
let mongo: TestMongo;
let receiver: Receiver;
const services: Array<{ url: string; child: ChildProcess; stderr: string[] }> = [];

async function startServiceProcess(): Promise<void> {
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: "127.0.0.1",
    MONGODB_URI: mongo.uri,
    MONGODB_DB: mongo.dbName,
    BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY,
    DEMO_DATA: "false",
    RATE_LIMIT_MAX: "0",
    LOG_LEVEL: "warn",
    WEBHOOK_ALLOW_PRIVATE: "true",
    BUDGET_POLL_INTERVAL_MS: "200",
    BUDGET_EVALUATE_INTERVAL_MS: "200",
  };
  const child = startChild("src/index.ts", [], { env, stdio: ["ignore", "ignore", "pipe"] });
  const stderr: string[] = [];
  child.stderr!.on("data", (c: Buffer) => stderr.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, "service", child, 60_000);
  services.push({ url, child, stderr });
}

beforeAll(async () => {
  mongo = await startTestMongo("budgets_concurrency");
  receiver = await startReceiver();
  await Promise.all([startServiceProcess(), startServiceProcess()]);
}, 120_000);

afterAll(async () => {
  await Promise.all(
    services.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  await receiver?.close();
  await mongo?.close();
}, 60_000);

const post = (url: string, key: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });

/** One session of 1 vCPU for 10 minutes: 600 sandbox vCPU-seconds. */
function session(id: string, at: number, externalUser: string) {
  const base = { type: "sandbox.operation", sandbox_id: `sb-${id}`, session_id: id, user_id: "u", provider: "aws", session_kind: "standard" };
  return [
    { ...base, id: `${id}-start`, operation: "session_start", timestamp: new Date(at).toISOString(), vcpus: 1, memory_mb: 1024, external_user_id: externalUser },
    { ...base, id: `${id}-stop`, operation: "session_stop", timestamp: new Date(at + 600_000).toISOString() },
  ];
}

describe("two service processes, one database", () => {
  it("deliver exactly one event per (budget, period, threshold), late events included", async () => {
    const admin = (await createApiKey(collections(mongo.db), { org_id: ORG, user_id: "root", scopes: ["admin", "ingest"], cluster_admin: false }, "test")).key;
    const budget = async (body: Record<string, unknown>) => {
      const res = await post(`${services[0]!.url}/api/v1/orgs/${ORG}/budgets`, admin, { name: "b", webhook: { url: receiver.url, secret: SECRET }, ...body });
      expect(res.status).toBe(201);
    };
    // Yesterday (UTC), so every session is complete and within one day however late today it is.
    const yesterday = utcMidnight(new Date()).getTime() - MS_PER_DAY;
    // A day in the month before this one, at 10:00 UTC: late events into a past month.
    const now = new Date();
    const lastMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10, 10);

    // 40 sessions of cust-day yesterday: 24,000 vCPU-s → 3,600 … 14,400 all fire (4 events).
    await budget({ metric: "sandbox_seconds", period: "day", scope: { external_user_id: "cust-day" }, thresholds: [3600, 7200, 10800, 14400, 100_000] });
    // The same day in Kolkata (yesterday 05:30-15:30 local): 24,000 → 12,000 and 20,000 (2 events).
    await budget({ metric: "sandbox_seconds", period: "day", time_zone: "Asia/Kolkata", thresholds: [12_000, 20_000, 30_000] });
    // 3 late sessions of late-cust last month: 1,800 → 600 and 1,200 (2 events).
    await budget({ metric: "sandbox_seconds", period: "month", scope: { external_user_id: "late-cust" }, thresholds: [600, 1200, 100_000] });
    const expected = 4 + 2 + 2;

    const requests = Array.from({ length: 40 }, (_, i) => session(`day-${i}`, yesterday + i * 15 * 60_000, "cust-day"));
    requests.splice(10, 0, session("late-0", lastMonth, "late-cust"));
    requests.splice(20, 0, session("late-1", lastMonth + 3_600_000, "late-cust"));
    requests.splice(30, 0, session("late-2", lastMonth + 7_200_000, "late-cust"));
    // Both processes at once, two requests in flight to each.
    for (let i = 0; i < requests.length; i += 4) {
      const batch = requests.slice(i, i + 4);
      const answers = await Promise.all(batch.map((events, j) => post(`${services[j % 2]!.url}/api/v1/usage/events`, admin, { events }).then((r) => r.json())));
      for (const a of answers) expect(a).toEqual({ accepted: 2, duplicates: 0 });
    }
    const ingested = Date.now();

    const distinct = () => new Set(receiver.received.map((r) => String(r.headers["usage-event-id"]))).size;
    const deadline = Date.now() + 60_000;
    while (distinct() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const latencyMs = Date.now() - ingested;
    // Give both workers many more polls to send anything twice, if they would.
    await new Promise((r) => setTimeout(r, 3_000));
    if (distinct() !== expected) console.error(services.map((s) => s.stderr.join("")).join("\n"));

    const byId = new Map<string, number>();
    for (const r of receiver.received) {
      const id = String(r.headers["usage-event-id"]);
      expect(JSON.parse(r.body).id).toBe(id);
      if (r.status >= 200 && r.status < 300) byId.set(id, (byId.get(id) ?? 0) + 1);
    }
    expect(byId.size).toBe(expected);
    expect([...byId.values()]).toEqual(Array(expected).fill(1));
    const thresholds = receiver.received.map((r) => JSON.parse(r.body)).map((e) => `${e.period_start} ${e.threshold}`).sort();
    expect(thresholds).toHaveLength(expected);
    expect(new Set(thresholds).size).toBe(expected);

    const docs = await mongo.db.collection("webhook_deliveries").find({ org_id: ORG }).toArray();
    expect(docs).toHaveLength(expected);
    expect(docs.every((d) => d.status === "delivered" && d.attempts.length === 1)).toBe(true);
    console.log(`budgets-concurrency: ${expected} crossings delivered ${latencyMs} ms after the last ingest`);
  }, 120_000);
});
