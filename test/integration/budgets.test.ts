/**
 * Budgets over REST and GraphQL (DESIGN §11): create, list, read with the current period's value,
 * delete; validation and auth refusals in MIOSA's `{"error":{"code","message"}}` envelope; the
 * webhook secret never comes back and is sealed at rest. Delivery itself is webhooks.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ENVELOPES } from "../helpers/envelopes.js";
import { ingest, start, stop } from "../helpers/events.js";
import { ManualClock } from "../helpers/webhooks.js";

let t: TestApp;
const k: Record<string, string> = {};
const clock = new ManualClock(new Date("2026-05-20T12:00:00Z"));
const SECRET = "whsec_test_0123456789abcdef";

const post = (org: string, key: string | null, body: unknown) =>
  t.app.inject({ method: "POST", url: `/api/v1/orgs/${org}/budgets`, headers: { ...(key ? bearer(key) : {}), "content-type": "application/json" }, payload: JSON.stringify(body) });
const get = (url: string, key: string | null) => t.app.inject({ method: "GET", url, headers: key ? bearer(key) : {} });

const budget = (over: Record<string, unknown> = {}) => ({
  name: "Monthly spend",
  metric: "credit_cents",
  scope: {},
  period: "month",
  time_zone: "UTC",
  thresholds: [5, 10, 100],
  webhook: { url: "https://hooks.example.com/usage", secret: SECRET },
  ...over,
});

beforeAll(async () => {
  t = await startTestApp({ label: "budgets", clock, env: { WEBHOOK_SECRET_KEY: "an-operator-key-of-at-least-32-characters!" } });
  k.admin = await t.key("acme", "root", ["admin"]);
  k.reader = await t.key("acme", "reader", ["read", "ingest"]);
  k.otherAdmin = await t.key("globex", "root", ["admin"]);
  k.cluster = await t.key("ops", "sre", ["admin"], true);
  // 2 vCPU for one hour on the 20th (cust-1, tagged team=core, 2 GiB) and 1 vCPU for 30 min on the 19th (cust-2).
  await ingest(t, k.reader!, [
    start("s1", "2026-05-20T10:00:00Z", { vcpus: 2, memory_mb: 2048, external_user_id: "cust-1", tags: { team: "core" } }),
    stop("s1", "2026-05-20T11:00:00Z"),
    start("s2", "2026-05-19T23:45:00Z", { vcpus: 1, external_user_id: "cust-2" }),
    stop("s2", "2026-05-20T00:15:00Z"),
  ]);
});
afterAll(() => t?.close());

describe("POST/GET/DELETE /api/v1/orgs/{org}/budgets", () => {
  it("creates a budget and answers it without the secret, which is stored sealed", async () => {
    const res = await post("acme", k.admin!, budget());
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({
      id: expect.stringMatching(/^bud_[0-9a-f]{24}$/),
      org_id: "acme",
      name: "Monthly spend",
      metric: "credit_cents",
      scope: {},
      period: "month",
      time_zone: "UTC",
      thresholds: [5, 10, 100],
      webhook: { url: "https://hooks.example.com/usage" },
      created_at: "2026-05-20T12:00:00Z",
    });
    expect(res.body).not.toContain(SECRET);
    const stored = await t.mongo.db.collection("budgets").findOne({ _id: body.id });
    expect(stored!.webhook.secret).toMatch(/^aesgcm:/);
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    // Creating sends nothing and records nothing to send.
    expect(await t.mongo.db.collection("webhook_deliveries").countDocuments({ budget_id: body.id })).toBe(0);
  });

  it("reads one budget with its current period's value, as MIOSA computes it for the same usage", async () => {
    const created = (await post("acme", k.admin!, budget({ name: "cust-1", scope: { external_user_id: "cust-1" }, time_zone: "America/New_York" }))).json();
    const res = await get(`/api/v1/orgs/acme/budgets/${created.id}`, k.admin!);
    expect(res.statusCode).toBe(200);
    // 7,200 vCPU-s at 5¢ per vCPU-hour = 10¢, in May as New York counts it (UTC−4 in summer).
    expect(res.json().current_period).toEqual({ period_start: "2026-05-01T00:00:00-04:00", period_end: "2026-06-01T00:00:00-04:00", value: 10 });
    const miosa = await get("/api/v1/usage?group_by=external_user_id&period=mtd", k.reader!);
    expect(miosa.json().results.find((r: { external_user_id: string }) => r.external_user_id === "cust-1").credit_cents).toBe(10);
  });

  it("computes each metric and scope: a day in its zone, a tag, a sandbox, memory GiB-seconds", async () => {
    const value = async (over: Record<string, unknown>) => {
      const created = (await post("acme", k.admin!, budget(over))).json();
      return (await get(`/api/v1/orgs/acme/budgets/${created.id}`, k.admin!)).json().current_period;
    };
    // The UTC day of the 20th holds s1's hour and s2's last 15 minutes: 7,200 + 900 vCPU-s.
    expect(await value({ metric: "sandbox_seconds", period: "day" })).toMatchObject({ period_start: "2026-05-20T00:00:00Z", value: 8100 });
    // In Kolkata (UTC+5:30) the day of 20 May 17:30 starts 19 May 18:30 UTC: all of s2 and s1.
    expect(await value({ metric: "sandbox_seconds", period: "day", time_zone: "Asia/Kolkata" })).toMatchObject({ period_start: "2026-05-20T00:00:00+05:30", value: 9000 });
    expect(await value({ metric: "memory_gb_seconds", scope: { tag: { key: "team", value: "core" } } })).toMatchObject({ value: 7200 });
    expect(await value({ metric: "sandbox_seconds", scope: { sandbox_id: "sb-s2" } })).toMatchObject({ value: 1800 });
    expect(await value({ metric: "computer_seconds" })).toMatchObject({ value: 0 });
  });

  it("lists the org's budgets, and only its own", async () => {
    const other = await post("globex", k.otherAdmin!, budget({ name: "globex" }));
    expect(other.statusCode).toBe(201);
    const res = await get("/api/v1/orgs/acme/budgets", k.admin!);
    expect(res.statusCode).toBe(200);
    const names = res.json().budgets.map((b: { name: string }) => b.name);
    expect(names).toContain("Monthly spend");
    expect(names).not.toContain("globex");
    expect(res.body).not.toContain(SECRET);
  });

  it("deletes a budget (204), after which it is 404 and its waiting deliveries are cancelled", async () => {
    const created = (await post("acme", k.admin!, budget({ name: "to delete" }))).json();
    await t.mongo.db.collection("webhook_deliveries").insertOne({
      _id: "evt_waiting" as never,
      org_id: "acme",
      budget_id: created.id,
      period_start: new Date("2026-05-01T00:00:00Z"),
      threshold: 5,
      body: "{}",
      status: "pending",
      attempts: [],
      attempt_count: 0,
      next_attempt_at: new Date("2026-05-20T12:00:00Z"),
      lease_owner: null,
      created_at: new Date("2026-05-20T12:00:00Z"),
      give_up_at: new Date("2026-05-21T12:00:00Z"),
      delivered_at: null,
    });
    const del = await t.app.inject({ method: "DELETE", url: `/api/v1/orgs/acme/budgets/${created.id}`, headers: bearer(k.admin!) });
    expect(del.statusCode).toBe(204);
    const again = await get(`/api/v1/orgs/acme/budgets/${created.id}`, k.admin!);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: { code: "not_found", message: `Budget '${created.id}' not found` } });
    expect((await t.mongo.db.collection("webhook_deliveries").findOne({ _id: "evt_waiting" as never }))!.status).toBe("cancelled");
  });

  it("answers 422 in MIOSA's envelope naming each bad field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [budget({ metric: "dollars" }), "body.metric"],
      [budget({ thresholds: [10, 5] }), "strictly ascending"],
      [budget({ thresholds: [] }), "body.thresholds"],
      [budget({ thresholds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }), "body.thresholds"],
      [budget({ time_zone: "Mars/Olympus" }), "IANA time zone"],
      [budget({ period: "week" }), "body.period"],
      [budget({ scope: { external_user_id: "a", workspace_id: "b" } }), "at most one"],
      [budget({ scope: { team: "core" } }), "body.scope.team"],
      [budget({ webhook: { url: "http://hooks.example.com/x", secret: SECRET } }), "must be an https:// URL"],
      [budget({ webhook: { url: "https://127.0.0.1/x", secret: SECRET } }), "loopback"],
      [budget({ webhook: { url: "https://10.1.2.3/x", secret: SECRET } }), "private"],
      [budget({ webhook: { url: "https://[::ffff:192.168.1.1]/x", secret: SECRET } }), "private"],
      [budget({ webhook: { url: "https://169.254.169.254/latest/meta-data", secret: SECRET } }), "linkLocal"],
      [budget({ webhook: { url: "https://localhost:8443/x", secret: SECRET } }), "loopback"],
      [budget({ webhook: { url: "https://hooks.example.com/x", secret: "short" } }), "at least 16"],
      [budget({ webhook: { url: "https://hooks.example.com/x" } }), "body.webhook.secret"],
      [budget({ name: undefined }), "body.name"],
    ];
    for (const [body, needle] of cases) {
      const res = await post("acme", k.admin!, body);
      expect(res.statusCode, needle).toBe(422);
      expect(Object.keys(res.json())).toEqual(["error"]);
      expect(res.json().error.code).toBe("invalid_request");
      expect(res.json().error.message).toContain(needle);
    }
    const notJson = await t.app.inject({ method: "POST", url: "/api/v1/orgs/acme/budgets", headers: { ...bearer(k.admin!), "content-type": "application/json" }, payload: "{" });
    expect(notJson.statusCode).toBeLessThan(500);
    expect(ENVELOPES.miosa(notJson.statusCode, notJson.json())).toBe(true);
  });

  it("refuses anonymous callers (401), keys without admin or of another org (403), unknown orgs (404)", async () => {
    const anonymous = await get("/api/v1/orgs/acme/budgets", null);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toEqual({ error: { code: "unauthorized", message: "Missing API key" } });
    for (const [res, status] of [
      [await get("/api/v1/orgs/acme/budgets", k.reader!), 403],
      [await post("acme", k.reader!, budget()), 403],
      [await get("/api/v1/orgs/acme/budgets", k.otherAdmin!), 403],
      [await post("acme", k.otherAdmin!, budget()), 403],
      [await get("/api/v1/orgs/nobody-here/budgets", k.cluster!), 404],
      [await get("/api/v1/orgs/acme/budgets/bud_000000000000000000000000", k.admin!), 404],
      [await get("/api/v1/orgs/acme/budgets/not-an-id/deliveries", k.admin!), 404],
    ] as const) {
      expect(res.statusCode).toBe(status);
      expect(ENVELOPES.miosa(res.statusCode, res.json())).toBe(true);
    }
    expect((await post("acme", k.cluster!, budget({ name: "by the cluster admin" }))).statusCode).toBe(201);
    expect((await get("/api/v1/orgs/acme/budgets", BOOTSTRAP_KEY)).statusCode).toBe(200);
  });
});

describe("GraphQL: Organization.budgets, Mutation.createBudget, Mutation.deleteBudget", () => {
  const CREATE = `mutation($org: ID!, $input: CreateBudgetInput!) {
    createBudget(org: $org, input: $input) { id name metric period timeZone thresholds webhookUrl scope { externalUserId tag { key value } } currentPeriod { periodStart value } }
  }`;
  const input = {
    name: "gql",
    metric: "sandbox_seconds",
    period: "day",
    scope: { externalUserId: "cust-1" },
    thresholds: [3600],
    webhook: { url: "https://hooks.example.com/gql", secret: SECRET },
  };

  it("creates, lists through the Organization entity and deletes", async () => {
    const created = await t.graphql(CREATE, { org: "acme", input }, bearer(k.admin!));
    expect(created.body.errors).toBeUndefined();
    const b = created.body.data!.createBudget;
    expect(b).toMatchObject({ name: "gql", metric: "sandbox_seconds", timeZone: "UTC", thresholds: [3600], webhookUrl: "https://hooks.example.com/gql", scope: { externalUserId: "cust-1", tag: null } });
    expect(b.currentPeriod).toEqual({ periodStart: "2026-05-20T00:00:00Z", value: 7200 });

    const listed = await t.graphql(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { budgets { id name } } } }`,
      { r: [{ __typename: "Organization", id: "acme" }] },
      bearer(k.admin!),
    );
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!._entities[0].budgets.map((x: { id: string }) => x.id)).toContain(b.id);

    const deleted = await t.graphql(`mutation($org: ID!, $id: ID!) { deleteBudget(org: $org, id: $id) }`, { org: "acme", id: b.id }, bearer(k.admin!));
    expect(deleted.body.data).toEqual({ deleteBudget: true });
  });

  it("answers BAD_USER_INPUT naming the field, FORBIDDEN without admin", async () => {
    const bad = await t.graphql(CREATE, { org: "acme", input: { ...input, thresholds: [2, 1] } }, bearer(k.admin!));
    expect(bad.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", issues: [{ loc: ["input", "thresholds"] }] });
    const forbidden = await t.graphql(CREATE, { org: "acme", input }, bearer(k.reader!));
    expect(forbidden.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    const foreign = await t.graphql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { budgets { id } } } }`, { r: [{ __typename: "Organization", id: "acme" }] }, bearer(k.otherAdmin!));
    expect(foreign.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
  });
});
