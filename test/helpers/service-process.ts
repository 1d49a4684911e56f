/**
 * The service as its own process (`node --import tsx src/index.ts`, or `npm start` itself), as a
 * person starts it: output collected, a fresh machine's environment (no MONGODB_URI, not vitest's
 * NODE_ENV), its own process group so a failed test never leaks a server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first or after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGKILL to the whole group (npm and its node child). */
  kill(): void;
}

export function spawnService(env: Record<string, string>, launcher: "node" | "npm" = "node"): ServiceProcess {
  const base = { ...process.env };
  delete base.MONGODB_URI;
  delete base.NODE_ENV;
  const [cmd, args] = launcher === "npm" ? ["npm", ["start", "--silent"]] : [process.execPath, ["--import", "tsx", "src/index.ts"]];
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const out = { stdout: "", stderr: "" };
  child.stdout!.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out.stderr += d.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve((exitCode = code))));
  return {
    child,
    out,
    exited,
    async waitForOutput(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out.stdout);
        if (m) return m;
        if (exitCode !== undefined) throw new Error(`exited with ${exitCode} before printing ${pattern}:\n${out.stdout}\n${out.stderr}`);
        if (Date.now() > deadline) throw new Error(`${pattern} not printed after ${timeoutMs / 1000} s:\n${out.stdout}\n${out.stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    },
  };
}
