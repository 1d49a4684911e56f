/**
 * The demo data set, as ingest JSON (DESIGN §2): 3 orgs, ~20 users, 60 sandboxes, ~2,000
 * sessions and ~100,000 operations over the last 35 days, and per-minute memory samples for
 * the sessions of the last 3 days. Deterministic for a given seed and anchor time.
 */
import { SANDBOX_OPERATIONS } from "../db/collections.js";
import { Random } from "./random.js";

export const DEMO_ORGS = ["acme", "globex", "initech"] as const;
const DAY = 86_400_000;
const MINUTE = 60_000;
const WORK_OPERATIONS = SANDBOX_OPERATIONS.filter((o) => !o.startsWith("session_"));

export interface DemoOptions {
  /** The data ends here (typically now); it is floored to the minute. */
  anchor: Date;
  seed?: number;
  days?: number;
  sandboxesPerOrg?: number;
  /** Mean work operations per session (plus its start and stop). */
  opsPerSession?: number;
  memoryDays?: number;
}

export type DemoEvent = Record<string, unknown> & { id: string; type: string; timestamp: string; org_id: string };

export function generateDemoEvents(opts: DemoOptions): DemoEvent[] {
  const rnd = new Random(opts.seed ?? 20261122);
  const end = Math.floor(opts.anchor.getTime() / MINUTE) * MINUTE;
  const start = end - (opts.days ?? 35) * DAY;
  const memoryFrom = end - (opts.memoryDays ?? 3) * DAY;
  const opsPerSession = opts.opsPerSession ?? 48;
  const events: DemoEvent[] = [];
  const iso = (t: number) => new Date(t).toISOString();

  DEMO_ORGS.forEach((org, o) => {
    const users = Array.from({ length: 7 - (o === 2 ? 1 : 0) }, (_, i) => `${org}-user-${i + 1}`);
    const customers = Array.from({ length: 10 }, (_, i) => `${org}-customer-${String(i + 1).padStart(2, "0")}`);
    const projects = Array.from({ length: 4 }, (_, i) => `${org}-project-${i + 1}`);
    const workspaces = [`${org}-ws-main`, `${org}-ws-lab`];
    const providers = ["aws", "gcp", "azure"];
    for (let s = 0; s < (opts.sandboxesPerOrg ?? 20); s++) {
      const sandboxId = `sb-${org}-${String(s + 1).padStart(2, "0")}`;
      const owner = rnd.pick(users);
      const resource = rnd.chance(0.2) ? "computer" : "sandbox";
      const vcpus = rnd.pick([1, 2, 4, 8]);
      const memoryMb = rnd.pick([512, 1024, 2048, 4096]);
      const kind = resource === "computer" && rnd.chance(0.5) ? "browser" : "standard";
      const alias = rnd.chance(0.6) ? `${org}-agent-${s + 1}` : undefined;
      const tags = { team: rnd.pick(["core", "growth", "research"]), env: rnd.pick(["prod", "staging"]) };
      const customer = rnd.chance(0.9) ? rnd.pick(customers) : undefined;
      let t = start + rnd.int(0, 20) * 60 * MINUTE;
      let n = 0;
      while (t < end) {
        const duration = rnd.int(5, 180) * MINUTE + rnd.int(0, 59_999);
        const sessionId = `sess-${sandboxId}-${++n}`;
        const user = rnd.chance(0.8) ? owner : rnd.pick(users);
        const provider = rnd.pick(providers);
        const apiKeyId = rnd.chance(0.7) ? `${org}-key-${users.indexOf(user) + 1}` : null;
        const base = { org_id: org, sandbox_id: sandboxId, session_id: sessionId, user_id: user, api_key_id: apiKeyId, provider, session_kind: kind };
        events.push({
          id: `${sessionId}-start`, type: "sandbox.operation", timestamp: iso(t), ...base, operation: "session_start",
          duration_ms: rnd.int(200, 3000), resource, vcpus, memory_mb: memoryMb, disk_mb: rnd.pick([10240, 20480, 40960]),
          storage_gb: rnd.pick([0, 1, 5, 10]), ...(customer && { external_user_id: customer }),
          external_project_id: rnd.pick(projects), workspace_id: rnd.pick(workspaces), ...(alias && { alias }), tags,
        });
        const stop = t + duration;
        const open = stop >= end;
        const ops = rnd.int(opsPerSession - 20, opsPerSession + 20);
        const workEnd = Math.min(stop, end);
        for (let k = 0; k < ops; k++) {
          const at = t + 1 + Math.floor(rnd.next() * (workEnd - t - 2));
          const op = rnd.pick(WORK_OPERATIONS);
          events.push({
            id: `${sessionId}-op-${k}`, type: "sandbox.operation", timestamp: iso(at), ...base, operation: op,
            request_count: rnd.int(1, 5), duration_ms: rnd.int(20, 30_000),
            workspace_bytes_in: op.includes("upload") ? rnd.int(1_000, 50_000_000) : 0,
            workspace_bytes_out: op.includes("download") ? rnd.int(1_000, 80_000_000) : 0,
            files_changed_count: op === "repo_task" || op === "code" ? rnd.int(0, 40) : 0,
            oom_killed: rnd.chance(0.004), peak_memory_mib: Math.round(memoryMb * (0.2 + rnd.next() * 0.8) * 10) / 10,
            reserved_memory_mib: memoryMb,
          });
        }
        if (!open) {
          events.push({ id: `${sessionId}-stop`, type: "sandbox.operation", timestamp: iso(stop), ...base, operation: rnd.chance(0.9) ? "session_stop" : "session_terminate" });
        }
        // Memory samples about every 60 s while provisioned, for the last few days only.
        let used = memoryMb * 0.4;
        for (let m = Math.max(t, memoryFrom) + 30_000; m < workEnd; m += MINUTE) {
          used = Math.min(memoryMb, Math.max(32, used + (rnd.next() - 0.5) * memoryMb * 0.1));
          events.push({ id: `${sandboxId}-mem-${m}`, type: "sandbox.memory", timestamp: iso(m + rnd.int(-2_000, 2_000)), org_id: org, sandbox_id: sandboxId, used_memory_mb: Math.round(used * 10) / 10 });
        }
        t = stop + rnd.int(2 * 60, 45 * 60) * MINUTE;
      }
    }
  });
  return events;
}
