/**
 * Threshold crossings and their webhook deliveries (DESIGN §11), driven explicitly: the evaluator
 * and the delivery worker are run step by step over the real driver, with a clock the test moves.
 * Deliveries go to a real HTTP receiver on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=true); the guard's
 * refusals are exercised with a resolver that answers what the test wants.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BACKOFF, DeliveryWorker } from "../../src/budgets/delivery.js";
import { BudgetEvaluator } from "../../src/budgets/evaluator.js";
import { sealSecret } from "../../src/budgets/secrets.js";
import { sweepOrgsWithBudgets } from "../../src/budgets/worker.js";
import { freePort } from "../../scripts/processes.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { recordCommands } from "../helpers/commands.js";
import { ingest, start, stop } from "../helpers/events.js";
import { ManualClock, type Receiver, startReceiver } from "../helpers/webhooks.js";

const SECRET = "whsec_webhooks_test_0123456789";
const clock = new ManualClock(new Date("2026-05-20T12:00:00Z"));
let t: TestApp;
let receiver: Receiver;
let admin: string;
let ingester: string;
let org = "";
let orgSeq = 0;

/** Neutral jitter, so backoff waits are exactly 30 s × 2^n (capped). */
const evaluator = (owner = "eval-a") => new BudgetEvaluator(t.deps, { owner });
const worker = (owner = "send-a", deps = t.deps) => new DeliveryWorker(deps, { owner, random: () => 0.5 });

async function createBudget(body: Record<string, unknown>, url = receiver.url): Promise<string> {
  const res = await t.app.inject({
    method: "POST",
    url: `/api/v1/orgs/${org}/budgets`,
    headers: { ...bearer(admin), "content-type": "application/json" },
    payload: JSON.stringify({ name: "b", metric: "sandbox_seconds", period: "day", thresholds: [3600], webhook: { url, secret: SECRET }, ...body }),
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

const deliveriesOf = async (budgetId: string) =>
  (await t.app.inject({ method: "GET", url: `/api/v1/orgs/${org}/budgets/${budgetId}/deliveries`, headers: bearer(admin) })).json().deliveries;

/** A session of `vcpus` from `from` to `to` for `user` (external_user_id). */
const session = (id: string, from: string, to: string, fields: Record<string, unknown> = {}) => [
  start(`${org}-${id}`, from, { ...fields }),
  stop(`${org}-${id}`, to),
];

beforeAll(async () => {
  t = await startTestApp({ label: "webhooks", clock, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});
// Every test in its own org, so budgets and marks never leak between them.
beforeEach(async () => {
  // Nothing of an earlier test is left to evaluate or send.
  await t.deps.cols.budgets.deleteMany({});
  await t.deps.cols.budgetMarks.deleteMany({});
  await t.deps.cols.webhookDeliveries.updateMany({ status: "pending" }, { $set: { status: "cancelled" } });
  org = `wh${++orgSeq}`;
  clock.set("2026-05-20T12:00:00Z");
  receiver.respond([], 200);
  receiver.received.length = 0;
  admin = await t.key(org, "root", ["admin"]);
  ingester = await t.key(org, "svc", ["ingest"]);
});

describe("threshold crossings", () => {
  it("fires once per threshold reached, signed, with the event DESIGN §11 names", async () => {
    const id = await createBudget({ thresholds: [3600, 7200, 100_000], scope: { external_user_id: "cust-1" } });
    await ingest(t, ingester, session("a", "2026-05-20T09:00:00Z", "2026-05-20T10:00:00Z", { external_user_id: "cust-1" }));
    expect(await evaluator().runOnce()).toEqual({ orgs: 1, created: 1 });
    expect(await worker().runOnce()).toBe(1);

    expect(receiver.received).toHaveLength(1);
    const [hit] = receiver.received;
    const event = JSON.parse(hit!.body);
    expect(event).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      type: "budget.threshold_crossed",
      budget_id: id,
      org_id: org,
      metric: "sandbox_seconds",
      scope: { external_user_id: "cust-1" },
      threshold: 3600,
      value: 3600,
      period_start: "2026-05-20T00:00:00Z",
      period_end: "2026-05-21T00:00:00Z",
      occurred_at: "2026-05-20T12:00:00Z",
    });
    expect(Object.keys(event)).toEqual(["id", "type", "budget_id", "org_id", "metric", "scope", "threshold", "value", "period_start", "period_end", "occurred_at"]);
    // The signature, recomputed here from the raw body and the secret.
    expect(hit!.headers["usage-event-id"]).toBe(event.id);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit!.headers["usage-signature"]));
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Date.parse("2026-05-20T12:00:00Z") / 1000);
    expect(m![2]).toBe(createHmac("sha256", SECRET).update(`${m![1]}.${hit!.body}`).digest("hex"));
    expect(hit!.headers["content-type"]).toBe("application/json");

    // More usage below the next threshold fires nothing; crossing it fires exactly that one.
    await ingest(t, ingester, session("b", "2026-05-20T10:00:00Z", "2026-05-20T10:30:00Z", { external_user_id: "cust-1" }));
    expect(await evaluator().runOnce()).toEqual({ orgs: 1, created: 0 });
    clock.advance(60_000);
    await ingest(t, ingester, session("c", "2026-05-20T10:30:00Z", "2026-05-20T11:30:00Z", { external_user_id: "cust-1" }));
    expect((await evaluator().runOnce()).created).toBe(1);
    await worker().runOnce();
    expect(receiver.received.map((r) => JSON.parse(r.body).threshold)).toEqual([3600, 7200]);
    // Usage of another scope does not count.
    await ingest(t, ingester, session("d", "2026-05-20T00:00:00Z", "2026-05-20T11:00:00Z", { external_user_id: "cust-2", vcpus: 8 }));
    expect((await evaluator().runOnce()).created).toBe(0);

    const log = await deliveriesOf(id);
    expect(log.map((d: { threshold: number; status: string }) => [d.threshold, d.status])).toEqual([
      [7200, "delivered"],
      [3600, "delivered"],
    ]);
    expect(log[1].attempts).toEqual([{ at: "2026-05-20T12:00:00Z", status_code: 200, outcome: "delivered", duration_ms: 0 }]);
  });

  it("a late event that crosses a past period's threshold fires once, whoever evaluates it", async () => {
    const id = await createBudget({ metric: "credit_cents", period: "month", thresholds: [10, 1000] });
    // 1 vCPU for two hours in April = 10¢ at the default 5¢ per vCPU-hour, arriving in May.
    await ingest(t, ingester, session("late", "2026-04-10T10:00:00Z", "2026-04-10T12:00:00Z"));
    // Two evaluators at once over the same mark, and again after another late event of that month.
    const [a, b] = await Promise.all([evaluator("eval-a").runOnce(), evaluator("eval-b").runOnce()]);
    expect(a.created + b.created).toBe(1);
    await ingest(t, ingester, session("late2", "2026-04-11T10:00:00Z", "2026-04-11T10:01:00Z"));
    const again = await Promise.all([evaluator("eval-a").runOnce(), evaluator("eval-b").runOnce()]);
    expect(again[0].created + again[1].created).toBe(0);
    // Re-evaluating all of April later (a mark as wide as the month) finds it recorded already.
    await t.deps.cols.budgetMarks.updateOne({ _id: org }, { $set: { dirty: true, min_ts: new Date("2026-04-01T00:00:00Z"), lease_until: new Date(0) } });
    expect((await evaluator("eval-c").runOnce()).created).toBe(0);

    await worker().runOnce();
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ budget_id: id, threshold: 10, value: 10, period_start: "2026-04-01T00:00:00Z", period_end: "2026-05-01T00:00:00Z" });
    expect(await t.deps.cols.webhookDeliveries.countDocuments({ budget_id: id })).toBe(1);
  });

  it("the unique index on (org, budget, period, threshold) refuses a second record of one crossing", async () => {
    const id = await createBudget({ thresholds: [60] });
    await ingest(t, ingester, session("u", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
    await evaluator().runOnce();
    const doc = await t.deps.cols.webhookDeliveries.findOne({ budget_id: id });
    await expect(t.deps.cols.webhookDeliveries.insertOne({ ...doc!, _id: "evt_another_id" })).rejects.toMatchObject({ code: 11000 });
  });

  it("an open session reaches a threshold as time passes: the sweep marks orgs with budgets", async () => {
    await createBudget({ thresholds: [7200] });
    await ingest(t, ingester, [start(`${org}-open`, "2026-05-20T11:00:00Z")]);
    expect((await evaluator().runOnce()).created).toBe(0); // 3,600 s so far
    clock.set("2026-05-20T13:00:00Z");
    expect((await evaluator().runOnce()).orgs).toBe(0); // no ingest, nothing marked
    expect(await sweepOrgsWithBudgets(t.deps)).toBeGreaterThan(0);
    expect((await evaluator().runOnce()).created).toBe(1);
    await worker().runOnce();
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ threshold: 7200, value: 7200 });
  });
});

describe("ingest's side", () => {
  it("is one upsert of the org's mark, whatever the budgets", async () => {
    // Its own client over the same database, with command monitoring on.
    const client = await new MongoClient(t.mongo.uri, { monitorCommands: true }).connect();
    const mongo = { ...t.mongo, client, db: client.db(t.mongo.dbName), embedded: null, close: () => client.close() };
    const monitored = await startTestApp({ mongo, clock });
    try {
      for (let i = 0; i < 20; i++) await createBudget({ thresholds: [1e9], scope: { external_user_id: `c${i}` } });
      const sent = recordCommands(monitored.mongo.client);
      await ingest(monitored, ingester, session("i", "2026-05-20T09:00:00Z", "2026-05-20T10:00:00Z"));
      sent.stop();
      expect(sent.count("update", "budget_marks")).toBe(1);
      expect(sent.sent.filter((c) => c.collection === "budgets" || c.collection === "webhook_deliveries")).toEqual([]);
      const mark = await t.deps.cols.budgetMarks.findOne({ _id: org });
      expect(mark).toMatchObject({ dirty: true, min_ts: new Date("2026-05-20T09:00:00Z"), max_ts: new Date("2026-05-20T10:00:00Z") });
    } finally {
      await monitored.close();
      await client.close();
    }
  });
});

describe("delivery", () => {
  it("retries non-2xx answers with exponential backoff, logging every attempt", async () => {
    const id = await createBudget({ thresholds: [60] });
    await ingest(t, ingester, session("r", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
    await evaluator().runOnce();
    receiver.respond([500, 503], 204);
    expect(await worker().runOnce()).toBe(1); // 500 → due again in 30 s
    clock.advance(BACKOFF.baseMs - 1_000);
    expect(await worker().runOnce()).toBe(0);
    clock.advance(1_000);
    expect(await worker().runOnce()).toBe(1); // 503 → due again in 60 s
    clock.advance(2 * BACKOFF.baseMs - 1_000);
    expect(await worker().runOnce()).toBe(0);
    clock.advance(1_000);
    expect(await worker().runOnce()).toBe(1); // 204: delivered
    clock.advance(3_600_000);
    expect(await worker().runOnce()).toBe(0);

    expect(receiver.received.map((r) => r.status)).toEqual([500, 503, 204]);
    // The same event, the same bytes, every time; each attempt signed at its own time.
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.headers["usage-event-id"])).size).toBe(1);
    expect(receiver.received.map((r) => /t=(\d+)/.exec(String(r.headers["usage-signature"]))![1])).toEqual(["1779278400", "1779278430", "1779278490"]);
    const [d] = await deliveriesOf(id);
    expect(d.status).toBe("delivered");
    expect(d.attempts.map((a: { at: string; status_code: number; outcome: string }) => [a.at, a.status_code, a.outcome])).toEqual([
      ["2026-05-20T12:00:00Z", 500, "failed"],
      ["2026-05-20T12:00:30Z", 503, "failed"],
      ["2026-05-20T12:01:30Z", 204, "delivered"],
    ]);
  });

  it("gives up 24 h after the crossing, the waits doubling from 30 s to at most an hour", async () => {
    const id = await createBudget({ thresholds: [60] });
    await ingest(t, ingester, session("f", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
    await evaluator().runOnce();
    receiver.respond([], 500);
    for (let i = 0; i < 100; i++) {
      await worker().runOnce();
      const doc = await t.deps.cols.webhookDeliveries.findOne({ budget_id: id });
      if (doc!.status !== "pending") break;
      clock.set(doc!.next_attempt_at);
    }
    const doc = (await t.deps.cols.webhookDeliveries.findOne({ budget_id: id }))!;
    expect(doc.status).toBe("failed");
    const times = doc.attempts.map((a) => a.at.getTime());
    const gaps = times.slice(1).map((x, i) => x - times[i]!);
    expect(gaps.slice(0, 4)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(Math.max(...gaps)).toBe(3_600_000);
    expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(24 * 3_600_000);
    expect(times.at(-1)! + 3_600_000).toBeGreaterThan(times[0]! + 24 * 3_600_000);
    clock.advance(48 * 3_600_000);
    expect(await worker().runOnce()).toBe(0);
    expect(receiver.received).toHaveLength(doc.attempts.length);
  });

  it("survives a restart: a pending delivery, and one whose sender died mid-send, are sent by a new process", async () => {
    const id = await createBudget({ thresholds: [60, 120] });
    await ingest(t, ingester, session("s", "2026-05-20T09:00:00Z", "2026-05-20T09:02:00Z"));
    await evaluator().runOnce();
    receiver.respond([500, 500]);
    expect(await worker("old-process").runOnce()).toBe(2); // both failed once, due in 30 s
    // The old process is gone; one of the deliveries it had claimed again when it died.
    const [first] = await t.deps.cols.webhookDeliveries.find({ budget_id: id }).sort({ threshold: 1 }).toArray();
    await t.deps.cols.webhookDeliveries.updateOne({ _id: first!._id }, { $set: { next_attempt_at: new Date(clock.now().getTime() + 120_000), lease_owner: "old-process" } });

    const restarted = await startTestApp({ mongo: t.mongo, clock, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
    try {
      clock.advance(30_000);
      expect(await worker("new-process", restarted.deps).runOnce()).toBe(1); // the one merely waiting
      clock.advance(90_000);
      expect(await worker("new-process", restarted.deps).runOnce()).toBe(1); // the dead sender's lease ran out
    } finally {
      await restarted.close();
    }
    const docs = await t.deps.cols.webhookDeliveries.find({ budget_id: id }).toArray();
    expect(docs.map((d) => d.status)).toEqual(["delivered", "delivered"]);
    expect(receiver.received.filter((r) => r.status === 200)).toHaveLength(2);
  });

  it("refuses, at delivery, a name that resolves to a private address; connects to the address it checked", async () => {
    const guarded = await startTestApp({ mongo: t.mongo, clock }); // WEBHOOK_ALLOW_PRIVATE off
    try {
      const id = await createBudget({ thresholds: [60] }, "https://hooks.example.com/usage");
      await ingest(t, ingester, session("g", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
      await evaluator().runOnce();
      const lying = new DeliveryWorker(guarded.deps, { owner: "guarded", random: () => 0.5, resolve: async () => [{ address: "93.184.216.34", family: 4 }, { address: "10.0.0.7", family: 4 }] });
      expect(await lying.runOnce()).toBe(1);
      const [d] = await deliveriesOf(id);
      expect(d.status).toBe("pending");
      expect(d.attempts[0]).toMatchObject({ status_code: null, outcome: "failed", error: expect.stringContaining("10.0.0.7 is a private address") });
      expect(receiver.received).toHaveLength(0);

      // With private addresses allowed, an unresolvable name the resolver maps to 127.0.0.1 reaches
      // the receiver: the socket used the checked address, not a second lookup of its own.
      const port = new URL(receiver.url).port;
      await t.deps.cols.budgets.updateOne({ _id: id }, { $set: { "webhook.url": `http://hooks.invalid:${port}/usage` } });
      clock.advance(30_000);
      const pinned = new DeliveryWorker(t.deps, { owner: "pinned", random: () => 0.5, resolve: async () => [{ address: "127.0.0.1", family: 4 }] });
      expect(await pinned.runOnce()).toBe(1);
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]!.headers.host).toBe(`hooks.invalid:${port}`);
    } finally {
      await guarded.close();
    }
  });

  it("a secret sealed under another WEBHOOK_SECRET_KEY is a failed attempt that says why, not a stuck delivery", async () => {
    const id = await createBudget({ thresholds: [60] });
    await t.deps.cols.budgets.updateOne({ _id: id }, { $set: { "webhook.secret": sealSecret(SECRET, "a-key-this-process-does-not-have-0123") } });
    await ingest(t, ingester, session("k", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
    await evaluator().runOnce();
    expect(await worker().runOnce()).toBe(1);
    const [d] = await deliveriesOf(id);
    expect(d).toMatchObject({ status: "pending", next_attempt_at: "2026-05-20T12:00:30Z" });
    expect(d.attempts[0]).toMatchObject({ status_code: null, outcome: "failed", error: expect.stringContaining("WEBHOOK_SECRET_KEY") });
    expect(receiver.received).toHaveLength(0);
  });

  it("does not follow redirects (a 3xx is a failed attempt)", async () => {
    const id = await createBudget({ thresholds: [60] });
    await ingest(t, ingester, session("x", "2026-05-20T09:00:00Z", "2026-05-20T09:01:00Z"));
    await evaluator().runOnce();
    receiver.respond([307]);
    await worker().runOnce();
    const [d] = await deliveriesOf(id);
    expect(d.attempts).toMatchObject([{ status_code: 307, outcome: "failed" }]);
    expect(receiver.received).toHaveLength(1);
  });
});

describe("docs/budgets.md's receiver example", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("verifies a real delivery's signature (and refuses a tampered one)", async () => {
    const md = readFileSync(new URL("../../docs/budgets.md", import.meta.url), "utf8");
    const code = /```js receiver\n([\s\S]*?)```/.exec(md)?.[1];
    expect(code, "docs/budgets.md has a ```js receiver block").toBeTruthy();
    expect(code!.trim().split("\n").length).toBeLessThanOrEqual(12);
    const dir = mkdtempSync(join(tmpdir(), "receiver-"));
    dirs.push(dir);
    writeFileSync(join(dir, "receiver.mjs"), code!);
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [join(dir, "receiver.mjs")], { env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    try {
      const url = `http://127.0.0.1:${port}/`;
      for (let i = 0; i < 50 && !(await fetch(url, { method: "POST", body: "{}" }).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
      // The example checks the signature's age against its own clock, so this test runs at real time.
      clock.set(new Date());
      const now = Date.now();
      const id = await createBudget({ thresholds: [60] }, url);
      await ingest(t, ingester, session("doc", new Date(now - 3_600_000).toISOString(), new Date(now - 3_000_000).toISOString()));
      await evaluator().runOnce();
      expect(await worker().runOnce()).toBe(1);
      const [d] = await deliveriesOf(id);
      expect(d.attempts[0].status_code).toBe(204);
      expect(out).toContain(`verified ${d.event_id} 60`);
      const body = JSON.stringify({ id: "evt_forged", threshold: 1 });
      const t0 = Math.floor(now / 1000);
      const forged = await fetch(url, { method: "POST", body, headers: { "usage-signature": `t=${t0},v1=${"0".repeat(64)}` } });
      expect(forged.status).toBe(400);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
