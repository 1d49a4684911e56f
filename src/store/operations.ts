/**
 * Adding operation events to the rollups, inside the ingest transaction: each level's documents get
 * the events' measures with `$inc`/`$max` — the operation rollups (per dimension tuple) and the
 * totals (per org and bucket) — and the presence documents of the (level, bucket, session)s the
 * events fall in are read once and rewritten only when a tuple is new there. A presence document
 * that did not exist before is a session new to the bucket: the totals count it then, once. The
 * work is proportional to the batch, whatever the buckets already hold.
 */
import type { AnyBulkWriteOperation, ClientSession, Collection, Document } from "mongodb";
import type { Collections, OperationRollupDoc, OperationTotalsDoc, SessionBucketDoc, SessionTuple, UsageEventDoc } from "../db/collections.js";
import { addExact, type ExactInt, int64Values } from "../int64.js";
import { bucketStart, type Level, LEVEL_NAMES, rollupKey, totalsKey, tupleId, tupleOf } from "./levels.js";
import { creditChanges, isMixed, withTuples } from "./presence.js";

export const MEASURE_FIELDS = ["request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count"] as const;

const COUNTERS = ["n", ...MEASURE_FIELDS, "oom_killed_count", "ns", "nf"] as const;
const TOTALS_COUNTERS = ["n", ...MEASURE_FIELDS, "oom_killed_count", "ns"] as const;

/** What one batch adds to one rollup (or totals) document. */
interface RollupDelta {
  key: OperationRollupDoc["_id"] | OperationTotalsDoc["_id"];
  inc: Record<string, ExactInt>;
  peak: number | null;
  reserved: number | null;
}

const rollupCollection = (cols: Collections, level: Level) => (level === "1m" ? cols.opsByMinute : level === "1h" ? cols.opsByHour : cols.opsByDay);
const totalsCollection = (cols: Collections, level: Level): Collection<OperationTotalsDoc> =>
  level === "1m" ? cols.totalsByMinute : level === "1h" ? cols.totalsByHour : cols.totalsByDay;

export const presenceId = (orgId: string, level: Level, t: Date, sessionId: string): SessionBucketDoc["_id"] => ({ org_id: orgId, l: level, t, session_id: sessionId });

const maxOf = (a: number | null, b: number | null | undefined): number | null => (b === null || b === undefined ? a : a === null || b > a ? b : a);

class Deltas {
  readonly byLevel = new Map<Level, Map<string, RollupDelta>>(LEVEL_NAMES.map((l) => [l, new Map()]));
  readonly totalsByLevel = new Map<Level, Map<string, RollupDelta>>(LEVEL_NAMES.map((l) => [l, new Map()]));

  entry(level: Level, orgId: string, t: Date, tuple: SessionTuple): RollupDelta {
    const map = this.byLevel.get(level)!;
    const id = `${orgId}\u0000${t.getTime()}\u0000${tupleId(tuple)}`;
    let d = map.get(id);
    if (!d) map.set(id, (d = { key: rollupKey(orgId, t, tuple), inc: {}, peak: null, reserved: null }));
    return d;
  }

  totals(level: Level, orgId: string, t: Date): RollupDelta {
    const map = this.totalsByLevel.get(level)!;
    const id = `${orgId}\u0000${t.getTime()}`;
    let d = map.get(id);
    if (!d) map.set(id, (d = { key: totalsKey(orgId, t), inc: {}, peak: null, reserved: null }));
    return d;
  }
}

/** Exact past 2^53: a batch of 5,000 events each near 2^53 sums far past it. */
const bump = (inc: Record<string, ExactInt>, field: string, by: number) => {
  if (by !== 0) inc[field] = addExact(inc[field] ?? 0, by);
};

function rollupWrite(d: RollupDelta, counters: readonly string[] = COUNTERS): AnyBulkWriteOperation<Document> {
  const update: Document = {};
  // Integers past int32 go as int64: MongoDB's $inc then stays integer arithmetic, exact.
  if (Object.keys(d.inc).length > 0) update.$inc = int64Values(d.inc);
  const max: Document = {};
  const onInsert: Document = {};
  // Every counter exists from the start, whether this batch moved it or not.
  for (const f of counters) if (!(f in d.inc)) onInsert[f] = 0;
  if (d.peak !== null) max.peak_memory_mib = d.peak;
  else onInsert.peak_memory_mib = null;
  if (d.reserved !== null) max.reserved_memory_mib = d.reserved;
  else onInsert.reserved_memory_mib = null;
  if (Object.keys(max).length > 0) update.$max = max;
  if (Object.keys(onInsert).length > 0) update.$setOnInsert = onInsert;
  return { updateOne: { filter: { _id: d.key }, update, upsert: true } };
}

/** Adds newly stored operation events (never duplicates) to every level, in `session`'s transaction. */
export async function addOperations(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const ops = events.filter((e) => e.type === "sandbox.operation");
  if (ops.length === 0) return;
  const deltas = new Deltas();
  const presence = new Map<string, { id: SessionBucketDoc["_id"]; level: Level; tuples: Map<string, SessionTuple> }>();
  for (const e of ops) {
    const tuple = tupleOf(e);
    const ms = e.ts.getTime();
    for (const level of LEVEL_NAMES) {
      const t = new Date(bucketStart(ms, level));
      for (const d of [deltas.entry(level, e.org_id, t, tuple), deltas.totals(level, e.org_id, t)]) {
        bump(d.inc, "n", 1);
        for (const f of MEASURE_FIELDS) bump(d.inc, f, e[f] ?? 0);
        bump(d.inc, "oom_killed_count", e.oom_killed === true ? 1 : 0);
        d.peak = maxOf(d.peak, e.peak_memory_mib);
        d.reserved = maxOf(d.reserved, e.reserved_memory_mib);
      }
      if (e.session_id === undefined) continue;
      const pid = `${level}\u0000${e.org_id}\u0000${t.getTime()}\u0000${e.session_id}`;
      let p = presence.get(pid);
      if (!p) presence.set(pid, (p = { id: presenceId(e.org_id, level, t, e.session_id), level, tuples: new Map() }));
      p.tuples.set(tupleId(tuple), tuple);
    }
  }

  const wanted = [...presence.values()];
  const stored = new Map<string, SessionBucketDoc>();
  if (wanted.length > 0) {
    const found = await cols.sessionBuckets.find({ _id: { $in: wanted.map((p) => p.id) } }, { session }).toArray();
    for (const doc of found) stored.set(`${doc._id.l}\u0000${doc._id.org_id}\u0000${doc._id.t.getTime()}\u0000${doc._id.session_id}`, doc);
  }
  const presenceWrites: AnyBulkWriteOperation<SessionBucketDoc>[] = [];
  for (const [pid, p] of presence) {
    const before = stored.get(pid)?.tuples ?? [];
    const after = withTuples(before, p.tuples.values(), p.id.session_id);
    if (after === null) continue;
    // A session's first operation in the bucket: the totals count it, once, whatever its tuples.
    if (before.length === 0) bump(deltas.totals(p.level, p.id.org_id, p.id.t).inc, "ns", 1);
    for (const c of creditChanges(before, after)) {
      const d = deltas.entry(p.level, p.id.org_id, p.id.t, c.tuple);
      bump(d.inc, "ns", c.ns);
      bump(d.inc, "nf", c.nf);
    }
    presenceWrites.push({ replaceOne: { filter: { _id: p.id }, replacement: { tuples: after, mixed: isMixed(after) }, upsert: true } });
  }

  for (const level of LEVEL_NAMES) {
    const writes = [...deltas.byLevel.get(level)!.values()].map((d) => rollupWrite(d));
    if (writes.length > 0) await rollupCollection(cols, level).bulkWrite(writes as AnyBulkWriteOperation<OperationRollupDoc>[], { session, ordered: false });
    const totals = [...deltas.totalsByLevel.get(level)!.values()].map((d) => rollupWrite(d, TOTALS_COUNTERS));
    if (totals.length > 0) await totalsCollection(cols, level).bulkWrite(totals as AnyBulkWriteOperation<OperationTotalsDoc>[], { session, ordered: false });
  }
  if (presenceWrites.length > 0) await cols.sessionBuckets.bulkWrite(presenceWrites, { session, ordered: false });
}

export { rollupCollection, totalsCollection };
