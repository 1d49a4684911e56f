/**
 * `npm start` with EMBEDDED_DATA_DIR keeps its data: across a clean restart of the service (in
 * process, as runtime.ts starts it) and across a `kill -9` of `node src/index.ts` (a child process).
 * Keys, events, derived sessions and tags all come back, and answers are the same numbers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startService } from "../../src/runtime.js";
import { freePort } from "../../scripts/processes.js";
import { BOOTSTRAP_KEY } from "../helpers/app.js";
import { memorySample, start, stop } from "../helpers/events.js";

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), "usage-durable-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const EVENTS = [
  start("d1", "2026-05-20T10:00:00Z", { sandbox_id: "sb-d", vcpus: 2, external_user_id: "cust-1", tags: { team: "core" } }),
  stop("d1", "2026-05-20T11:00:00Z", { sandbox_id: "sb-d" }),
  memorySample("sb-d", "2026-05-20T10:00:30Z", 512),
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response): Promise<any> => res.json();

/** What the tests compare before and after: a MIOSA rollup and an OpenComputer series. */
async function answers(url: string, key: string) {
  const miosa = await json(await fetch(`${url}/api/v1/usage?period=custom&start=2026-05-20&end=2026-05-21`, { headers: { authorization: `Bearer ${key}` } }));
  const memory = await json(await fetch(`${url}/api/sandboxes/sb-d/usage?from=2026-05-20T10:00:00Z&to=2026-05-20T10:05:00Z`, { headers: { "x-api-key": key } }));
  return { miosa, memory };
}

async function seed(url: string): Promise<string> {
  const created = await fetch(`${url}/api/v1/api-keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ org_id: "durable", user_id: "alice", scopes: ["read", "ingest"] }),
  });
  const { key } = await json(created);
  const res = await fetch(`${url}/api/v1/usage/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ events: EVENTS }),
  });
  expect(await json(res)).toEqual({ accepted: 3, duplicates: 0 });
  return key as string;
}

/** 2 vCPU for one hour: 7,200 sandbox vCPU-s, at the default 5¢ per vCPU-hour: 10¢. */
const EXPECTED_ROLLUP = { results: [{ external_user_id: "cust-1", sandbox_seconds: 7200, computer_seconds: 0, storage_gb_hours: 0, credit_cents: 10 }] };

describe("EMBEDDED_DATA_DIR", () => {
  it("keeps keys, usage and answers across a restart of the service", async () => {
    const dir = dataDir();
    const env = { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, DEMO_DATA: "false", EMBEDDED_DATA_DIR: dir };
    const first = await startService(loadConfig(env));
    const key = await seed(first.url);
    const before = await answers(first.url, key);
    expect(before.miosa).toMatchObject(EXPECTED_ROLLUP);
    expect(before.memory.totals).toMatchObject({ memoryAllocatedGbSeconds: 300, uptimeSeconds: 300 });
    await first.stop();

    const second = await startService(loadConfig({ ...env, DEMO_DATA: "true" }));
    try {
      expect(second.embedded?.replayed).toBeGreaterThan(0);
      expect(second.demo).toBeNull(); // no demo data over a replayed server
      expect(await answers(second.url, key)).toEqual(before);
      const tags = await json(await fetch(`${second.url}/api/sandboxes/sb-d/tags`, { headers: { "x-api-key": key } }));
      expect(tags.tags).toEqual({ team: "core" });
    } finally {
      await second.stop();
    }
  }, 60_000);

  it("keeps every acknowledged write across a kill -9 of npm start's process", async () => {
    const dir = dataDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, DEMO_DATA: "false", EMBEDDED_DATA_DIR: dir, MONGODB_URI: "" };
    const first = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env, stdio: "ignore" });
    try {
      await waitReady(url, first);
      const key = await seed(url);
      const before = await answers(url, key);
      expect(before.miosa).toMatchObject(EXPECTED_ROLLUP);
      await kill9(first);

      const second = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env, stdio: "ignore" });
      try {
        await waitReady(url, second);
        expect(await answers(url, key)).toEqual(before);
        // Re-sending the batch after the crash counts nothing twice.
        const resend = await fetch(`${url}/api/v1/usage/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ events: EVENTS }),
        });
        expect(await json(resend)).toEqual({ accepted: 0, duplicates: 3 });
      } finally {
        await kill9(second);
      }
    } finally {
      if (first.exitCode === null && first.signalCode === null) await kill9(first);
    }
  }, 90_000);
});

describe("a kill -9 in the middle of ingests", () => {
  it("leaves raw and rollup answers agreeing, and the client's retry completes what was not acknowledged", async () => {
    const dir = dataDir();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const base = { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, DEMO_DATA: "false", EMBEDDED_DATA_DIR: dir, MONGODB_URI: "" };
    const run = (extra: Record<string, string> = {}) => spawn(process.execPath, ["--import", "tsx", "src/index.ts"], { env: { ...base, ...extra }, stdio: "ignore" });
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 2000 }, (_, i) => ({
        id: `k${b}-${i}`, type: "sandbox.operation", timestamp: new Date(Date.parse("2026-05-20T10:00:00Z") + (b * 2000 + i) * 1_000).toISOString(),
        sandbox_id: `sb-${i % 7}`, session_id: `s-${i % 13}`, user_id: `u-${i % 3}`, provider: "aws", session_kind: "standard", operation: "command", request_count: 1 + (i % 5),
      })),
    );
    const mka1 = async (key: string) =>
      json(await fetch(`${url}/api/v1/sandbox/usage?start_time=${Date.parse("2026-05-20T00:00:00Z") / 1000}&end_time=${Date.parse("2026-05-21T00:00:00Z") / 1000}&bucket_width=1h&group_by=user_id`, { headers: { authorization: `Bearer ${key}` } }));
    const first = run();
    let key = "";
    const acknowledged = new Set<number>();
    try {
      await waitReady(url, first);
      key = await seed(url);
      // All six in flight; the process dies as soon as the first is acknowledged.
      const sends = batches.map((events, b) =>
        fetch(`${url}/api/v1/usage/events`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ events }) })
          .then((r) => (r.status === 200 ? acknowledged.add(b) : undefined))
          .catch(() => undefined),
      );
      await Promise.race(sends);
      await kill9(first);
      await Promise.all(sends);
    } finally {
      await kill9(first);
    }
    expect(acknowledged.size).toBeLessThan(batches.length);
    // After the crash: the rollup-reading and the raw-reading service answer the same.
    const answersFrom = async (extra: Record<string, string>) => {
      const child = run(extra);
      try {
        await waitReady(url, child);
        return await mka1(key);
      } finally {
        await kill9(child);
      }
    };
    const fromRollups = await answersFrom({});
    expect(await answersFrom({ USAGE_SOURCE: "raw" })).toEqual(fromRollups);
    // The client retries every batch: acknowledged ones are all duplicates, the rest complete.
    const again = run();
    try {
      await waitReady(url, again);
      let stored = 0;
      for (const [b, events] of batches.entries()) {
        const r = await json(await fetch(`${url}/api/v1/usage/events`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ events }) }));
        if (acknowledged.has(b)) expect(r).toEqual({ accepted: 0, duplicates: 2000 });
        stored += r.accepted + r.duplicates;
      }
      expect(stored).toBe(12_000);
      const total = (await mka1(key)).data.reduce((n: number, bucket: { results: Array<{ num_operations: number }> }) => n + bucket.results.reduce((m, x) => m + x.num_operations, 0), 0);
      expect(total).toBe(12_000 + 2);
    } finally {
      await kill9(again);
    }
  }, 180_000);
});

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error("the service did not become ready");
    await new Promise((r) => setTimeout(r, 200));
  }
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}
