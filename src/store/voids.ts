/**
 * Voiding events (corrections), in one transaction like ingest: each voided event moves from
 * usage_events to usage_events_voided (kept for audit, its id still taken), and everything derived
 * from it is corrected where it stood: measures are subtracted at every level, maxima and the
 * presence of its session recomputed from the level below (the raw events for minutes), its
 * session and sandbox re-derived, its memory minute recomputed. The totals lose the measures too,
 * take their maxima from the level's corrected rollups, and stop counting a session left with no
 * operation in the bucket. A rollup or totals document left with no events goes.
 */
import { addExact, type ExactInt, int64Values } from "../int64.js";
import type { AnyBulkWriteOperation, ClientSession, Document } from "mongodb";
import {
  type Collections,
  type OperationRollupDoc,
  type OperationTotalsDoc,
  SANDBOX_OPERATIONS,
  type SandboxOperation,
  SESSION_END_OPERATIONS,
  type SessionBucketDoc,
  type SessionTuple,
  type UsageEventDoc,
  type VoidedEventDoc,
} from "../db/collections.js";
import { bucketStart, type Level, LEVEL_NAMES, LEVELS, rollupKey, totalsKey, tupleId, tupleOf } from "./levels.js";
import { refreshMemoryMinutes, touchedMinutes } from "./memory.js";
import { MEASURE_FIELDS, presenceId, rollupCollection, totalsCollection } from "./operations.js";
import { creditChanges, isMixed } from "./presence.js";
import { addSandboxEvents } from "./sandboxes.js";
import { OPEN_SESSION_END, type StoredSession, withStart } from "./sessions.js";

export interface VoidResult {
  voided: number;
  already_voided: number;
  unknown: number;
}

export interface VoidRequest {
  orgId: string;
  ids: readonly string[];
  reason: string | null;
  by: string;
  at: Date;
}

/** Voids the events of `req.ids` in `req.orgId`; returns the counts and the events voided now. */
export async function voidEvents(cols: Collections, session: ClientSession, req: VoidRequest): Promise<{ result: VoidResult; voided: UsageEventDoc[] }> {
  const ids = [...new Set(req.ids)];
  const live = await cols.usageEvents.find({ org_id: req.orgId, event_id: { $in: ids } }, { session }).toArray();
  const already = await cols.voidedEvents.countDocuments({ org_id: req.orgId, event_id: { $in: ids } }, { session });
  const result = { voided: live.length, already_voided: already, unknown: ids.length - live.length - already };
  if (live.length === 0) return { result, voided: [] };
  await cols.usageEvents.deleteMany({ _id: { $in: live.map((e) => e._id) } }, { session });
  const audit: VoidedEventDoc[] = live.map((e) => ({ ...e, voided_at: req.at, voided_by: req.by, void_reason: req.reason }));
  await cols.voidedEvents.insertMany(audit, { session });
  await removeOperations(cols, session, live);
  await rederiveSessions(cols, session, live);
  await rederiveSandboxes(cols, session, live);
  await refreshMemoryMinutes(cols, session, touchedMinutes(live));
  return { result, voided: live };
}

const MAX_FIELDS = ["peak_memory_mib", "reserved_memory_mib"] as const;

/** Takes removed operation events out of every level. */
async function removeOperations(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const ops = events.filter((e) => e.type === "sandbox.operation");
  for (const level of LEVEL_NAMES) {
    const rollups = new Map<string, { key: OperationRollupDoc["_id"]; tuple: SessionTuple; inc: Record<string, ExactInt>; maxima: boolean }>();
    const totals = new Map<number, { key: OperationTotalsDoc["_id"]; inc: Record<string, ExactInt>; maxima: boolean }>();
    const presence = new Map<string, SessionBucketDoc["_id"]>();
    for (const e of ops) {
      const t = new Date(bucketStart(e.ts.getTime(), level));
      const tuple = tupleOf(e);
      const id = `${t.getTime()}\u0000${tupleId(tuple)}`;
      let r = rollups.get(id);
      if (!r) rollups.set(id, (r = { key: rollupKey(e.org_id, t, tuple), tuple, inc: { n: 0, oom_killed_count: 0 }, maxima: false }));
      let tot = totals.get(t.getTime());
      if (!tot) totals.set(t.getTime(), (tot = { key: totalsKey(e.org_id, t), inc: { n: 0, oom_killed_count: 0, ns: 0 }, maxima: false }));
      for (const x of [r, tot]) {
        x.inc.n = addExact(x.inc.n!, -1);
        x.inc.oom_killed_count = addExact(x.inc.oom_killed_count!, e.oom_killed === true ? -1 : 0);
        for (const f of MEASURE_FIELDS) x.inc[f] = addExact(x.inc[f] ?? 0, -(e[f] ?? 0));
        if (e.peak_memory_mib !== null && e.peak_memory_mib !== undefined) x.maxima = true;
        if (e.reserved_memory_mib !== null && e.reserved_memory_mib !== undefined) x.maxima = true;
      }
      if (e.session_id !== undefined) presence.set(`${t.getTime()}\u0000${e.session_id}`, presenceId(e.org_id, level, t, e.session_id));
    }
    const coll = rollupCollection(cols, level);
    const writes: AnyBulkWriteOperation<OperationRollupDoc>[] = [];
    for (const r of rollups.values()) {
      writes.push({ updateOne: { filter: { _id: r.key }, update: { $inc: int64Values(r.inc) } } });
      if (r.maxima) writes.push({ updateOne: { filter: { _id: r.key }, update: { $set: await maximaFromBelow(cols, session, level, r.key, r.tuple) } } });
    }
    // Presence of the sessions whose events went, from the level below; the counters follow.
    for (const id of presence.values()) {
      const [stored] = await cols.sessionBuckets.find({ _id: id }, { session }).toArray();
      const before = stored?.tuples ?? [];
      const after = await presenceFromBelow(cols, session, id);
      // The totals count a session once per bucket, while it has any operation there.
      const counted = (after.length > 0 ? 1 : 0) - (before.length > 0 ? 1 : 0);
      if (counted !== 0) totals.get(id.t.getTime())!.inc.ns = addExact(totals.get(id.t.getTime())!.inc.ns!, counted);
      for (const c of creditChanges(before, after)) {
        writes.push({ updateOne: { filter: { _id: rollupKey(id.org_id, id.t, c.tuple) }, update: { $inc: { ns: c.ns, nf: c.nf } } } });
      }
      if (after.length === 0) await cols.sessionBuckets.deleteOne({ _id: id }, { session });
      else await cols.sessionBuckets.replaceOne({ _id: id }, { tuples: after, mixed: isMixed(after) }, { session });
    }
    if (writes.length > 0) await coll.bulkWrite(writes, { session, ordered: true });
    await coll.deleteMany({ _id: { $in: [...rollups.values()].map((r) => r.key) }, n: { $lte: 0 } }, { session });
    // The totals, after the level's rollups: their maxima are the maxima of those (now corrected).
    const totalsColl = totalsCollection(cols, level);
    const totalsWrites: AnyBulkWriteOperation<OperationTotalsDoc>[] = [];
    for (const tot of totals.values()) {
      totalsWrites.push({ updateOne: { filter: { _id: tot.key }, update: { $inc: int64Values(tot.inc) } } });
      if (tot.maxima) totalsWrites.push({ updateOne: { filter: { _id: tot.key }, update: { $set: await totalsMaxima(cols, session, level, tot.key) } } });
    }
    if (totalsWrites.length > 0) await totalsColl.bulkWrite(totalsWrites, { session, ordered: true });
    await totalsColl.deleteMany({ _id: { $in: [...totals.values()].map((x) => x.key) }, n: { $lte: 0 } }, { session });
  }
}

/** The maxima of one totals document: those of the level's rollup documents of its bucket. */
async function totalsMaxima(cols: Collections, session: ClientSession, level: Level, key: OperationTotalsDoc["_id"]): Promise<Document> {
  const [row] = await rollupCollection(cols, level)
    .aggregate([
      { $match: { "_id.org_id": key.org_id, "_id.t": key.t } },
      { $group: { _id: null, p: { $max: "$peak_memory_mib" }, r: { $max: "$reserved_memory_mib" } } },
    ], { session })
    .toArray();
  return { [MAX_FIELDS[0]]: row?.p ?? null, [MAX_FIELDS[1]]: row?.r ?? null };
}

const tupleMatch = (prefix: string, tuple: SessionTuple): Document =>
  Object.fromEntries(Object.entries(tuple).map(([k, v]) => [`${prefix}${k}`, v]));

/** The maxima of one rollup document, from the raw events (minutes) or the level below. */
async function maximaFromBelow(cols: Collections, session: ClientSession, level: Level, key: OperationRollupDoc["_id"], tuple: SessionTuple): Promise<Document> {
  const from = key.t;
  const to = new Date(key.t.getTime() + LEVELS[level].ms);
  const below = LEVEL_NAMES[LEVEL_NAMES.indexOf(level) - 1];
  const rows = below
    ? await rollupCollection(cols, below)
        .aggregate([
          { $match: { "_id.org_id": key.org_id, "_id.t": { $gte: from, $lt: to }, ...tupleMatch("_id.", tuple) } },
          { $group: { _id: null, p: { $max: "$peak_memory_mib" }, r: { $max: "$reserved_memory_mib" } } },
        ], { session })
        .toArray()
    : await cols.usageEvents
        .aggregate([
          { $match: { org_id: key.org_id, type: "sandbox.operation", ts: { $gte: from, $lt: to } } },
          { $match: Object.fromEntries(Object.entries(tuple).map(([k, v]) => [k, v === null ? { $in: [null] } : v])) },
          { $group: { _id: null, p: { $max: "$peak_memory_mib" }, r: { $max: "$reserved_memory_mib" } } },
        ], { session })
        .toArray();
  const row = rows[0] ?? {};
  return { [MAX_FIELDS[0]]: row.p ?? null, [MAX_FIELDS[1]]: row.r ?? null };
}

/** A session's tuples in one bucket, from its raw events (minutes) or its presence one level below. */
async function presenceFromBelow(cols: Collections, session: ClientSession, id: SessionBucketDoc["_id"]): Promise<SessionTuple[]> {
  const level = id.l;
  const from = id.t;
  const to = new Date(id.t.getTime() + LEVELS[level].ms);
  const tuples = new Map<string, SessionTuple>();
  const below = LEVEL_NAMES[LEVEL_NAMES.indexOf(level) - 1];
  if (below) {
    const ids: SessionBucketDoc["_id"][] = [];
    for (let t = from.getTime(); t < to.getTime(); t += LEVELS[below].ms) ids.push(presenceId(id.org_id, below, new Date(t), id.session_id));
    for (const doc of await cols.sessionBuckets.find({ _id: { $in: ids } }, { session }).toArray()) for (const t of doc.tuples) tuples.set(tupleId(t), t);
  } else {
    const events = await cols.usageEvents
      .find({ org_id: id.org_id, session_id: id.session_id, operation: { $in: [...SANDBOX_OPERATIONS] }, ts: { $gte: from, $lt: to } }, { session })
      .toArray();
    for (const e of events) if (e.type === "sandbox.operation") tuples.set(tupleId(tupleOf(e)), tupleOf(e));
  }
  return [...tuples.values()].sort((a, b) => (tupleId(a) < tupleId(b) ? -1 : 1));
}

/** Re-derives the sessions whose lifecycle events were voided, from the remaining ones. */
async function rederiveSessions(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const touched = new Map<string, { org: string; id: string }>();
  for (const e of events) {
    if (e.session_id === undefined || (e.operation !== "session_start" && !SESSION_END_OPERATIONS.includes(e.operation!))) continue;
    touched.set(`${e.org_id}/${e.session_id}`, { org: e.org_id, id: e.session_id });
  }
  for (const { org, id } of touched.values()) {
    const lifecycle = (ops: readonly SandboxOperation[]) =>
      cols.usageEvents.find({ org_id: org, session_id: id, operation: { $in: [...ops] } }, { session }).sort({ ts: 1, event_id: 1 }).limit(1).toArray();
    const [start] = await lifecycle(["session_start"]);
    const [end] = await lifecycle(SESSION_END_OPERATIONS);
    const base: StoredSession = { org_id: org, session_id: id };
    if (end) base.first_end = end.ts;
    if (!start && !end) {
      await cols.sessions.deleteOne({ org_id: org, session_id: id }, { session });
      continue;
    }
    const next = await withStart(cols, session, base, start ?? null);
    if (!start) delete next.end_at;
    else next.end_at ??= OPEN_SESSION_END;
    await cols.sessions.replaceOne({ org_id: org, session_id: id }, next, { session, upsert: true });
  }
}

/**
 * Re-derives alias and event tags of sandboxes whose tagged or aliased starts were voided, from
 * their remaining starts. Tags set through the tags API after the last tagged start are kept.
 */
async function rederiveSandboxes(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const touched = new Map<string, { org: string; sandbox: string }>();
  for (const e of events) {
    if (e.operation === "session_start" && (e.alias !== undefined || e.tags !== undefined)) touched.set(`${e.org_id}/${e.sandbox_id}`, { org: e.org_id, sandbox: e.sandbox_id });
  }
  for (const [key, { org, sandbox }] of touched) {
    const [doc] = await cols.sandboxes.find({ _id: key }, { session }).toArray();
    const fromApi = doc && doc.tags_updated_at && (!doc.tags_event_at || doc.tags_updated_at > doc.tags_event_at);
    const update: Document = { $unset: { alias: "", alias_at: "", alias_session: "", tags_event_at: "" } };
    if (!fromApi) update.$set = { tags: [], tags_updated_at: null };
    await cols.sandboxes.updateOne({ _id: key }, update, { session });
    const starts = await cols.usageEvents
      .find({ org_id: org, sandbox_id: sandbox, type: "sandbox.operation", operation: "session_start" }, { session })
      .toArray();
    await addSandboxEvents(cols, session, starts);
  }
}
