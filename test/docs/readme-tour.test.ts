/**
 * The README's tour, run as a reader runs it: `npm start`'s process (demo data, a free port), the
 * banner's `export …` line pasted into bash, then every ```sh block of the "## Tour" section in
 * order, each in its own `bash -euo pipefail`. A block fails the test when a command fails, when
 * curl gets an HTTP error, when a GraphQL answer carries `errors`, or when a JSON answer has a
 * top-level field (or a field of a top-level object) the block's text never mentions, so the
 * documented shapes stay the real ones. Adding a ```sh block to the tour is all it takes to test it.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/processes.js";
import { ROOT, type ServiceProcess, spawnService } from "../helpers/service-process.js";

/** The ```sh blocks between `## <section>` and the next `## ` heading, in order. */
export function shellBlocks(markdown: string, section: string): string[] {
  const start = markdown.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`no "## ${section}" section`);
  const next = markdown.indexOf("\n## ", start + 1);
  const body = markdown.slice(start, next < 0 ? undefined : next);
  return [...body.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/**
 * curl as the reader types it, plus: HTTP errors fail the command (with the body shown), and each
 * answer ends with a newline so the test can read answers one per line.
 */
const PRELUDE = `curl() { command curl --fail-with-body "$@"; local rc=$?; echo; return $rc; }\n`;

/** Field names of a JSON answer that the documentation must show: top level, and one level into objects. */
function documentedFields(answer: unknown): string[] {
  if (answer === null || typeof answer !== "object" || Array.isArray(answer)) return [];
  const names: string[] = [];
  for (const [k, v] of Object.entries(answer)) {
    names.push(k);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) names.push(...Object.keys(v));
  }
  return names;
}

const blocks = shellBlocks(readFileSync(join(ROOT, "README.md"), "utf8"), "Tour");

describe("the README tour", () => {
  let svc: ServiceProcess;
  let exports: string;

  beforeAll(async () => {
    svc = spawnService({ PORT: String(await freePort()), HOST: "127.0.0.1" }, "npm");
    // Demo data loads first: 15-20 s on an idle 2-core machine, much more on a busy one.
    [exports] = await svc.waitForOutput(/^\s*export USAGE_URL=\S+ READ_KEY=\S+ INGEST_KEY=\S+ ADMIN_KEY=\S+$/m, 240_000);
  }, 250_000);
  afterAll(async () => {
    svc?.child.kill("SIGTERM");
    await Promise.race([svc?.exited, new Promise((r) => setTimeout(r, 10_000))]);
    svc?.kill();
  });

  it("has blocks to run", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
  });

  // Sequential on purpose: later blocks may rely on earlier ones (an ingest, then its metrics).
  blocks.forEach((block, i) => {
    const title = block.split("\n")[0]!.slice(0, 80);
    it(`block ${i + 1}: ${title}`, () => {
      const run = spawnSync("bash", ["-euo", "pipefail", "-c", `${PRELUDE}${exports.trim()}\n${block}`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      expect(run.status, `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
      const lines = run.stdout.split("\n").filter((l) => l.trim() !== "");
      expect(lines.length, "the block printed nothing").toBeGreaterThan(0);
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const answer = JSON.parse(line) as Record<string, unknown>;
        expect(answer.errors, line).toBeUndefined();
        for (const field of documentedFields(answer)) expect(block, `"${field}" is in the answer but not in the README:\n${line.slice(0, 400)}`).toContain(field);
      }
    }, 60_000);
  });
});
