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
