/**
 * Pre-aggregated usage, so an answer costs in proportion to the buckets it returns rather than to
 * the raw events behind them:
 *
 *   usage_ops_1h    ← usage_events (operations)   one document per org × UTC hour × dimensions
 *   usage_ops_1d    ← usage_ops_1h                 … × day
 *   usage_memory_1m ← usage_events (memory)        one document per sandbox × UTC minute
 *
 * There is no per-minute operation rollup: at the densities measured (npm run bench) a minute
 * holds about one event per dimension value, so it compressed events less than 2:1 while costing
 * 40% of an ingest. Sub-hour stretches and 1m buckets read raw events.
 *
 * A rollup document is never incremented: the buckets an ingest touched are recomputed from the
 * level below and merged with "the larger event count wins". Events are only ever added, so for
 * one key a recomputation that saw more events is the newer one, and one that saw as many saw the
 * same events. That makes the merge monotone: late, out-of-order, duplicated, retried and
 * concurrent ingests all converge on the rollup of what is stored, with no transaction — each level
 * is refreshed after the one below it, by the same ingest that changed it.
 */
import type { Document } from "mongodb";
import { COLLECTIONS } from "../db/collections.js";

export const OPERATION_LEVELS = {
  "1h": { collection: COLLECTIONS.opsByHour, ms: 3_600_000 },
  "1d": { collection: COLLECTIONS.opsByDay, ms: 86_400_000 },
} as const;
export type OperationLevel = keyof typeof OPERATION_LEVELS;

/** The MKA1 dimensions every operation rollup keeps (group-by at query time picks among them). */
export const ROLLUP_DIMENSIONS = ["user_id", "api_key_id", "operation", "provider", "session_kind"] as const;

/** `mode`: "refresh" keeps whichever of stored and recomputed saw more events; "rebuild" overwrites. */
export type MergeMode = "refresh" | "rebuild";

function mergeInto(collection: string, mode: MergeMode): Document {
  const whenMatched = mode === "rebuild" ? "replace" : [{ $replaceWith: { $cond: [{ $gte: ["$$new.n", "$n"] }, "$$new", "$$ROOT"] } }];
  return { $merge: { into: collection, on: "_id", whenMatched, whenNotMatched: "insert" } };
}

export const truncate = (date: unknown, unit: string): Document => ({ $dateTrunc: { date, unit, binSize: 1, timezone: "UTC" } });

/** $max over no numbers is null in MongoDB; make it so whatever the engine returns. */
const nullIfMissing = { peak_memory_mib: { $ifNull: ["$peak_memory_mib", null] }, reserved_memory_mib: { $ifNull: ["$reserved_memory_mib", null] } };

/** Union of the `sessions` arrays a $group pushed. */
export const unionOfPushed = (field: string): Document => ({ $reduce: { input: field, initialValue: [], in: { $setUnion: ["$$value", "$$this"] } } });

/**
 * One org's operations in [from, to) (whole hours) → usage_ops_1h. Runs on usage_events; its
 * $match is served by usage_events_org_type_ts ({org_id, type, ts}).
 */
export function buildOperationHoursPipeline(orgId: string, from: Date, to: Date, mode: MergeMode): Document[] {
  const key: Document = { org_id: "$org_id", t: truncate("$ts", "hour") };
  for (const dim of ROLLUP_DIMENSIONS) key[dim] = { $ifNull: [`$${dim}`, null] };
  return [
    { $match: { org_id: orgId, type: "sandbox.operation", ts: { $gte: from, $lt: to } } },
    {
      $group: {
        _id: key,
        n: { $sum: 1 },
        request_count: { $sum: "$request_count" },
        duration_ms: { $sum: "$duration_ms" },
        workspace_bytes_in: { $sum: "$workspace_bytes_in" },
        workspace_bytes_out: { $sum: "$workspace_bytes_out" },
        files_changed_count: { $sum: "$files_changed_count" },
        oom_killed_count: { $sum: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } },
        peak_memory_mib: { $max: "$peak_memory_mib" },
        reserved_memory_mib: { $max: "$reserved_memory_mib" },
        sessions: { $addToSet: "$session_id" },
      },
    },
    { $set: nullIfMissing },
    mergeInto(COLLECTIONS.opsByHour, mode),
  ];
}

/**
 * One org's day rollups over [from, to) (whole days) from its hour rollups. Runs on usage_ops_1h;
 * its $match is served by usage_ops_1h_org_t.
 */
export function buildOperationDaysPipeline(orgId: string, from: Date, to: Date, mode: MergeMode): Document[] {
  const key: Document = { org_id: "$_id.org_id", t: truncate("$_id.t", "day") };
  for (const dim of ROLLUP_DIMENSIONS) key[dim] = `$_id.${dim}`;
  return [
    { $match: { "_id.org_id": orgId, "_id.t": { $gte: from, $lt: to } } },
    {
      $group: {
        _id: key,
        n: { $sum: "$n" },
        request_count: { $sum: "$request_count" },
        duration_ms: { $sum: "$duration_ms" },
        workspace_bytes_in: { $sum: "$workspace_bytes_in" },
        workspace_bytes_out: { $sum: "$workspace_bytes_out" },
        files_changed_count: { $sum: "$files_changed_count" },
        oom_killed_count: { $sum: "$oom_killed_count" },
        peak_memory_mib: { $max: "$peak_memory_mib" },
        reserved_memory_mib: { $max: "$reserved_memory_mib" },
        sessions: { $push: "$sessions" },
      },
    },
    { $set: { ...nullIfMissing, sessions: unionOfPushed("$sessions") } },
    mergeInto(COLLECTIONS.opsByDay, mode),
  ];
}

/**
 * Memory samples of one org's `sandboxIds` (null: all of them) in [from, to) (whole minutes) →
 * usage_memory_1m. Runs on usage_events; served by usage_events_org_sandbox_type_ts, or
 * usage_events_org_type_ts for every sandbox. Samples reach the $group in time order, as they do
 * in the raw series, so the sums are the same doubles.
 */
export function buildMemoryMinutesPipeline(orgId: string, sandboxIds: string[] | null, from: Date, to: Date, mode: MergeMode): Document[] {
  const match: Document = { org_id: orgId };
  if (sandboxIds) match.sandbox_id = sandboxIds.length === 1 ? sandboxIds[0] : { $in: sandboxIds };
  Object.assign(match, { type: "sandbox.memory", ts: { $gte: from, $lt: to } });
  return [
    { $match: match },
    {
      $group: {
        _id: { org_id: "$org_id", sandbox_id: "$sandbox_id", t: truncate("$ts", "minute") },
        used: { $sum: "$used_memory_mb" },
        n: { $sum: 1 },
        peak: { $max: "$used_memory_mb" },
      },
    },
    mergeInto(COLLECTIONS.memoryByMinute, mode),
  ];
}
