/**
 * The HTTP server as operated (DESIGN §5, §7): health and readiness, behaviour with the database
 * gone, the Sandbox landing page, request ids, the federation SDL, configuration errors, and an
 * orderly shutdown that lets in-flight requests finish.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, type IncomingHttpHeaders, request as httpRequest } from "node:http";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "../../src/auth/keys.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { connectDatabase, type Database } from "../../src/db/connect.js";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../src/embedded/index.js";
import { startService } from "../../src/runtime.js";
import { Metrics } from "../../src/metrics.js";
import { PageTokens } from "../../src/paging.js";
import { type BuiltServer, buildServer } from "../../src/server.js";
import { BOOTSTRAP_KEY, bearer, startTestApp, type TestApp } from "../helpers/app.js";

/** The project root (/work/main): child processes run there, as `npm start` would. */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const VIEWER = "{ viewer { keyId organization { id } } }";

/** A port nothing listens on: bind to 0, read it, release it. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Whether a TCP connection to the port succeeds (false on ECONNREFUSED). */
function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("HTTP server", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ label: "server" });
  });
  afterAll(() => t.close());

  it("/healthz answers 200 {status: ok}", async () => {
    const res = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("/readyz answers 200 while the database answers", async () => {
    const res = await t.app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ready" });
  });

  it("serves the Apollo Sandbox landing page on GET /graphql for a browser", async () => {
    const res = await t.app.inject({ method: "GET", url: "/graphql", headers: { accept: "text/html" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    // ApolloServerPluginLandingPageLocalDefault({embed: true}) renders the embeddable Sandbox.
    expect(res.body).toMatch(/embeddable-?sandbox/i);
  });

  it("echoes a sane X-Request-Id", async () => {
    const res = await t.app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": "req-abc.123:xyz" } });
    expect(res.headers["x-request-id"]).toBe("req-abc.123:xyz");
  });

  it("generates a UUID X-Request-Id when none is given", async () => {
    const a = await t.app.inject({ method: "GET", url: "/healthz" });
    const b = await t.app.inject({ method: "GET", url: "/healthz" });
    expect(a.headers["x-request-id"]).toMatch(UUID);
    expect(b.headers["x-request-id"]).toMatch(UUID);
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
  });

  it.each([
    ["with spaces", "has spaces in it"],
    ["too long (over 128 characters)", "a".repeat(129)],
    ["with header-injection characters", "abc<script>"],
  ])("replaces an X-Request-Id %s with a UUID", async (_name, given) => {
    const res = await t.app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": given } });
    expect(res.headers["x-request-id"]).toMatch(UUID);
  });

  it("sets X-Request-Id on GraphQL and REST error answers too", async () => {
    const gql = await t.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json", "x-request-id": "r-gql" }, payload: { query: VIEWER } });
    expect(gql.headers["x-request-id"]).toBe("r-gql");
    const rest = await t.app.inject({ method: "POST", url: "/api/v1/api-keys", headers: { "x-request-id": "r-401" } });
    expect(rest.statusCode).toBe(401);
    expect(rest.headers["x-request-id"]).toBe("r-401");
  });

  it("answers an unknown route with 404 JSON", async () => {
    const res = await t.app.inject({ method: "GET", url: "/no/such/route" });
    expect(res.statusCode).toBe(404);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ detail: "Not Found" });
  });

  it("serves the federation SDL at _service { sdl } without a key", async () => {
    const res = await t.graphql("{ _service { sdl } }");
    expect(res.body.errors).toBeUndefined();
    const sdl: string = res.body.data!._service.sdl;
    expect(sdl).toContain('@key(fields: "id")');
    expect(sdl).toMatch(/@link\(\s*url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
    // The printer puts each directive on its own line: match across whitespace.
    expect(sdl).toMatch(/type Organization\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });

  it("resolves Organization entities for the router via _entities", async () => {
    const res = await t.graphql('{ _entities(representations: [{__typename: "Organization", id: "acme"}]) { ... on Organization { id } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!._entities).toEqual([{ id: "acme" }]);
  });
});

describe("with the database stopped", () => {
  // A dedicated embedded server, never TEST_MONGODB_URI: this test stops it.
  let embedded: EmbeddedMongo;
  let database: Database;
  let built: BuiltServer;
  let key: string;

  beforeAll(async () => {
    embedded = await startEmbeddedMongo();
    const config = loadConfig({ LOG_LEVEL: "silent", DEMO_DATA: "false" });
    database = await connectDatabase(embedded.uri, "stopped_db_test");
    built = await buildServer({ config, ...database, clock: systemClock, pageTokens: new PageTokens(undefined), metrics: new Metrics() });
    await built.app.ready();
    // Created while the database is up, so the GraphQL request below must look it up.
    key = (await createApiKey(database.cols, { org_id: "acme", user_id: "alice", scopes: ["read"], cluster_admin: false }, "test")).key;
    const before = await built.app.inject({ method: "GET", url: "/readyz" });
    expect(before.statusCode).toBe(200);
    const viewer = await built.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json", ...bearer(key) }, payload: { query: VIEWER } });
    expect(viewer.json().data.viewer.organization.id).toBe("acme");
    await embedded.stop();
  });
  afterAll(async () => {
    await built.app.close();
    await database.client.close();
    await embedded.stop();
  });

  it("/readyz answers 503 promptly instead of hanging", async () => {
    const t0 = Date.now();
    const res = await built.app.inject({ method: "GET", url: "/readyz" });
    const ms = Date.now() - t0;
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: "unavailable" });
    // The readiness ping has a 1 s budget; 3 s leaves room for a slow machine.
    expect(ms).toBeLessThan(3_000);
  });

  it("/healthz still answers 200: the process is alive, only readiness fails", async () => {
    const res = await built.app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
  });

  it("a GraphQL query answers HTTP 503 with SERVICE_UNAVAILABLE", async () => {
    const t0 = Date.now();
    const res = await built.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json", ...bearer(key) }, payload: { query: '{ sandboxUsageSummary(org: "acme") { sessionsCount } }' } });
    const ms = Date.now() - t0;
    expect(res.statusCode).toBe(503);
    expect(res.json().errors[0].extensions.code).toBe("SERVICE_UNAVAILABLE");
    // connectDatabase sets serverSelectionTimeoutMS to 3 s: the answer must not wait much longer.
    expect(ms).toBeLessThan(5_000);
  });

  it("a key it cannot look up is 503, not 401: the database, not the key, is at fault", async () => {
    const res = await built.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json", ...bearer("usk_unknown_0000000000000000000000000000") }, payload: { query: VIEWER } });
    expect(res.statusCode).toBe(503);
    expect(res.json().errors[0].extensions.code).toBe("SERVICE_UNAVAILABLE");
  });
});

type Launcher = "npx" | "node";

/**
 * Starts src/index.ts as its own process, collecting its output.
 * - "npx": `npx tsx src/index.ts`, as documented. npm's exec wrapper does not forward SIGTERM (it
 *   dies by the signal and orphans the server), so it is used only where no signal is sent.
 * - "node": `node --import tsx src/index.ts`, what `npm start` runs: one process, so a signal
 *   reaches the service with no relay.
 */
function spawnService(env: Record<string, string>, launcher: Launcher): { child: ChildProcess; out: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const base = { ...process.env };
  // As on a fresh machine: no database URI (so the embedded server runs), and not vitest's
  // NODE_ENV=test (Apollo Server only installs its own SIGTERM handling outside tests).
  delete base.MONGODB_URI;
  delete base.NODE_ENV;
  const [cmd, args] =
    launcher === "npx" ? ["npx", ["tsx", "src/index.ts"]] : [process.execPath, ["--import", "tsx", "src/index.ts"]];
  // Its own process group, so cleanup can kill the wrappers and the server together.
  const child = spawn(cmd, args as string[], { cwd: ROOT, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out, exited };
}

/** After a test: SIGKILL whatever is left of the process group (a failed test must not leak servers). */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** A plain request over node:http with the given agent (keep-alive or not), body as JSON. */
function request(url: string, agent: Agent, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: opts.method ?? "GET", agent, headers: { ...opts.headers, ...(payload !== undefined && { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }) } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function waitHealthy(port: number, out: { stdout: string; stderr: string }): Promise<void> {
  // A fresh connection per poll, so no idle keep-alive connection is left behind.
  const agent = new Agent({ keepAlive: false });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await request(`http://127.0.0.1:${port}/healthz`, agent).then((r) => r.status === 200, () => false);
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`never became healthy:\n${out.stdout}\n${out.stderr}`);
}

/** 2000 valid operation events; the bootstrap key belongs to no org, so each names one. */
const events = (prefix: string) =>
  Array.from({ length: 2000 }, (_, i) => ({
    id: `${prefix}-${i}`,
    type: "sandbox.operation",
    timestamp: "2026-05-27T10:00:00Z",
    org_id: "acme",
    sandbox_id: "sb-1",
    session_id: `sess-${i % 50}`,
    user_id: "u-1",
    provider: "aws",
    session_kind: "standard",
    operation: "command",
  }));

// Independent processes on their own ports: run side by side to keep the file quick.
describe.concurrent("the process (src/index.ts)", () => {
  it("shuts down on SIGTERM with exit code 0 and stops listening", async ({ expect }) => {
    const port = await freePort();
    const svc = spawnService({ PORT: String(port), DEMO_DATA: "false", LOG_LEVEL: "info" }, "node");
    try {
      await waitHealthy(port, svc.out);
      const t0 = Date.now();
      svc.child.kill("SIGTERM");
      const code = await Promise.race([svc.exited, sleep(10_000).then(() => "still running after 10 s")]);
      expect(code, svc.out.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(svc.out.stdout).toContain('"msg":"shutting down"');
      expect(await accepts(port)).toBe(false);
    } finally {
      killGroup(svc.child);
    }
  });

  // Regression (fails at commit b94e1c7): with only forceCloseConnections: "idle", a keep-alive
  // connection busy when shutdown starts stays open after its answer, so the process waited for
  // Apollo's 10 s drain fallback (or Fastify's 72 s keep-alive timeout under NODE_ENV=test). A
  // router keeps its connections alive, so every rollout paid this.
  it("on SIGTERM, finishes an in-flight ingest over a keep-alive connection and exits promptly", async ({ expect }) => {
    const port = await freePort();
    const svc = spawnService({ PORT: String(port), DEMO_DATA: "false", LOG_LEVEL: "info", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY }, "node");
    const agent = new Agent({ keepAlive: true });
    try {
      await waitHealthy(port, svc.out);
      const ingest = request(`http://127.0.0.1:${port}/api/v1/usage/events`, agent, { method: "POST", headers: bearer(BOOTSTRAP_KEY), body: { events: events("sig") } });
      // Send the signal once the service has logged the request's arrival: validating and storing
      // 2000 events then takes a few hundred ms more, so the signal lands mid-request.
      const deadline = Date.now() + 5_000;
      while (!svc.out.stdout.includes('"url":"/api/v1/usage/events"') && Date.now() < deadline) await sleep(5);
      const t0 = Date.now();
      svc.child.kill("SIGTERM");
      const res = await ingest;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ accepted: 2000, duplicates: 0 });
      const code = await Promise.race([svc.exited, sleep(5_000).then(() => "still running 5 s after SIGTERM")]);
      expect(code, svc.out.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      agent.destroy();
      killGroup(svc.child);
    }
  });

  it("exits 1 on bad configuration, naming every bad variable in one message", async ({ expect }) => {
    const svc = spawnService({ PORT: "abc", LOG_LEVEL: "loud", MONGODB_URI: "http://x" }, "npx");
    // It must exit by itself, before starting anything: bound the wait rather than hang the file.
    const code = await Promise.race([svc.exited, sleep(20_000).then(() => "still running after 20 s")]);
    killGroup(svc.child);
    expect(code, svc.out.stderr).toBe(1);
    // loadConfig reports all problems together as "Invalid configuration:" followed by one line each.
    const at = svc.out.stderr.indexOf("Invalid configuration:");
    expect(at, svc.out.stderr).toBeGreaterThanOrEqual(0);
    const message = svc.out.stderr.slice(at);
    for (const name of ["PORT", "LOG_LEVEL", "MONGODB_URI"]) expect(message).toMatch(new RegExp(`^\\s+- ${name}:`, "m"));
    // It fails before listening or starting a database, so nothing is printed as started.
    expect(svc.out.stdout).not.toMatch(/listening|ready/i);
  });
});

describe("startService().stop()", () => {
  const start = () => startService(loadConfig({ PORT: "0", HOST: "127.0.0.1", DEMO_DATA: "false", LOG_LEVEL: "silent", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY }));

  /** Sends the 2000-event ingest and calls stop() once the server has the request in hand. */
  async function stopDuringIngest(agent: Agent) {
    const service = await start();
    const port = Number(new URL(service.url).port);
    expect(port).toBeGreaterThan(0);
    // No MONGODB_URI was given, so the service started its own embedded server.
    expect(service.embedded).not.toBeNull();
    const arrived = new Promise<void>((resolve) => service.app.server.once("request", () => resolve()));
    const ingest = request(`${service.url}/api/v1/usage/events`, agent, { method: "POST", headers: bearer(BOOTSTRAP_KEY), body: { events: events(`stop-${port}`) } });
    await arrived;
    const t0 = Date.now();
    const stopped = service.stop();
    let done = false;
    void stopped.then(() => (done = true));
    return { service, port, ingest, stopped, t0, isDone: () => done };
  }

  it("lets an in-flight ingest finish, then refuses connections", async () => {
    const agent = new Agent({ keepAlive: false });
    const { port, ingest, stopped } = await stopDuringIngest(agent);
    const res = await ingest;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ accepted: 2000, duplicates: 0 });
    await stopped;
    expect(await accepts(port)).toBe(false);
  });

  // Regression, same cause as the SIGTERM test above: with a keep-alive client (Node's fetch, a
  // router) stop() waited until the client hung up or Fastify's 72 s keepAliveTimeout expired.
  it("does not wait out the keep-alive timeout once the in-flight request is answered", async () => {
    const agent = new Agent({ keepAlive: true });
    const { port, ingest, stopped, t0, isDone } = await stopDuringIngest(agent);
    try {
      const res = await ingest;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ accepted: 2000, duplicates: 0 });
      await Promise.race([stopped, sleep(5_000)]);
      expect(isDone(), `stop() still pending ${Date.now() - t0} ms after it was called`).toBe(true);
      expect(await accepts(port)).toBe(false);
    } finally {
      // Hanging up lets a stuck stop() complete, so nothing leaks into other tests.
      agent.destroy();
      await stopped;
    }
  });
});
