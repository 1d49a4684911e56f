/**
 * OpenComputer's per-sandbox memory series (DESIGN §3), for one or many sandboxes in one
 * aggregation that emits rows, never a whole series in one document: one row per sandbox-minute
 * that has samples (`{sb, t, used, n, peak}`), then one row per session clamped to the window
 * (`{sb, s, e, mb}`). The service (services/memorySeries.ts) lays the sessions over the minutes,
 * fills every other minute of the window with zeros and rounds, so no `$densify` is needed and a
 * 30-day series costs the server only the minutes that hold samples.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";
import type { PlannedPipeline, UsageSource } from "./sandboxUsage.js";
import { MS_PER_MINUTE } from "../time.js";
import { sessionsOverlapping, type Window } from "./runtime.js";

export interface MemoryUsageQuery {
  /** Samples from their per-minute rollup (usage_memory_1m), or raw from usage_events. */
  source: UsageSource;
  orgId: string;
  sandboxIds: string[];
  window: Window;
  now: Date;
  /** X-On-Behalf-Of: only this external user's sessions count as provisioned time. */
  externalUserId: string | null;
}

/** The samples of one sandbox-minute: their sum and count (MiB) and their maximum. */
export interface MemorySampleRow {
  sb: string;
  /** Minute start. */
  t: Date;
  used: number;
  n: number;
  peak: number;
}

/** One session of a sandbox, clamped to the window (s < e); `mb` is 0 when it has no memory_mb. */
export interface MemorySessionRow {
  sb: string;
  s: Date;
  e: Date;
  mb: number;
}

export type MemoryRow = MemorySampleRow | MemorySessionRow;
export const isSessionRow = (r: MemoryRow): r is MemorySessionRow => "s" in r;

export const floorMinute = (t: Date) => new Date(Math.floor(t.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);
export const ceilMinute = (t: Date) => new Date(Math.ceil(t.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);

/**
 * The samples of the window's minutes, one row per sandbox-minute. A sample belongs to the minute
 * its timestamp falls in, including the whole of a boundary minute, so the per-minute rollup
 * answers exactly. Raw samples are summed in time order with `$sum`, as the rollup is kept
 * (store/memory.ts), so both sources give the same doubles. Served by
 * usage_memory_1m_org_sandbox_t, or raw by usage_events_org_sandbox_type_ts.
 */
function sampleStages(q: MemoryUsageQuery, sandboxes: unknown, first: Date, end: Date): PlannedPipeline {
  if (q.source === "rollups") {
    return {
      collection: COLLECTIONS.memoryByMinute,
      pipeline: [
        { $match: { "_id.org_id": q.orgId, "_id.sandbox_id": sandboxes, "_id.t": { $gte: first, $lt: end } } },
        { $project: { _id: 0, sb: "$_id.sandbox_id", t: "$_id.t", used: 1, n: 1, peak: 1 } },
      ],
    };
  }
  return {
    collection: COLLECTIONS.usageEvents,
    pipeline: [
      { $match: { org_id: q.orgId, sandbox_id: sandboxes, type: "sandbox.memory", ts: { $gte: first, $lt: end } } },
      { $sort: { ts: 1 } },
      {
        $group: {
          _id: { sb: "$sandbox_id", t: { $dateTrunc: { date: "$ts", unit: "minute", binSize: 1, timezone: "UTC" } } },
          used: { $sum: "$used_memory_mb" },
          n: { $sum: 1 },
          peak: { $max: "$used_memory_mb" },
        },
      },
      { $project: { _id: 0, sb: "$_id.sb", t: "$_id.t", used: 1, n: 1, peak: 1 } },
    ],
  };
}

/**
 * The samples (sampleStages), then the sessions, served by sessions_org_sandbox_started_at. User
 * values only appear in `$match` (compared, never evaluated); the window's dates are constants.
 */
export function buildMemoryUsagePipeline(q: MemoryUsageQuery): PlannedPipeline {
  const { from, to } = q.window;
  const first = floorMinute(from);
  const end = ceilMinute(to);
  const sandboxes = q.sandboxIds.length === 1 ? q.sandboxIds[0] : { $in: q.sandboxIds };
  const sessionMatch: Document = { org_id: q.orgId, sandbox_id: sandboxes, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) sessionMatch.external_user_id = q.externalUserId;
  const samples = sampleStages(q, sandboxes, first, end);
  return {
    collection: samples.collection,
    pipeline: [
      ...samples.pipeline,
      {
        $unionWith: {
          coll: COLLECTIONS.sessions,
          pipeline: [
            { $match: sessionMatch },
            {
              $project: {
                _id: 0,
                sb: "$sandbox_id",
                mb: { $ifNull: ["$memory_mb", 0] },
                s: { $max: ["$started_at", { $literal: from }] },
                e: { $min: [{ $ifNull: ["$ended_at", { $literal: q.now }] }, { $literal: to }] },
              },
            },
            { $match: { $expr: { $lt: ["$s", "$e"] } } },
          ],
        },
      },
    ],
  };
}

export const MEMORY_USAGE_INDEX = {
  samples: INDEXES.memoryByMinuteOrgSandboxTime,
  rawSamples: INDEXES.eventsByOrgSandboxTypeTime,
  sessions: INDEXES.sessionsByOrgSandboxStart,
};
