/**
 * Limits: per-key rate limiting (429 with Retry-After, in each surface's envelope), and GraphQL
 * operations refused before they run when too deep or too costly.
 */
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { recordCommands } from "../helpers/commands.js";

describe("rate limiting", () => {
  let t: TestApp;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    t = await startTestApp({ label: "ratelimit", env: { RATE_LIMIT_MAX: "3", RATE_LIMIT_WINDOW_MS: "60000" } });
    keyA = await t.key("acme", "a", ["read"]);
    keyB = await t.key("acme", "b", ["read"]);
  });
  afterAll(() => t.close());

  const miosa = (key: string) => t.app.inject({ url: "/api/v1/usage", headers: bearer(key) });

  it("allows RATE_LIMIT_MAX requests per key per window, then 429 with Retry-After in the vendor's envelope", async () => {
    for (let i = 0; i < 3; i++) expect((await miosa(keyA)).statusCode).toBe(200);
    const limited = await miosa(keyA);
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(limited.json()).toEqual({ error: { code: "rate_limited", message: expect.stringMatching(/Rate limit exceeded/) } });
    // Another key has its own budget.
    expect((await miosa(keyB)).statusCode).toBe(200);
  });

  it("counts a key across surfaces, and answers 429 in each surface's own shape", async () => {
    const key = await t.key("acme", "c", ["read"]);
    expect((await t.app.inject({ url: "/api/tags", headers: { "x-api-key": key } })).statusCode).toBe(200);
    expect((await t.graphql("{ viewer { keyId } }", {}, { "x-api-key": key })).status).toBe(200);
    expect((await t.app.inject({ url: "/api/v1/org/acme/sandboxes/usage", headers: bearer(key) })).statusCode).toBe(200);
    const oc = await t.app.inject({ url: "/api/tags", headers: { "x-api-key": key } });
    expect([oc.statusCode, oc.json()]).toEqual([429, { error: expect.stringMatching(/Rate limit exceeded/) }]);
    const gql = await t.graphql("{ viewer { keyId } }", {}, { "x-api-key": key });
    expect(gql.status).toBe(429);
    expect(gql.body.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    const dn = await t.app.inject({ url: "/api/v1/org/acme/sandboxes/usage", headers: bearer(key) });
    expect(dn.statusCode).toBe(429);
    expect(dn.json()).toMatchObject({ code: 429, type: "rate_limited", errors: null });
    const mka1 = await t.app.inject({ url: "/api/v1/sandbox/usage?start_time=0", headers: bearer(key) });
    expect([mka1.statusCode, mka1.json()]).toEqual([429, { detail: expect.stringMatching(/Rate limit exceeded/) }]);
  });

  it("never limits the health endpoints", async () => {
    for (let i = 0; i < 6; i++) expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });
});

describe("rate limiting by principal, not by header", () => {
  const MAX = 5;
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ label: "ratebypass", env: { RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW_MS: "60000" }, monitorCommands: true });
    key = await t.key("acme", "a", ["read"]);
  });
  afterAll(() => t.close());

  const from = (remoteAddress: string) => ({ remoteAddress });
  const statuses = async (n: number, req: (i: number) => InjectOptions) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await t.app.inject(req(i))).statusCode);
    return out;
  };

  it("a valid key with a fresh junk Authorization on each request is not a fresh budget (the bypass)", async () => {
    // The X-API-Key is valid; the Bearer junk differs: two different keys, so unauthenticated, counted by address.
    const got = await statuses(30, (i) => ({ url: "/api/tags", headers: { "x-api-key": key, authorization: `Bearer junk${i}` }, ...from("10.0.0.1") }));
    expect(got.filter((s) => s === 200)).toEqual([]);
    expect(got.slice(0, MAX)).toEqual(Array(MAX).fill(401));
    expect(got.slice(MAX)).toEqual(Array(30 - MAX).fill(429));
  });

  it("a key counts once across surfaces and headers: X-API-Key on one, Bearer on another", async () => {
    const k = await t.key("acme", "b", ["read"]);
    const got = [
      (await t.app.inject({ url: "/api/tags", headers: { "x-api-key": k }, ...from("10.0.0.2") })).statusCode,
      (await t.app.inject({ url: "/api/tags", headers: bearer(k), ...from("10.0.0.3") })).statusCode,
      (await t.app.inject({ url: "/api/v1/usage", headers: { "x-api-key": k }, ...from("10.0.0.4") })).statusCode,
      (await t.app.inject({ url: "/api/v1/org/acme/sandboxes/usage", headers: bearer(k), ...from("10.0.0.5") })).statusCode,
      (await t.graphql("{ viewer { keyId } }", {}, { "x-api-key": k })).status,
      (await t.app.inject({ url: "/api/v1/usage", headers: bearer(k), ...from("10.0.0.6") })).statusCode,
    ];
    expect(got).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("requests without a valid key are limited by client address, whatever key or header they invent", async () => {
    const junk = await statuses(12, (i) => ({
      url: i % 2 ? "/api/usage?groupBy=sandbox" : "/api/v1/sandbox/usage?start_time=0",
      headers: i % 3 === 0 ? { "x-api-key": `usk_fresh${i}_${"x".repeat(43)}` } : i % 3 === 1 ? bearer(`junk-${i}`) : { "x-forwarded-for": `192.0.2.${i}` },
      ...from("10.0.1.1"),
    }));
    expect(junk).toEqual([...Array(MAX).fill(401), ...Array(12 - MAX).fill(429)]);
    // Another address has its own budget; the limited one is answered in each surface's envelope.
    expect((await t.app.inject({ url: "/api/tags", ...from("10.0.1.2") })).statusCode).toBe(401);
    const oc = await t.app.inject({ url: "/api/tags", headers: { "x-api-key": "usk_more" }, ...from("10.0.1.1") });
    expect([oc.statusCode, oc.json()]).toEqual([429, { error: expect.stringMatching(/Rate limit exceeded/) }]);
    expect(Number(oc.headers["retry-after"])).toBeGreaterThan(0);
    const mka1 = await t.app.inject({ url: "/api/v1/sandbox/usage?start_time=0", headers: bearer("usk_more"), ...from("10.0.1.1") });
    expect([mka1.statusCode, mka1.json()]).toEqual([429, { detail: expect.stringMatching(/Rate limit exceeded/) }]);
  });

  it("an address out of budget costs no key lookup, and a key already known still gets its own budget there", async () => {
    const known = await t.key("acme", "c", ["read"]);
    expect((await t.app.inject({ url: "/api/tags", headers: { "x-api-key": known }, ...from("10.0.2.9") })).statusCode).toBe(200);
    const spent = await statuses(MAX, (i) => ({ url: "/api/tags", headers: { "x-api-key": `usk_spend${i}_${"y".repeat(43)}` }, ...from("10.0.2.1") }));
    expect(spent).toEqual(Array(MAX).fill(401));
    const commands = recordCommands(t.mongo.client);
    try {
      const more = await statuses(20, (i) => ({ url: "/api/tags", headers: { "x-api-key": `usk_more${i}_${"z".repeat(43)}` }, ...from("10.0.2.1") }));
      expect(more).toEqual(Array(20).fill(429));
      expect(commands.count("find", "api_keys")).toBe(0);
      // The key seen a moment ago is authenticated without a lookup and spends its own budget.
      expect((await t.app.inject({ url: "/api/tags", headers: { "x-api-key": known }, ...from("10.0.2.1") })).statusCode).toBe(200);
    } finally {
      commands.stop();
    }
  });
});

describe("GraphQL depth and cost limits", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ label: "gqllimits", env: { GRAPHQL_MAX_DEPTH: "4", GRAPHQL_MAX_COST: "60" } });
    key = await t.key("acme", "a", ["read"]);
  });
  afterAll(() => t.close());

  it("refuses an operation nested deeper than GRAPHQL_MAX_DEPTH before running it", async () => {
    const deep = `{ sandbox(id: "x") { memoryUsage { totals { memoryAllocatedGbSeconds } } } }`; // 4 levels: fine
    expect((await t.graphql(deep, {}, { "x-api-key": key })).body.errors).toBeUndefined();
    const deeper = `{ viewer { organization { usageRollup { results { key } } } } }`; // 5 levels
    const res = await t.graphql(deeper, {}, { "x-api-key": key });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(res.body.errors?.[0]?.message).toMatch(/depth/i);
  });

  it("refuses an operation whose cost exceeds GRAPHQL_MAX_COST (aliases multiply it)", async () => {
    // Each rollup is a database aggregation, @cost(weight: 20), plus its object: 4 × 21 = 84 > 60.
    const aliases = Array.from({ length: 4 }, (_, i) => `a${i}: usageRollup { periodStart }`).join(" ");
    const res = await t.graphql(`{ ${aliases} }`, {}, { "x-api-key": key });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.message).toMatch(/cost/i);
  });

  it("leaves introspection (Apollo Sandbox) alone", async () => {
    const res = await t.graphql(`{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }`);
    expect(res.body.errors).toBeUndefined();
  });
});
