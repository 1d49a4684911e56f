/**
 * For scripts that run the service and an embedded MongoDB as child processes on loopback
 * (`npm run load`, `npm run bench`): free ports, waiting for readiness, and stopping them all on exit.
 */
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it holds; fails when `child` exits first or after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const children: ChildProcess[] = [];
/** Stops every child started with `startChild` (also when this process exits). */
export const stopChildren = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
};
process.on("exit", stopChildren);

/** `node [nodeArgs] --import tsx <script> [args]`, stopped with this process. */
export function startChild(script: string, args: string[], opts: SpawnOptions & { nodeArgs?: string[] } = {}): ChildProcess {
  const { nodeArgs = [], ...spawnOpts } = opts;
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, ...args], { stdio: "ignore", ...spawnOpts });
  children.push(child);
  return child;
}
