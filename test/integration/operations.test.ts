/**
 * What an operator relies on (DESIGN §13): `GET /metrics` in Prometheus format, from loopback or
 * with METRICS_TOKEN; CORS for the configured origins only, preflight included; and the landing
 * page at `/` with the docs it links to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { start } from "../helpers/events.js";

const STUDIO = "https://studio.apollographql.com";

/** One sample's value from Prometheus text (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe("GET /metrics", () => {
  let t: TestApp;
  let ingestKey: string;
  beforeAll(async () => {
    t = await startTestApp({ label: "metrics", monitorCommands: true });
    ingestKey = await t.key("acme", "alice", ["ingest", "read"]);
  });
  afterAll(() => t.close());

  const metrics = async () => {
    const res = await t.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  it("counts requests by route pattern and status, with a latency histogram", async () => {
    for (const id of ["sb-1", "sb-2"]) await t.app.inject({ method: "GET", url: `/api/sandboxes/${id}/usage`, headers: { "x-api-key": ingestKey } });
    await t.app.inject({ method: "GET", url: "/api/v1/org/acme/sandboxes/usage" });
    const text = await metrics();
    // Both (unknown, so 404) sandboxes under one pattern: ids never become label values.
    expect(sample(text, "http_requests_total", { method: "GET", route: "/api/sandboxes/:id/usage", status: "404" })).toBe(2);
    expect(sample(text, "http_requests_total", { method: "GET", route: "/api/v1/org/:org/sandboxes/usage", status: "401" })).toBe(1);
    expect(sample(text, "http_request_duration_seconds_count", { route: "/api/sandboxes/:id/usage", status: "404" })).toBe(2);
    expect(sample(text, "http_request_duration_seconds_bucket", { route: "/api/sandboxes/:id/usage", status: "404", le: "+Inf" })).toBe(2);
    expect(text).not.toContain("sb-1");
  });

  it("counts events accepted and duplicated, over REST and GraphQL alike", async () => {
    const events = [start("m1", "2026-05-20T10:00:00Z"), start("m2", "2026-05-20T10:01:00Z")];
    const post = () =>
      t.app.inject({ method: "POST", url: "/api/v1/usage/events", headers: { ...bearer(ingestKey), "content-type": "application/json" }, payload: { events } });
    expect((await post()).json()).toEqual({ accepted: 2, duplicates: 0 });
    expect((await post()).json()).toEqual({ accepted: 0, duplicates: 2 });
    const gql = await t.graphql(
      `mutation Ingest { recordUsageEvents(events: [{ id: "m3", type: SANDBOX_MEMORY, timestamp: "2026-05-20T10:02:00Z", sandboxId: "sb-1", usedMemoryMb: 100 }]) { accepted } }`,
      undefined,
      bearer(ingestKey),
    );
    expect(gql.body.data!.recordUsageEvents.accepted).toBe(1);
    const text = await metrics();
    expect(sample(text, "usage_events_total", { outcome: "accepted" })).toBe(3);
    expect(sample(text, "usage_events_total", { outcome: "duplicate" })).toBe(2);
    // Declared for the features that increment them (voids, budget webhooks), so dashboards can be built now.
    expect(text).toContain("# TYPE webhook_deliveries_total counter");
  });

  it("counts GraphQL operations by name and outcome", async () => {
    await t.graphql("query WhoAmI { viewer { keyId } }", undefined, bearer(ingestKey));
    await t.graphql("query WhoAmI { viewer { keyId } }");
    await t.graphql("{ viewer { keyId } }", undefined, bearer(ingestKey));
    const text = await metrics();
    expect(sample(text, "graphql_operations_total", { operation: "WhoAmI", outcome: "success" })).toBe(1);
    expect(sample(text, "graphql_operations_total", { operation: "WhoAmI", outcome: "UNAUTHENTICATED" })).toBe(1);
    expect(sample(text, "graphql_operations_total", { operation: "anonymous", outcome: "success" })).toBe(1);
    expect(sample(text, "graphql_operations_total", { operation: "Ingest", outcome: "success" })).toBe(1);
  });

  it("keeps caller-chosen operation names bounded", () => {
    const m = t.deps.metrics;
    for (let i = 0; i < 500; i++) m.operationLabel(`Op${i}`);
    expect(m.operationLabel("YetAnother")).toBe("other");
  });

  it("times database commands from the driver's command monitoring", async () => {
    const text = await metrics();
    expect(sample(text, "mongodb_command_duration_seconds_count", { command: "insert", outcome: "ok" })).toBeGreaterThan(0);
    expect(sample(text, "mongodb_command_duration_seconds_count", { command: "find", outcome: "ok" })).toBeGreaterThan(0);
  });

  it("refuses callers other than loopback when METRICS_TOKEN is unset", async () => {
    const res = await t.app.inject({ method: "GET", url: "/metrics", remoteAddress: "203.0.113.9" });
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain("http_requests_total");
  });

  it("with METRICS_TOKEN, needs the token from every address, loopback included", async () => {
    const token = "metrics-token-0123456789";
    const u = await startTestApp({ mongo: t.mongo, env: { METRICS_TOKEN: token } });
    try {
      const remote = await u.app.inject({ method: "GET", url: "/metrics", remoteAddress: "203.0.113.9", headers: bearer(token) });
      expect(remote.statusCode).toBe(200);
      expect(remote.body).toContain("http_requests_total");
      expect((await u.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
      expect((await u.app.inject({ method: "GET", url: "/metrics", headers: bearer("wrong-token-0123456789") })).statusCode).toBe(401);
    } finally {
      await u.close();
    }
  });
});

describe("CORS", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: "cors", env: { CORS_ORIGINS: `${STUDIO}, https://dash.example.com` } });
  });
  afterAll(() => t.close());

  it.each(["/graphql", "/api/v1/sandbox/usage", "/api/usage", "/api/v1/api-keys"])("answers a preflight to %s for an allowed origin", async (url) => {
    const res = await t.app.inject({
      method: "OPTIONS",
      url,
      headers: { origin: STUDIO, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,x-api-key" },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe(STUDIO);
    expect(String(res.headers["access-control-allow-methods"])).toContain("POST");
    expect(String(res.headers["access-control-allow-headers"]).toLowerCase()).toContain("authorization");
  });

  it("allows the actual request from an allowed origin, on GraphQL and REST", async () => {
    const key = await t.key("acme", "alice", ["read"]);
    const gql = await t.app.inject({ method: "POST", url: "/graphql", headers: { origin: "https://dash.example.com", "content-type": "application/json", ...bearer(key) }, payload: { query: "{ viewer { keyId } }" } });
    expect(gql.statusCode).toBe(200);
    expect(gql.headers["access-control-allow-origin"]).toBe("https://dash.example.com");
    const rest = await t.app.inject({ method: "GET", url: "/api/v1/org/acme/sandboxes/usage", headers: { origin: STUDIO, ...bearer(key) } });
    expect(rest.statusCode).toBe(200);
    expect(rest.headers["access-control-allow-origin"]).toBe(STUDIO);
  });

  it("gives any other origin no allow header, on preflight and request alike", async () => {
    const pre = await t.app.inject({ method: "OPTIONS", url: "/graphql", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
    const res = await t.app.inject({ method: "GET", url: "/healthz", headers: { origin: "https://evil.example" } });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("defaults to Apollo Studio's origin", async () => {
    const u = await startTestApp({ mongo: t.mongo });
    try {
      const pre = await u.app.inject({ method: "OPTIONS", url: "/graphql", headers: { origin: STUDIO, "access-control-request-method": "POST" } });
      expect(pre.headers["access-control-allow-origin"]).toBe(STUDIO);
      const other = await u.app.inject({ method: "OPTIONS", url: "/graphql", headers: { origin: "https://dash.example.com", "access-control-request-method": "POST" } });
      expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      await u.close();
    }
  });
});

describe("the landing page and docs", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: "landing" });
  });
  afterAll(() => t.close());

  it("serves HTML at / linking GraphQL, every doc, health, and saying Sandbox needs Apollo's CDN", async () => {
    const res = await t.app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    const links = [...res.body.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(links).toEqual(expect.arrayContaining(["/graphql", "/healthz", "/readyz", "/docs/api.md", "/docs/operations.md", "/docs/supergraph.md", "/docs/benchmarks.md"]));
    expect(res.body).toMatch(/Apollo's CDN/);
    // Every link on the page answers.
    for (const href of links) {
      const linked = await t.app.inject({ method: "GET", url: href, headers: { accept: "text/html" } });
      expect(linked.statusCode, href).toBeLessThan(400);
    }
  });

  it("serves the docs as text and nothing else under /docs", async () => {
    const api = await t.app.inject({ method: "GET", url: "/docs/api.md" });
    expect(api.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(api.body).toMatch(/^# /);
    for (const url of ["/docs/..%2Fpackage.json", "/docs/README.md", "/docs/%2e%2e%2fREADME.md"]) {
      expect((await t.app.inject({ method: "GET", url })).statusCode, url).toBe(404);
    }
  });
});
