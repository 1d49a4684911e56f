/**
 * Recording usage events: validate the whole request first (all-or-nothing), then, in one
 * transaction, store the events not stored before and add them to the sessions, sandboxes and
 * rollups (store/ingest.ts).
 */
import type { MongoClient } from "mongodb";
import type { Principal } from "../auth/principal.js";
import { requireScope } from "../auth/principal.js";
import type { Clock } from "../clock.js";
import type { Collections, UsageEventDoc } from "../db/collections.js";
import { badInput, forbidden, type InputIssue } from "../errors.js";
import { storeEvents } from "../store/ingest.js";
import { inTransaction } from "../store/transaction.js";
import { toInputIssues } from "../zod-issues.js";
import { noteUsage, rangesByOrg } from "../budgets/marks.js";
import { EVENT_TYPES, MAX_EVENTS_PER_REQUEST, MAX_FUTURE_SKEW_MS, MemoryEvent, OperationEvent, type UsageEvent } from "./events.js";

export interface IngestResult {
  accepted: number;
  duplicates: number;
}

export interface IngestDeps {
  client: MongoClient;
  cols: Collections;
  clock: Clock;
}

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
  const fresh = await inTransaction(deps.client, (session) => storeEvents(deps.cols, session, docs), docs.map((d) => d.org_id));
  // --- budgets (DESIGN §11): one O(1) upsert per org, after the transaction committed. Duplicates
  // included: a retry after a crash between the commit and this line still gets evaluated.
  for (const [org, range] of rangesByOrg(docs)) await noteUsage(deps, org, range);
  // --- end budgets
  return { accepted: fresh.length, duplicates: docs.length - fresh.length };
}
