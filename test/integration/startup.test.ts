/**
 * Starting and stopping the process as an operator does: failures an operator must fix (a busy
 * port, an unreachable database) are one line and exit 1, never a stack trace; `npm start` stops on
 * SIGTERM; and without demo keys (DEMO_DATA=false, or over replayed data) the banner still says
 * where the service listens and how to get a key, with a URI `npm run keys` really reaches.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/processes.js";
import { loadConfig } from "../../src/config.js";
import { StartupError, startService } from "../../src/runtime.js";
import { ROOT, spawnService } from "../helpers/service-process.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STACK_FRAME = /^\s+at /m;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function accepts(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
}

function keysCli(args: string[], mongodbUri: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, MONGODB_URI: mongodbUri };
  delete env.MONGODB_DB;
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "scripts/keys.ts", ...args], { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

describe.concurrent("start-up failures", () => {
  it("a busy port: one line naming the port, exit 1, before any demo data is loaded", async ({ expect }) => {
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((r) => squatter.listen(port, "127.0.0.1", () => r()));
    // Demo data on (the default): the port check must come first, so nothing is loaded or printed.
    const svc = spawnService({ PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info" });
    try {
      const code = await Promise.race([svc.exited, sleep(60_000).then(() => "still running after 60 s")]);
      expect(code, svc.out.stderr).toBe(1);
      expect(svc.out.stderr.trim().split("\n"), svc.out.stderr).toEqual([`Port ${port} on 127.0.0.1 is already in use: stop the process listening there, or set PORT to another port.`]);
      expect(svc.out.stderr).not.toMatch(STACK_FRAME);
      expect(svc.out.stdout).not.toMatch(/Demo data|events loaded|listening/);
    } finally {
      svc.kill();
      squatter.close();
    }
  });

  it("an unreachable MONGODB_URI: one line naming the database (password hidden), exit 1", async ({ expect }) => {
    const dead = await freePort();
    const svc = spawnService({ PORT: String(await freePort()), HOST: "127.0.0.1", MONGODB_URI: `mongodb://ops:s3cret@127.0.0.1:${dead}/?directConnection=true` });
    try {
      const code = await Promise.race([svc.exited, sleep(60_000).then(() => "still running after 60 s")]);
      expect(code, svc.out.stderr).toBe(1);
      const lines = svc.out.stderr.trim().split("\n");
      expect(lines, svc.out.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^Cannot use MongoDB at mongodb://ops:\\*\\*\\*@127\\.0\\.0\\.1:${dead}/.*ECONNREFUSED.*\\(MongoServerSelectionError\\)`));
      expect(svc.out.stderr).not.toContain("s3cret");
      expect(svc.out.stderr).not.toMatch(STACK_FRAME);
    } finally {
      svc.kill();
    }
  });

  it("a mongodb+srv:// name that does not resolve, or a malformed URI option, is a StartupError, not a stack", async ({ expect }) => {
    for (const uri of ["mongodb+srv://usage.invalid/", "mongodb://127.0.0.1:1/?tls=maybe"]) {
      const started = startService(loadConfig({ PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", MONGODB_URI: uri }));
      await expect(started).rejects.toBeInstanceOf(StartupError);
      await expect(started).rejects.toThrow(`Cannot use MongoDB at ${uri}: `);
    }
  });

  it("SIGTERM to the npm start process stops the service", async ({ expect }) => {
    const port = await freePort();
    const svc = spawnService({ PORT: String(port), HOST: "127.0.0.1", DEMO_DATA: "false" }, "npm");
    try {
      await svc.waitForOutput(/listening at http/);
      expect(await accepts(port)).toBe(true);
      // The signal goes to npm only, as a process manager or `kill <pid of npm>` sends it.
      svc.child.kill("SIGTERM");
      const code = await Promise.race([svc.exited, sleep(15_000).then(() => "npm still running 15 s after SIGTERM")]);
      expect(code === 0 || code === null, `${code}\n${svc.out.stderr}`).toBe(true);
      // npm has exited; the node process it ran must be gone too: nothing answers on the port.
      await sleep(500);
      expect(await accepts(port)).toBe(false);
    } finally {
      svc.kill();
    }
  });
});

describe("without demo keys", () => {
  it("prints the URL and a working way to get a key, also after a restart over replayed data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "usage-banner-"));
    dirs.push(dir);
    const port = await freePort();
    const env = { PORT: String(port), HOST: "127.0.0.1", EMBEDDED_DATA_DIR: dir, LOG_LEVEL: "warn" };

    const first = spawnService({ ...env, DEMO_DATA: "false" });
    let uri: string;
    try {
      const [, printed] = await first.waitForOutput(/MONGODB_URI=(mongodb:\/\/127\.0\.0\.1:\d+) npm run keys -- create/);
      uri = printed!;
      expect(first.out.stdout).toContain(`listening at http://127.0.0.1:${port}, on the embedded MongoDB at ${uri}`);
      expect(first.out.stdout).toContain("No keys are printed (DEMO_DATA=false)");
      expect(first.out.stdout).toContain("BOOTSTRAP_ADMIN_KEY");
      expect(first.out.stdout).toContain(`export USAGE_URL=http://127.0.0.1:${port}`);
      // The printed command, run as printed, reaches this service's database.
      const created = await keysCli(["create", "--org", "acme", "--user", "op", "--scopes", "read"], uri);
      expect(created.code, created.stderr).toBe(0);
      const key = /^key:\s+(\S+)$/m.exec(created.stdout)![1]!;
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/org/acme/sandboxes/usage`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      first.child.kill("SIGTERM");
      expect(await first.exited).toBe(0);
    } finally {
      first.kill();
    }

    // Demo data on, but over replayed data: no demo keys, yet the URL, the (new) URI and the way in.
    const second = spawnService(env);
    try {
      const [, again] = await second.waitForOutput(/MONGODB_URI=(mongodb:\/\/127\.0\.0\.1:\d+) npm run keys -- create/);
      expect(second.out.stdout).toMatch(new RegExp(`on the embedded MongoDB at ${again}, with data replayed from ${dir} \\(\\d+ commands\\)`));
      expect(second.out.stdout).toContain("the data was replayed, so demo keys are not created again");
      const listed = await keysCli(["list", "--org", "acme"], again!);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(/^key_\S+\s+acme\s+op\s+read\s/m);
    } finally {
      second.child.kill("SIGTERM");
      await Promise.race([second.exited, sleep(10_000)]);
      second.kill();
    }
  }, 180_000);
});
