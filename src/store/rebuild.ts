/**
 * Recomputing every derived record from the raw events (`npm run rollups:rebuild`): after an
 * upgrade from a version with other rollups, a restore, or a repair. Each org-hour (minutes and
 * hours), then each org-day, is recomputed in its own transaction: its derived documents are
 * deleted and written anew from a snapshot of the events. It is safe while ingest goes on: an
 * ingest that commits into the same bucket meanwhile touches the same documents, so one of the two
 * transactions hits a write conflict and is retried on the newer snapshot; an ingest into a bucket
 * the rebuild does not write is not affected. Sessions and sandboxes are re-derived per org.
 */
import type { ClientSession, Document, MongoClient } from "mongodb";
import type { Collections, OperationRollupDoc, OperationTotalsDoc, SessionBucketDoc, SessionTuple } from "../db/collections.js";
import { addExact, type ExactInt, exactInt, withInt64 } from "../int64.js";
import { MS_PER_DAY, MS_PER_MINUTE } from "../time.js";
import { bucketStart, type Level, rollupKey, ROLLUP_DIMENSIONS, totalsKey, tupleId } from "./levels.js";
import { refreshMemoryMinutes } from "./memory.js";
import { markTotalsComplete } from "./meta.js";
import { MEASURE_FIELDS, presenceId, rollupCollection, totalsCollection } from "./operations.js";
import { creditsOf, isMixed } from "./presence.js";
import { addSandboxEvents } from "./sandboxes.js";
import { withStart, type StoredSession } from "./sessions.js";
import { inTransaction } from "./transaction.js";

const MS_PER_HOUR = 3_600_000;

/** One (bucket, tuple, session)'s operations, summed. */
interface Row {
  t: number;
  tuple: SessionTuple;
  /** null: a row of measures only; an empty `m`: a row of presence only. */
  session_id: string | null;
  m: Record<string, ExactInt | null>;
}

const SUMS = ["n", ...MEASURE_FIELDS, "oom_killed_count"] as const;
const MAXES = ["peak_memory_mib", "reserved_memory_mib"] as const;

const emptyMeasures = () => ({ n: 0, request_count: 0, duration_ms: 0, workspace_bytes_in: 0, workspace_bytes_out: 0, files_changed_count: 0, oom_killed_count: 0,
  peak_memory_mib: null, reserved_memory_mib: null, ns: 0 });

/** The documents of one level over some rows: rollups with their counters, totals, and presence. */
function levelDocuments(orgId: string, level: Level, rows: readonly Row[]): { rollups: OperationRollupDoc[]; totals: OperationTotalsDoc[]; presence: SessionBucketDoc[] } {
  const rollups = new Map<string, OperationRollupDoc>();
  const totals = new Map<number, OperationTotalsDoc>();
  const presence = new Map<string, { id: SessionBucketDoc["_id"]; tuples: Map<string, SessionTuple> }>();
  for (const r of rows) {
    const t = bucketStart(r.t, level);
    const rid = `${t}\u0000${tupleId(r.tuple)}`;
    let doc = rollups.get(rid);
    if (!doc) rollups.set(rid, (doc = { _id: rollupKey(orgId, new Date(t), r.tuple), ...emptyMeasures(), nf: 0 }));
    let tot = totals.get(t);
    if (!tot) totals.set(t, (tot = { _id: totalsKey(orgId, new Date(t)), ...emptyMeasures() }));
    for (const d of [doc, tot] as unknown as Array<Record<string, ExactInt | null>>) {
      for (const f of SUMS) d[f] = addExact(d[f] as ExactInt, r.m[f] ?? 0);
      for (const f of MAXES) if (r.m[f] !== null && r.m[f] !== undefined && (d[f] === null || (r.m[f] as number) > (d[f] as number))) d[f] = r.m[f]!;
    }
    if (r.session_id === null) continue;
    const pid = `${t}\u0000${r.session_id}`;
    let p = presence.get(pid);
    if (!p) presence.set(pid, (p = { id: presenceId(orgId, level, new Date(t), r.session_id), tuples: new Map() }));
    p.tuples.set(tupleId(r.tuple), r.tuple);
  }
  const docs: SessionBucketDoc[] = [];
  for (const p of presence.values()) {
    const tuples = [...p.tuples.values()].sort((a, b) => (tupleId(a) < tupleId(b) ? -1 : 1));
    docs.push({ _id: p.id, tuples, mixed: isMixed(tuples) });
    totals.get(p.id.t.getTime())!.ns += 1;
    for (const c of creditsOf(tuples)) {
      const doc = rollups.get(`${p.id.t.getTime()}\u0000${tupleId(c.tuple)}`)!;
      doc.ns += c.ns;
      doc.nf += c.nf;
    }
  }
  return { rollups: [...rollups.values()], totals: [...totals.values()], presence: docs };
}

async function replaceLevel(cols: Collections, session: ClientSession, orgId: string, level: Level, from: number, to: number, rows: readonly Row[]) {
  const range = { $gte: new Date(from), $lt: new Date(to) };
  const coll = rollupCollection(cols, level);
  const totalsColl = totalsCollection(cols, level);
  await coll.deleteMany({ "_id.org_id": orgId, "_id.t": range }, { session });
  await totalsColl.deleteMany({ "_id.org_id": orgId, "_id.t": range }, { session });
  await cols.sessionBuckets.deleteMany({ "_id.org_id": orgId, "_id.l": level, "_id.t": range }, { session });
  const { rollups, totals, presence } = levelDocuments(orgId, level, rows);
  if (rollups.length > 0) await coll.insertMany(rollups.map((r) => withInt64(r, SUMS)), { session });
  if (totals.length > 0) await totalsColl.insertMany(totals.map((r) => withInt64(r, SUMS)), { session });
  if (presence.length > 0) await cols.sessionBuckets.insertMany(presence, { session });
}

/** The operations of one org in [from, to) as rows per (minute, tuple, session), from the raw events. */
async function rawRows(cols: Collections, session: ClientSession, orgId: string, from: number, to: number): Promise<Row[]> {
  const key: Document = { t: { $dateTrunc: { date: "$ts", unit: "minute", binSize: 1, timezone: "UTC" } }, session_id: "$session_id" };
  for (const d of ROLLUP_DIMENSIONS) key[d] = { $ifNull: [`$${d}`, null] };
  const group: Document = { _id: key, n: { $sum: 1 }, oom_killed_count: { $sum: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } } };
  for (const f of MEASURE_FIELDS) group[f] = { $sum: `$${f}` };
  for (const f of MAXES) group[f] = { $max: `$${f}` };
  const out = await cols.usageEvents
    .aggregate<Document>([{ $match: { org_id: orgId, type: "sandbox.operation", ts: { $gte: new Date(from), $lt: new Date(to) } } }, { $group: group }], { session, allowDiskUse: true })
    .toArray();
  return out.map((r) => {
    const tuple = Object.fromEntries(ROLLUP_DIMENSIONS.map((d) => [d, r._id[d] ?? null])) as unknown as SessionTuple;
    const m: Record<string, ExactInt | null> = {};
    for (const f of [...SUMS]) m[f] = exactInt(r[f]);
    for (const f of MAXES) m[f] = r[f] ?? null;
    return { t: r._id.t.getTime(), tuple, session_id: r._id.session_id, m };
  });
}

/** Rows of one level's documents (with presence as zero-measure rows), to build the next level from. */
async function rowsFromLevel(cols: Collections, session: ClientSession, orgId: string, level: Level, from: number, to: number): Promise<Row[]> {
  const range = { $gte: new Date(from), $lt: new Date(to) };
  const rows: Row[] = [];
  for (const d of await rollupCollection(cols, level).find({ "_id.org_id": orgId, "_id.t": range }, { session }).toArray()) {
    const { org_id: _o, t, ...tuple } = d._id;
    const m: Record<string, ExactInt | null> = {};
    for (const f of SUMS) m[f] = exactInt((d as unknown as Record<string, unknown>)[f]);
    for (const f of MAXES) m[f] = (d as unknown as Record<string, number | null>)[f] ?? null;
    rows.push({ t: t.getTime(), tuple: tuple as SessionTuple, session_id: null, m });
  }
  for (const p of await cols.sessionBuckets.find({ "_id.org_id": orgId, "_id.l": level, "_id.t": range }, { session }).toArray()) {
    for (const tuple of p.tuples) rows.push({ t: p._id.t.getTime(), tuple, session_id: p._id.session_id, m: {} });
  }
  return rows;
}

export interface RebuildReport {
  orgs: number;
  hours: number;
  days: number;
}

/** Recomputes one org-day: its hours (minutes and hours) one transaction each, then the day. */
export async function rebuildDay(client: MongoClient, cols: Collections, orgId: string, day: number): Promise<number> {
  let hours = 0;
  for (let h = day; h < day + MS_PER_DAY; h += MS_PER_HOUR) {
    const wrote = await inTransaction(client, async (session) => {
      const rows = await rawRows(cols, session, orgId, h, h + MS_PER_HOUR);
      const memory = await cols.usageEvents.distinct("sandbox_id", { org_id: orgId, type: "sandbox.memory", ts: { $gte: new Date(h), $lt: new Date(h + MS_PER_HOUR) } }, { session });
      await cols.memoryByMinute.deleteMany({ "_id.org_id": orgId, "_id.t": { $gte: new Date(h), $lt: new Date(h + MS_PER_HOUR) } }, { session });
      const minutes = new Set<number>();
      for (let m = h; m < h + MS_PER_HOUR; m += MS_PER_MINUTE) minutes.add(m);
      await refreshMemoryMinutes(cols, session, memory.map((sandboxId) => ({ orgId, sandboxId, minutes })));
      await replaceLevel(cols, session, orgId, "1m", h, h + MS_PER_HOUR, rows);
      await replaceLevel(cols, session, orgId, "1h", h, h + MS_PER_HOUR, rows);
      return rows.length > 0;
    });
    if (wrote) hours++;
  }
  await inTransaction(client, async (session) => {
    const rows = await rowsFromLevel(cols, session, orgId, "1h", day, day + MS_PER_DAY);
    await replaceLevel(cols, session, orgId, "1d", day, day + MS_PER_DAY, rows);
  });
  return hours;
}

/** Re-derives every session and sandbox of one org from its lifecycle events. */
async function rebuildSessions(client: MongoClient, cols: Collections, orgId: string): Promise<void> {
  const ids = await cols.usageEvents.distinct("session_id", { org_id: orgId, type: "sandbox.operation" });
  const BATCH = 500;
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH).filter((x): x is string => typeof x === "string");
    await inTransaction(client, async (session) => {
      for (const id of batch) {
        const first = (ops: string[]) =>
          cols.usageEvents.find({ org_id: orgId, session_id: id, operation: { $in: ops as never[] } }, { session }).sort({ ts: 1, event_id: 1 }).limit(1).toArray();
        const [start] = await first(["session_start"]);
        const [end] = await first(["session_stop", "session_terminate"]);
        if (!start && !end) continue;
        const base: StoredSession = { org_id: orgId, session_id: id };
        if (end) base.first_end = end.ts;
        const next = await withStart(cols, session, base, start ?? null);
        await cols.sessions.replaceOne({ org_id: orgId, session_id: id }, next, { session, upsert: true });
      }
    });
  }
  const starts = await cols.usageEvents.find({ org_id: orgId, type: "sandbox.operation", operation: "session_start" }).toArray();
  await inTransaction(client, async (session) => {
    await cols.sandboxes.updateMany({ org_id: orgId }, { $unset: { alias: "", alias_at: "", alias_session: "", tags_event_at: "" } }, { session });
    await addSandboxEvents(cols, session, starts);
  });
}

/**
 * Derived documents with no events behind them: of orgs without events, and outside each org's
 * days with events. Each org in its own transaction, so an org whose first events commit meanwhile
 * keeps what they wrote (the transaction sees, and deletes, only documents of its snapshot).
 */
async function removeStrays(client: MongoClient, cols: Collections, orgs: readonly string[]): Promise<void> {
  const derived = [cols.opsByMinute, cols.opsByHour, cols.opsByDay, cols.totalsByMinute, cols.totalsByHour, cols.totalsByDay, cols.sessionBuckets, cols.memoryByMinute] as const;
  const seen = new Set<string>();
  for (const c of derived) for (const o of await c.distinct("_id.org_id")) seen.add(String(o));
  for (const org of seen) {
    await inTransaction(client, async (session) => {
      const [range] = await cols.usageEvents
        .aggregate<{ min: Date; max: Date }>([{ $match: { org_id: org } }, { $group: { _id: null, min: { $min: "$ts" }, max: { $max: "$ts" } } }], { session })
        .toArray();
      const filter: Document = { "_id.org_id": org };
      if (range) {
        const first = Math.floor(range.min.getTime() / MS_PER_DAY) * MS_PER_DAY;
        const last = Math.floor(range.max.getTime() / MS_PER_DAY) * MS_PER_DAY + MS_PER_DAY;
        filter.$or = [{ "_id.t": { $lt: new Date(first) } }, { "_id.t": { $gte: new Date(last) } }];
      }
      for (const c of derived) await (c as unknown as import("mongodb").Collection).deleteMany(filter, { session });
    });
  }
  void orgs;
}

/**
 * Recomputes every derived record of every org, a day at a time. Documents of buckets without
 * events (strays from an older version) are removed by the day's replacement, and those of days
 * outside any org's events at the start.
 */
export async function rebuildAll(client: MongoClient, cols: Collections, opts: { onDay?: (org: string, day: Date) => void } = {}): Promise<RebuildReport> {
  const orgs = (await cols.usageEvents.distinct("org_id")).sort();
  await removeStrays(client, cols, orgs);
  let hours = 0;
  let days = 0;
  for (const org of orgs) {
    const [range] = await cols.usageEvents
      .aggregate<{ min: Date; max: Date }>([{ $match: { org_id: org } }, { $group: { _id: null, min: { $min: "$ts" }, max: { $max: "$ts" } } }])
      .toArray();
    if (!range) continue;
    const first = Math.floor(range.min.getTime() / MS_PER_DAY) * MS_PER_DAY;
    const last = Math.floor(range.max.getTime() / MS_PER_DAY) * MS_PER_DAY;
    for (let day = first; day <= last; day += MS_PER_DAY) {
      hours += await rebuildDay(client, cols, org, day);
      opts.onDay?.(org, new Date(day));
      days++;
    }
    await rebuildSessions(client, cols, org);
  }
  await markTotalsComplete(cols);
  return { orgs: orgs.length, hours, days };
}
