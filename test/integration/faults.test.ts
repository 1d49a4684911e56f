/**
 * The database going away mid-run and coming back: requests fail fast with 503 in their envelope,
 * /readyz says not ready, ingest is refused and nothing is half-written, and the service resumes by
 * itself when the database returns; a batch retried after recovery counts exactly once.
 *
 * The service runs as `npm start` does (startService with MONGODB_URI) against an embedded server
 * started separately with a data directory, which the test stops and restarts on the same port.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type EmbeddedMongo, startEmbeddedMongo } from "../../src/embedded/index.js";
import { type RunningService, startService } from "../../src/runtime.js";
import { BOOTSTRAP_KEY } from "../helpers/app.js";
import { operation, start, stop } from "../helpers/events.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response): Promise<any> => res.json();

const BATCH_BEFORE = [start("f1", "2026-05-20T10:00:00Z", { sandbox_id: "sb-f" }), stop("f1", "2026-05-20T11:00:00Z", { sandbox_id: "sb-f" })];
const BATCH_DURING = Array.from({ length: 50 }, (_, i) => operation("f1", "command", `2026-05-20T10:${String(i).padStart(2, "0")}:00Z`, { sandbox_id: "sb-f" }));

describe("the database goes away and comes back", () => {
  let dir: string;
  let mongo: EmbeddedMongo;
  let service: RunningService;
  let key: string;

  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${service.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  const ingest = (events: unknown[]) => call("/api/v1/usage/events", { method: "POST", body: JSON.stringify({ events }) });
  const operations = async () => {
    const res = await call("/api/v1/sandbox/usage?start_time=1779235200&end_time=1779321600&bucket_width=1d");
    return (await json(res)).data[0].results[0].num_operations as number;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "usage-faults-"));
    mongo = await startEmbeddedMongo({ dataDir: dir });
    service = await startService(
      loadConfig({ MONGODB_URI: mongo.uri, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, RATE_LIMIT_MAX: "0" }),
    );
    const created = await fetch(`${service.url}/api/v1/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ org_id: "faults", user_id: "alice", scopes: ["read", "ingest"] }),
    });
    key = (await json(created)).key;
    expect((await json(await ingest(BATCH_BEFORE))).accepted).toBe(2);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await mongo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("while it is away: 503 fast in each envelope, /readyz not ready, ingest refused", async () => {
    await mongo.stop();
    const t0 = Date.now();
    const miosa = await call("/api/v1/usage");
    expect(miosa.status).toBe(503);
    expect(await miosa.json()).toEqual({ error: { code: "service_unavailable", message: expect.any(String) } });
    // Fail fast: the driver's server selection gives up after 3 s rather than hanging.
    expect(Date.now() - t0).toBeLessThan(8_000);

    const ready = await fetch(`${service.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "unavailable" });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);

    const refused = await ingest(BATCH_DURING);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ detail: expect.any(String) });

    const gql = await call("/graphql", { method: "POST", body: JSON.stringify({ query: "{ usageRollup { periodStart } }" }) });
    expect(gql.status).toBe(503);
    expect((await json(gql)).errors[0].extensions.code).toBe("SERVICE_UNAVAILABLE");
  }, 60_000);

  it("when it returns: ready again by itself, nothing half-written, the retried batch counts once", async () => {
    mongo = await startEmbeddedMongo({ port: mongo.port, dataDir: dir });
    // The journal brought back what was acknowledged before the outage (keys, the first batch).
    expect(mongo.replayed).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${service.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error("the service did not become ready again");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Only the session's start and stop: the refused batch left nothing behind.
    expect(await operations()).toBe(2);
    const retried = await ingest(BATCH_DURING);
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ accepted: 50, duplicates: 0 });
    // A client that did not see the answer retries again: nothing is counted twice.
    expect(await json(await ingest(BATCH_DURING))).toEqual({ accepted: 0, duplicates: 50 });
    expect(await operations()).toBe(52);
  }, 60_000);
});
