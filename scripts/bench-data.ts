/**
 * The benchmark's data sets, as ingest JSON: one fleet (3 orgs, 60 sandboxes, ~1,700 sessions over
 * 30 days), generated from its own random stream so it is the same whatever the number of
 * operations; the operation events spread over its sessions; and a per-minute memory history for
 * 20 sandboxes. The larger data set is the smaller one plus more operations in the same sessions,
 * which isolates what the benchmark asks about: cost as raw events grow.
 */
import { SANDBOX_OPERATIONS } from "../src/db/collections.js";
import { Random } from "../src/demo/random.js";

const DAY = 86_400_000;
const MINUTE = 60_000;
const ORGS = ["acme", "globex", "initech"] as const;
const WORK = SANDBOX_OPERATIONS.filter((o) => !o.startsWith("session_"));

export type BenchEvent = Record<string, unknown> & { id: string; timestamp: string };

interface Session {
  id: string;
  org: string;
  sandbox: string;
  user: string;
  apiKey: string | null;
  provider: string;
  kind: "standard" | "browser";
  start: number;
  /** null: still open at the end of the data. */
  stop: number | null;
  memoryMb: number;
}

export interface BenchFleet {
  anchor: number;
  sessions: Session[];
  /** The session_start/stop events of every session. */
  lifecycle: BenchEvent[];
}

const iso = (t: number) => new Date(t).toISOString();

export function benchFleet(anchor: Date, days = 30): BenchFleet {
  const rnd = new Random(20261201);
  const end = Math.floor(anchor.getTime() / MINUTE) * MINUTE;
  const start = end - days * DAY;
  const sessions: Session[] = [];
  const lifecycle: BenchEvent[] = [];
  for (const org of ORGS) {
    const users = Array.from({ length: 7 }, (_, i) => `${org}-user-${i + 1}`);
    for (let s = 0; s < 20; s++) {
      const sandbox = `sb-${org}-${String(s + 1).padStart(2, "0")}`;
      const owner = rnd.pick(users);
      const resource = rnd.chance(0.2) ? "computer" : "sandbox";
      const vcpus = rnd.pick([1, 2, 4, 8]);
      const memoryMb = rnd.pick([512, 1024, 2048, 4096]);
      const kind = resource === "computer" && rnd.chance(0.5) ? "browser" : "standard";
      const tags = { team: rnd.pick(["core", "growth", "research"]), env: rnd.pick(["prod", "staging"]) };
      const customer = `${org}-customer-${rnd.int(1, 10)}`;
      let t = start + rnd.int(0, 20) * 60 * MINUTE;
      let n = 0;
      while (t < end) {
        const duration = rnd.int(5, 180) * MINUTE + rnd.int(0, 59_999);
        const user = rnd.chance(0.8) ? owner : rnd.pick(users);
        const session: Session = {
          id: `sess-${sandbox}-${++n}`, org, sandbox, user, apiKey: rnd.chance(0.7) ? `${org}-key-${users.indexOf(user) + 1}` : null,
          provider: rnd.pick(["aws", "gcp", "azure"]), kind, start: t, stop: t + duration < end ? t + duration : null, memoryMb,
        };
        sessions.push(session);
        const base = { type: "sandbox.operation", org_id: org, sandbox_id: sandbox, session_id: session.id, user_id: user, api_key_id: session.apiKey, provider: session.provider, session_kind: kind };
        lifecycle.push({
          ...base, id: `${session.id}-start`, timestamp: iso(t), operation: "session_start", resource, vcpus, memory_mb: memoryMb,
          disk_mb: rnd.pick([10240, 20480, 40960]), storage_gb: rnd.pick([0, 1, 5, 10]), external_user_id: customer,
          external_project_id: `${org}-project-${rnd.int(1, 4)}`, workspace_id: `${org}-ws-${rnd.pick(["main", "lab"])}`, tags,
        });
        if (session.stop !== null) lifecycle.push({ ...base, id: `${session.id}-stop`, timestamp: iso(session.stop), operation: "session_stop" });
        t += duration + rnd.int(2 * 60, 45 * 60) * MINUTE;
      }
    }
  }
  return { anchor: end, sessions, lifecycle };
}

/**
 * `count` operation events spread evenly over the fleet's sessions (inside each session's run),
 * from their own random stream; `part(k, of)` keeps every event whose index ≡ k (mod of), so the
 * parts of one call are disjoint and add up to the whole.
 */
export function benchOperations(fleet: BenchFleet, count: number, part?: { k: number; of: number }): BenchEvent[] {
  const rnd = new Random(7);
  const perSession = count / fleet.sessions.length;
  const events: BenchEvent[] = [];
  let made = 0;
  fleet.sessions.forEach((s, i) => {
    const target = Math.round(perSession * (i + 1)) - made;
    const until = s.stop ?? fleet.anchor;
    for (let k = 0; k < target; k++, made++) {
      const at = s.start + 1 + Math.floor(rnd.next() * (until - s.start - 2));
      const op = rnd.pick(WORK);
      if (part && made % part.of !== part.k) continue;
      events.push({
        id: `${s.id}-op-${k}`, type: "sandbox.operation", timestamp: iso(at), org_id: s.org, sandbox_id: s.sandbox, session_id: s.id,
        user_id: s.user, api_key_id: s.apiKey, provider: s.provider, session_kind: s.kind, operation: op,
        request_count: rnd.int(1, 5), duration_ms: rnd.int(20, 30_000),
        workspace_bytes_in: op.includes("upload") ? rnd.int(1_000, 50_000_000) : 0,
        workspace_bytes_out: op.includes("download") ? rnd.int(1_000, 80_000_000) : 0,
        files_changed_count: op === "repo_task" || op === "code" ? rnd.int(0, 40) : 0,
        oom_killed: rnd.chance(0.004), peak_memory_mib: Math.round(s.memoryMb * (0.2 + rnd.next() * 0.8) * 10) / 10, reserved_memory_mib: s.memoryMb,
      });
    }
  });
  return events;
}

/** The sandboxes with a memory history: acme's 20. */
export const MEMORY_SANDBOXES = Array.from({ length: 20 }, (_, i) => `sb-acme-${String(i + 1).padStart(2, "0")}`);

/** One sample a minute (±2 s) for every sandbox of MEMORY_SANDBOXES over the last `days` days. */
export function benchMemory(fleet: BenchFleet, days = 30): BenchEvent[] {
  const rnd = new Random(11);
  const events: BenchEvent[] = [];
  const from = fleet.anchor - days * DAY;
  for (let t = from + 30_000; t < fleet.anchor - 2_000; t += MINUTE) {
    for (const sandbox of MEMORY_SANDBOXES) {
      events.push({ id: `${sandbox}-mem-${t}`, type: "sandbox.memory", timestamp: iso(t + rnd.int(-2_000, 2_000)), org_id: "acme", sandbox_id: sandbox, used_memory_mb: rnd.int(500, 20_000) / 10 });
    }
  }
  return events;
}

/** Events in time order (as a live system sends them), ties by id. */
export function inTimeOrder(events: BenchEvent[]): BenchEvent[] {
  return events.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1));
}
