/**
 * Limits: per-key rate limiting (429 with Retry-After, in each surface's envelope), and GraphQL
 * operations refused before they run when too deep or too costly.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";

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
