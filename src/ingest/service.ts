/**
 * Recording usage events: validate the whole request first (all-or-nothing), then insert with a
 * unique index on (org_id, event_id) doing the idempotency, then re-derive the touched sessions,
 * sandboxes and rollups from what is stored.
 */
import { MongoBulkWriteError } from "mongodb";
import type { Principal } from "../auth/principal.js";
import { requireScope } from "../auth/principal.js";
import type { Clock } from "../clock.js";
import { type Collections, sandboxKey, type UsageEventDoc } from "../db/collections.js";
import { badInput, forbidden, type InputIssue } from "../errors.js";
import { buildSandboxAttributesPipeline } from "../pipelines/sandboxes.js";
import { buildSessionEndsPipeline, buildSessionStartsPipeline } from "../pipelines/sessions.js";
import { toInputIssues } from "../zod-issues.js";
import { noteUsage, rangesByOrg } from "../budgets/marks.js";
import { refreshRollups } from "./rollups.js";
import { EVENT_TYPES, MAX_EVENTS_PER_REQUEST, MAX_FUTURE_SKEW_MS, MemoryEvent, OperationEvent, type UsageEvent } from "./events.js";

export interface IngestResult {
  accepted: number;
  duplicates: number;
}

export interface IngestDeps {
  cols: Collections;
  clock: Clock;
}

const DUPLICATE_KEY = 11000;

/**
 * Validates every event and returns them typed, or throws one 422 naming each bad event by index
 * and field. `loc` is where the events sit in the request (["body","events"] for a JSON body).
 */
export function validateEvents(raw: unknown, loc: Array<string | number>, now: Date): UsageEvent[] {
  if (!Array.isArray(raw)) throw badInput("events must be an array", [{ loc, msg: "Input should be a valid list", type: "list_type" }]);
  if (raw.length < 1 || raw.length > MAX_EVENTS_PER_REQUEST) {
    throw badInput(`a request carries 1-${MAX_EVENTS_PER_REQUEST} events`, [
      { loc, msg: `must contain between 1 and ${MAX_EVENTS_PER_REQUEST} events, got ${raw.length}`, type: raw.length < 1 ? "too_short" : "too_long" },
    ]);
  }
  const issues: InputIssue[] = [];
  const events: UsageEvent[] = [];
  const latest = now.getTime() + MAX_FUTURE_SKEW_MS;
  raw.forEach((item, i) => {
    const at = [...loc, i];
    const type = item !== null && typeof item === "object" && !Array.isArray(item) ? (item as { type?: unknown }).type : undefined;
    const schema = type === "sandbox.operation" ? OperationEvent : type === "sandbox.memory" ? MemoryEvent : null;
    if (!schema) {
      issues.push(
        item === null || typeof item !== "object" || Array.isArray(item)
          ? { loc: at, msg: "Input should be an object", type: "dict_type" }
          : type === undefined
            ? { loc: [...at, "type"], msg: "Field required", type: "missing" }
            : { loc: [...at, "type"], msg: `Input should be ${EVENT_TYPES.map((t) => `'${t}'`).join(" or ")}`, type: "enum" },
      );
      return;
    }
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      issues.push(...toInputIssues(parsed.error, at));
      return;
    }
    if (parsed.data.timestamp.getTime() > latest) {
      issues.push({ loc: [...at, "timestamp"], msg: "timestamp is more than 24 hours in the future", type: "value_error" });
      return;
    }
    events.push(parsed.data);
  });
  if (issues.length > 0) throw badInput(`${new Set(issues.map((x) => x.loc[loc.length])).size} invalid event(s); nothing was stored`, issues);
  return events;
}

/** The org each event is written to; a key that is not a cluster admin writes only its own org. */
function resolveOrgs(principal: Principal, events: UsageEvent[], loc: Array<string | number>): string[] {
  const issues: InputIssue[] = [];
  const orgs = events.map((e, i) => {
    const org = e.org_id ?? principal.orgId;
    if (!org) issues.push({ loc: [...loc, i, "org_id"], msg: "org_id is required with a key that belongs to no organization", type: "missing" });
    return org ?? "";
  });
  if (issues.length > 0) throw badInput("org_id missing", issues);
  if (!principal.clusterAdmin) {
    const foreign = orgs.findIndex((o) => o !== principal.orgId);
    if (foreign >= 0) throw forbidden(`event ${foreign}: this API key may only write usage for organization '${principal.orgId}'`);
  }
  return orgs;
}

/**
 * A validated event as it is stored. Written as literals (no object spread): ingest builds one per
 * event, and spreading made this the costliest step of an ingest after the insert itself.
 */
export function toStoredEvent(e: UsageEvent, orgId: string, receivedAt: Date): UsageEventDoc {
  if (e.type === "sandbox.memory") {
    return { org_id: orgId, event_id: e.id, ts: e.timestamp, received_at: receivedAt, sandbox_id: e.sandbox_id, type: e.type, used_memory_mb: e.used_memory_mb };
  }
  const doc: UsageEventDoc = {
    org_id: orgId,
    event_id: e.id,
    ts: e.timestamp,
    received_at: receivedAt,
    sandbox_id: e.sandbox_id,
    type: e.type,
    session_id: e.session_id,
    user_id: e.user_id,
    api_key_id: e.api_key_id,
    provider: e.provider,
    session_kind: e.session_kind,
    operation: e.operation,
    request_count: e.request_count,
    duration_ms: e.duration_ms,
    workspace_bytes_in: e.workspace_bytes_in,
    workspace_bytes_out: e.workspace_bytes_out,
    files_changed_count: e.files_changed_count,
    oom_killed: e.oom_killed,
    peak_memory_mib: e.peak_memory_mib,
    reserved_memory_mib: e.reserved_memory_mib,
  };
  if (e.operation === "session_start") {
    doc.resource = e.resource ?? "sandbox";
    doc.vcpus = e.vcpus;
    doc.memory_mb = e.memory_mb;
    doc.disk_mb = e.disk_mb ?? 0;
    doc.storage_gb = e.storage_gb ?? 0;
    if (e.external_user_id !== undefined) doc.external_user_id = e.external_user_id;
    if (e.external_project_id !== undefined) doc.external_project_id = e.external_project_id;
    if (e.workspace_id !== undefined) doc.workspace_id = e.workspace_id;
    if (e.alias !== undefined) doc.alias = e.alias;
    // Tag keys may contain '.', so they are stored as pairs, never as field names.
    if (e.tags !== undefined) doc.tags = Object.entries(e.tags).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => ({ key, value }));
  }
  return doc;
}

export async function recordUsageEvents(
  deps: IngestDeps,
  principal: Principal,
  raw: unknown,
  loc: Array<string | number>,
): Promise<IngestResult> {
  requireScope(principal, "ingest");
  const now = deps.clock.now();
  const events = validateEvents(raw, loc, now);
  const orgs = resolveOrgs(principal, events, loc);
  const docs = events.map((e, i) => toStoredEvent(e, orgs[i]!, now));

  let accepted = docs.length;
  let duplicates = 0;
  try {
    await deps.cols.usageEvents.insertMany(docs, { ordered: false });
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    const writeErrors = [err.writeErrors].flat();
    // Only "these ids are stored already", for every event not inserted, is an answer. A write cut
    // off part-way (the database went away) is not: it fails, and the client's retry completes it.
    if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY) || err.result.insertedCount + writeErrors.length !== docs.length) throw err;
    duplicates = writeErrors.length;
    accepted = docs.length - duplicates;
  }
  await deriveSessions(deps.cols, docs);
  await deriveSandboxes(deps.cols, docs);
  await refreshRollups(deps.cols, docs);
  // --- budgets (DESIGN §11): one O(1) upsert per org, after everything above is written. Keep it last.
  for (const [org, range] of rangesByOrg(docs)) await noteUsage(deps, org, range);
  // --- end budgets
  return { accepted, duplicates };
}

/**
 * Re-derives the sessions whose lifecycle events this batch carried, from the stored events.
 * Runs for duplicates too: a retry after a failure between insert and derivation then completes it.
 */
async function deriveSessions(cols: Collections, docs: UsageEventDoc[]): Promise<void> {
  const starts = new Map<string, Set<string>>();
  const ends = new Map<string, Set<string>>();
  for (const d of docs) {
    if (d.type !== "sandbox.operation" || !d.session_id) continue;
    const target = d.operation === "session_start" ? starts : d.operation === "session_stop" || d.operation === "session_terminate" ? ends : null;
    if (!target) continue;
    let ids = target.get(d.org_id);
    if (!ids) target.set(d.org_id, (ids = new Set()));
    ids.add(d.session_id);
  }
  // Ends before starts: a batch carrying both never shows a reader (the budget evaluator, above all)
  // the session as open-until-now in between, which would count runtime it never had.
  for (const [org, ids] of ends) await cols.usageEvents.aggregate(buildSessionEndsPipeline(org, [...ids])).toArray();
  for (const [org, ids] of starts) await cols.usageEvents.aggregate(buildSessionStartsPipeline(org, [...ids])).toArray();
}

/**
 * Makes every sandbox the batch names known (so its usage and tags can be asked for), then
 * refreshes the alias and tags of those whose sessions started in it. Idempotent like the rest.
 */
async function deriveSandboxes(cols: Collections, docs: UsageEventDoc[]): Promise<void> {
  const named = new Map<string, { org_id: string; sandbox_id: string }>();
  const started = new Map<string, Set<string>>();
  for (const d of docs) {
    named.set(sandboxKey(d.org_id, d.sandbox_id), { org_id: d.org_id, sandbox_id: d.sandbox_id });
    if (d.operation !== "session_start") continue;
    let ids = started.get(d.org_id);
    if (!ids) started.set(d.org_id, (ids = new Set()));
    ids.add(d.sandbox_id);
  }
  await cols.sandboxes.bulkWrite(
    [...named].map(([_id, s]) => ({
      updateOne: { filter: { _id }, update: { $setOnInsert: { ...s, tags: [], tags_updated_at: null } }, upsert: true },
    })),
    { ordered: false },
  );
  for (const [org, ids] of started) await cols.sessions.aggregate(buildSandboxAttributesPipeline(org, [...ids])).toArray();
}
