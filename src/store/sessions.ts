/**
 * Session records kept inside the ingest transaction. A session runs from its earliest
 * session_start to the first session_stop or session_terminate at or after that start (a stop
 * that precedes the start, sent by mistake or out of order, ends nothing). The record keeps the
 * earliest end it has seen (`first_end`), so a start that arrives after its stop needs no read of
 * the session's events unless a stop precedes it; then one indexed look-up finds the right one.
 */
import type { AnyBulkWriteOperation, ClientSession } from "mongodb";
import { type Collections, SESSION_END_OPERATIONS, type SessionDoc, type UsageEventDoc } from "../db/collections.js";

/** Attributes a session takes from its (earliest) session_start event. */
export const SESSION_START_ATTRIBUTES = [
  "sandbox_id", "user_id", "api_key_id", "provider", "session_kind", "resource", "vcpus", "memory_mb",
  "disk_mb", "storage_gb", "external_user_id", "external_project_id", "workspace_id", "alias", "tags",
] as const;

/** The `end_at` of an open session: later than any window. */
export const OPEN_SESSION_END = new Date(8.64e15);

export type StoredSession = SessionDoc & { start_event_id?: string };

const isEnd = (e: UsageEventDoc) => e.operation !== undefined && SESSION_END_OPERATIONS.includes(e.operation);
const earlier = (a: UsageEventDoc, b: { ts: Date; event_id: string } | null) =>
  b === null || a.ts < b.ts || (a.ts.getTime() === b.ts.getTime() && a.event_id < b.event_id);

/** The first stop/terminate of a session at or after `from`, from the stored events (served by usage_events_org_session_op_ts). */
export async function firstEndFrom(cols: Collections, session: ClientSession, orgId: string, sessionId: string, from: Date): Promise<Date | undefined> {
  const [end] = await cols.usageEvents
    .find({ org_id: orgId, session_id: sessionId, operation: { $in: [...SESSION_END_OPERATIONS] }, ts: { $gte: from } }, { session, projection: { ts: 1 } })
    .sort({ ts: 1 })
    .limit(1)
    .toArray();
  return end?.ts;
}

function startAttributes(e: UsageEventDoc): Partial<SessionDoc> {
  const out: Record<string, unknown> = {};
  for (const f of SESSION_START_ATTRIBUTES) if (e[f] !== undefined) out[f] = e[f];
  return out as Partial<SessionDoc>;
}

/** The session record after `doc`'s start is set from `start` (or cleared), with its end re-derived. */
export async function withStart(
  cols: Collections,
  session: ClientSession,
  doc: StoredSession,
  start: UsageEventDoc | null,
): Promise<StoredSession> {
  const next: StoredSession = { org_id: doc.org_id, session_id: doc.session_id };
  if (doc.first_end) next.first_end = doc.first_end;
  // Without a start nothing runs; the earliest end is shown as the end until a start arrives.
  if (!start) {
    if (doc.first_end) next.ended_at = doc.first_end;
    return next;
  }
  Object.assign(next, startAttributes(start), { started_at: start.ts, start_event_id: start.event_id });
  const ended = doc.first_end && doc.first_end >= start.ts ? doc.first_end : doc.first_end ? await firstEndFrom(cols, session, doc.org_id, doc.session_id, start.ts) : undefined;
  if (ended) next.ended_at = ended;
  next.end_at = ended ?? OPEN_SESSION_END;
  return next;
}

/** Applies newly stored lifecycle events to their session records. */
export async function addLifecycleEvents(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const touched = new Map<string, { org: string; id: string; start: UsageEventDoc | null; ends: Date[] }>();
  for (const e of events) {
    if (e.type !== "sandbox.operation" || e.session_id === undefined) continue;
    const start = e.operation === "session_start";
    if (!start && !isEnd(e)) continue;
    const key = `${e.org_id}/${e.session_id}`;
    let t = touched.get(key);
    if (!t) touched.set(key, (t = { org: e.org_id, id: e.session_id, start: null, ends: [] }));
    if (start) {
      if (earlier(e, t.start)) t.start = e;
    } else t.ends.push(e.ts);
  }
  if (touched.size === 0) return;
  const byOrg = new Map<string, string[]>();
  for (const t of touched.values()) byOrg.set(t.org, [...(byOrg.get(t.org) ?? []), t.id]);
  const stored = new Map<string, StoredSession>();
  for (const [org, ids] of byOrg) {
    const found = await cols.sessions.find({ org_id: org, session_id: { $in: ids } }, { session }).toArray();
    for (const s of found) stored.set(`${s.org_id}/${s.session_id}`, s as StoredSession);
  }
  const writes: AnyBulkWriteOperation<SessionDoc>[] = [];
  for (const [key, t] of touched) {
    const cur: StoredSession = stored.get(key) ?? { org_id: t.org, session_id: t.id };
    let next: StoredSession = { ...cur };
    for (const end of t.ends) if (!next.first_end || end < next.first_end) next.first_end = end;
    const currentStart = cur.started_at && cur.start_event_id !== undefined ? { ts: cur.started_at, event_id: cur.start_event_id } : null;
    if (t.start && (cur.started_at === undefined || earlier(t.start, currentStart))) {
      next = await withStart(cols, session, next, t.start);
    } else if (next.started_at) {
      // The start stands; an end at or after it, earlier than the current one, ends the session sooner.
      for (const end of t.ends) if (end >= next.started_at && (!next.ended_at || end < next.ended_at)) next.ended_at = end;
      next.end_at = next.ended_at ?? OPEN_SESSION_END;
    } else if (next.first_end) next.ended_at = next.first_end;
    const { _id, ...replacement } = next as StoredSession & { _id?: unknown };
    void _id;
    writes.push({ replaceOne: { filter: { org_id: t.org, session_id: t.id }, replacement, upsert: true } });
  }
  await cols.sessions.bulkWrite(writes, { session, ordered: false });
}
