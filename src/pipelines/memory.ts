/**
 * OpenComputer's per-sandbox memory series (DESIGN §3), for one or many sandboxes in one
 * aggregation: their memory samples by minute, unioned with their sessions cut into the minutes
 * they cover (clamped to the window) and one seed per sandbox, grouped by sandbox and minute,
 * gap-filled with `$densify` over every minute of the window per sandbox, then one document per
 * sandbox with its points and totals.
 *
 * Integrals are summed in whole milliseconds × MiB (exact in a double) and rounded once per point:
 * GiB-seconds to 2 decimals (the document's 35.86), seconds to milliseconds. Totals are the sums of
 * the rounded points, so a client summing `points[]` reproduces them exactly.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";
import type { PlannedPipeline, UsageSource } from "./sandboxUsage.js";
import { MS_PER_MINUTE } from "../time.js";
import { sessionsOverlapping, type Window } from "./runtime.js";

const GIB_SECOND_DECIMALS = 2;
const SECONDS_DECIMALS = 3;
const MB_DECIMALS = 2;
/** MiB × ms per GiB-second. */
const MB_MS_PER_GIB_SECOND = 1024 * 1000;

export interface MemoryUsageQuery {
  /** Samples from their per-minute rollup (usage_memory_1m), or raw from usage_events. */
  source: UsageSource;
  orgId: string;
  /** One document comes out per sandbox, also for one without sessions or samples. */
  sandboxIds: string[];
  window: Window;
  now: Date;
  /** X-On-Behalf-Of: only this external user's sessions count as provisioned time. */
  externalUserId: string | null;
}

/**
 * One minute, with short field names: a 30-day window is 43,200 of these inside one sandbox's
 * document. Minutes `$densify` generated carry only `sb` and `t`: their measures are all 0.
 */
export interface MemoryPointRow {
  sb: string;
  /** Minute start. */
  t: Date;
  /** memoryAllocatedGbSeconds */
  a?: number;
  /** memoryUsedGbSeconds */
  u?: number;
  /** uptimeSeconds */
  s?: number;
  /** allocatedMemoryMb (time-weighted over the minute's uptime) */
  m?: number;
  /** usedMemoryMbAvg */
  v?: number;
  /** usedMemoryMbPeak */
  p?: number;
}

export interface MemoryTotalsRow {
  memoryAllocatedGbSeconds: number;
  memoryUsedGbSeconds: number;
  uptimeSeconds: number;
  memoryAllocatedPeakMb: number;
  memoryUsedPeakMb: number;
}

export interface MemoryUsageRow extends MemoryTotalsRow {
  /** The sandbox id. */
  _id: string;
  points: MemoryPointRow[];
}

export const floorMinute = (t: Date) => new Date(Math.floor(t.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);
export const ceilMinute = (t: Date) => new Date(Math.ceil(t.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);

/**
 * The samples of the window's minutes, one document per sample (raw) or per sandbox-minute
 * (rollup), as `{sb, t, used, n, peak}`. A sample belongs to the minute its timestamp falls in,
 * including the whole of a boundary minute, so the per-minute rollup answers exactly. Served by
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
      { $project: { _id: 0, sb: "$sandbox_id", t: { $dateTrunc: { date: "$ts", unit: "minute" } }, used: "$used_memory_mb", n: { $literal: 1 }, peak: "$used_memory_mb" } },
    ],
  };
}

/**
 * The samples (sampleStages), then the sessions branch, served by sessions_org_sandbox_started_at.
 */
export function buildMemoryUsagePipeline(q: MemoryUsageQuery): PlannedPipeline {
  const { from, to } = q.window;
  const first = floorMinute(from);
  const end = ceilMinute(to);
  const sandboxes = q.sandboxIds.length === 1 ? q.sandboxIds[0] : { $in: q.sandboxIds };
  const minuteStart = (i: unknown) => ({ $add: [first, { $multiply: [i, MS_PER_MINUTE] }] });
  const minuteIndex = (t: string, round: "$floor" | "$ceil") => ({
    $toInt: { [round]: { $divide: [{ $subtract: [t, first] }, MS_PER_MINUTE] } },
  });
  const sessionMatch: Document = { org_id: q.orgId, sandbox_id: sandboxes, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) sessionMatch.external_user_id = q.externalUserId;

  const up = "$up";
  const provisioned = { $gt: [up, 0] };
  const avg = { $cond: [{ $and: [provisioned, { $gt: ["$n", 0] }] }, { $divide: ["$used", "$n"] }, 0] };
  const round = (x: unknown, d: number) => ({ $round: [x, d] });

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
                mb: "$memory_mb",
                s: { $max: ["$started_at", from] },
                e: { $min: [{ $ifNull: ["$ended_at", q.now] }, to] },
              },
            },
            { $match: { $expr: { $lt: ["$s", "$e"] } } },
            { $set: { i: { $range: [minuteIndex("$s", "$floor"), minuteIndex("$e", "$ceil")] } } },
            { $unwind: "$i" },
            {
              $project: {
                sb: 1,
                t: minuteStart("$i"),
                ms: { $subtract: [{ $min: ["$e", minuteStart({ $add: ["$i", 1] })] }, { $max: ["$s", minuteStart("$i")] }] },
                mb: 1,
              },
            },
            { $project: { sb: 1, t: 1, ms: 1, mbms: { $multiply: ["$mb", "$ms"] } } },
          ],
        },
      },
      // One empty seed per sandbox, so one with neither sessions nor samples still gets its series.
      { $unionWith: { pipeline: [{ $documents: q.sandboxIds.map((sb) => ({ sb, t: first })) }] } },
      {
        $group: {
          _id: { sb: "$sb", t: "$t" },
          up: { $sum: { $ifNull: ["$ms", 0] } },
          mbms: { $sum: { $ifNull: ["$mbms", 0] } },
          used: { $sum: "$used" },
          n: { $sum: "$n" },
          peak: { $max: "$peak" },
        },
      },
      {
        $project: {
          _id: 0,
          sb: "$_id.sb",
          t: "$_id.t",
          a: round({ $divide: ["$mbms", MB_MS_PER_GIB_SECOND] }, GIB_SECOND_DECIMALS),
          u: round({ $divide: [{ $multiply: [avg, up] }, MB_MS_PER_GIB_SECOND] }, GIB_SECOND_DECIMALS),
          s: round({ $divide: [up, 1000] }, SECONDS_DECIMALS),
          m: { $cond: [provisioned, round({ $divide: ["$mbms", up] }, MB_DECIMALS), 0] },
          v: round(avg, MB_DECIMALS),
          p: { $cond: [provisioned, { $ifNull: ["$peak", 0] }, 0] },
        },
      },
      // Every minute of the window gets a point; a generated minute carries only `sb` and `t`
      // (nothing was provisioned or sampled in it, so each of its measures is 0).
      { $densify: { field: "t", partitionByFields: ["sb"], range: { step: 1, unit: "minute", bounds: [first, end] } } },
      { $sort: { sb: 1, t: 1 } },
      {
        $group: {
          _id: "$sb",
          points: { $push: "$$ROOT" },
          a: { $sum: "$a" },
          u: { $sum: "$u" },
          s: { $sum: "$s" },
          m: { $max: "$m" },
          p: { $max: "$p" },
        },
      },
      {
        $project: {
          points: 1,
          memoryAllocatedGbSeconds: round("$a", GIB_SECOND_DECIMALS),
          memoryUsedGbSeconds: round("$u", GIB_SECOND_DECIMALS),
          uptimeSeconds: round("$s", SECONDS_DECIMALS),
          memoryAllocatedPeakMb: { $ifNull: ["$m", 0] },
          memoryUsedPeakMb: { $ifNull: ["$p", 0] },
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
