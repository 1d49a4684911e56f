/**
 * MKA1 sandbox usage buckets: one aggregation answers one page. Operations in the page's time
 * range are grouped by UTC bucket and the requested dimensions, folded into one document per
 * bucket, and `$densify` adds the empty buckets, so every bucket of the page comes back in order.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";
import { OPERATION_LEVELS, type OperationLevel, ROLLUP_DIMENSIONS, truncate, unionOfPushed } from "./rollups.js";

export const GROUP_BY_DIMENSIONS = ["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"] as const;
export type GroupByDimension = (typeof GROUP_BY_DIMENSIONS)[number];

export const BUCKET_WIDTHS = { "1m": 60, "1h": 3_600, "1d": 86_400 } as const;
export type BucketWidth = keyof typeof BUCKET_WIDTHS;
const DATE_UNIT: Record<BucketWidth, "minute" | "hour" | "day"> = { "1m": "minute", "1h": "hour", "1d": "day" };

/** Which operations count: the org scope and, for X-On-Behalf-Of, the external user's sessions. */
export interface OperationScope {
  /** null: every org (cluster admin, all_orgs). */
  orgIds: string[] | null;
  /** Restrict to these sessions, by org (X-On-Behalf-Of); null: no restriction. */
  sessions: ReadonlyMap<string, readonly string[]> | null;
}

export interface BucketPageQuery {
  scope: OperationScope;
  width: BucketWidth;
  groupBy: readonly GroupByDimension[];
  /** Events counted: [from, to). */
  from: Date;
  to: Date;
  /** Buckets returned: [firstBucket, endBucket), aligned to the width. */
  firstBucket: Date;
  endBucket: Date;
}

/**
 * The leading `$match`. With an org list it is served by usage_events_org_type_ts
 * ({org_id, type, ts}); across all orgs by usage_events_type_ts ({type, ts}).
 */
export function operationsMatch(scope: OperationScope, from: Date, to: Date): Document {
  const match: Document = {};
  if (scope.orgIds) match.org_id = scope.orgIds.length === 1 ? scope.orgIds[0] : { $in: scope.orgIds };
  match.type = "sandbox.operation";
  match.ts = { $gte: from, $lt: to };
  if (scope.sessions) {
    const perOrg = [...scope.sessions].map(([org, ids]) => ({ org_id: org, session_id: { $in: [...ids] } }));
    // Each session id counts only in its own org. With one org (the usual case) that org becomes
    // the index prefix; with none the user has no sessions and nothing matches.
    if (perOrg.length === 1) Object.assign(match, { org_id: perOrg[0]!.org_id, session_id: perOrg[0]!.session_id });
    else if (perOrg.length === 0) match.session_id = { $in: [] };
    else match.$or = perOrg;
  }
  return match;
}

export const SANDBOX_USAGE_INDEX = { byOrg: INDEXES.eventsByOrgTypeTime, allOrgs: INDEXES.eventsByTypeTime };

/** Where a usage answer is read from: the rollups (where they answer exactly) or the raw events. */
export type UsageSource = "rollups" | "raw";

/** A pipeline and the collection it runs on. */
export interface PlannedPipeline {
  collection: string;
  pipeline: Document[];
}

/** The measures every source yields per document, summed (or maxed) into a bucket's result. */
const MEASURES = {
  request_count: { $sum: "$request_count" },
  duration_ms: { $sum: "$duration_ms" },
  workspace_bytes_in: { $sum: "$workspace_bytes_in" },
  workspace_bytes_out: { $sum: "$workspace_bytes_out" },
  files_changed_count: { $sum: "$files_changed_count" },
  peak_memory_mib: { $max: "$peak_memory_mib" },
  reserved_memory_mib: { $max: "$reserved_memory_mib" },
};

/**
 * After the documents of the page are grouped by bucket and dimensions (with `num_operations`,
 * the measures and `num_sessions` computed): one document per bucket with its sorted results, and
 * `$densify` for the empty buckets.
 */
function bucketStages(q: BucketPageQuery): Document[] {
  const unit = DATE_UNIT[q.width];
  const dimensions: Document = {};
  for (const dim of GROUP_BY_DIMENSIONS) dimensions[dim] = q.groupBy.includes(dim) ? `$_id.${dim}` : null;
  const order: Document = { "_id.bucket": 1 };
  for (const dim of q.groupBy) order[`_id.${dim}`] = 1;
  return [
    { $sort: order },
    {
      $group: {
        _id: "$_id.bucket",
        results: {
          $push: {
            object: "organization.usage.sandbox.result",
            num_operations: "$num_operations",
            num_sessions: "$num_sessions",
            request_count: "$request_count",
            duration_ms: "$duration_ms",
            workspace_bytes_in: "$workspace_bytes_in",
            workspace_bytes_out: "$workspace_bytes_out",
            files_changed_count: "$files_changed_count",
            oom_killed_count: "$oom_killed_count",
            peak_memory_mib: { $ifNull: ["$peak_memory_mib", null] },
            reserved_memory_mib: { $ifNull: ["$reserved_memory_mib", null] },
            ...dimensions,
          },
        },
      },
    },
    { $project: { _id: 0, start: "$_id", results: 1 } },
    { $densify: { field: "start", range: { step: 1, unit, bounds: [q.firstBucket, q.endBucket] } } },
    { $sort: { start: 1 } },
  ];
}

/** The first $group's key: the bucket of `timeField` and the requested dimensions. */
function groupKey(q: BucketPageQuery, timeField: string): Document {
  const key: Document = { bucket: truncate(timeField, DATE_UNIT[q.width]) };
  for (const dim of q.groupBy) key[dim] = { $ifNull: [`$${dim}`, null] };
  return key;
}

/** From raw operation events; the leading $match is served by SANDBOX_USAGE_INDEX. */
export function buildSandboxUsagePipeline(q: BucketPageQuery): Document[] {
  return [
    { $match: operationsMatch(q.scope, q.from, q.to) },
    {
      $group: {
        _id: groupKey(q, "$ts"),
        num_operations: { $sum: 1 },
        // Session ids are unique per org only: across orgs (all_orgs, org_ids) "s1" of two orgs is two sessions.
        sessions: { $addToSet: { org_id: "$org_id", session_id: "$session_id" } },
        oom_killed_count: { $sum: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } },
        ...MEASURES,
      },
    },
    { $set: { num_sessions: { $size: "$sessions" } } },
    ...bucketStages(q),
  ];
}

/** One stretch of the page's time range and the coarsest source that covers it in whole buckets. */
export interface Segment {
  source: OperationLevel | "raw";
  from: Date;
  to: Date;
}

/**
 * [from, to) cut into the coarsest whole buckets of the rollups no wider than `width` (a day
 * bucket cannot be split into hours), hours towards the edges, and raw events for the sub-hour
 * rest (and for 1m buckets): e.g. 2026-05-01T10:00:30Z–2026-05-03T13:00Z in 1d buckets is raw
 * to 11:00, hours to midnight, days to 05-03, hours to 13:00. In time order.
 */
export function rollupSegments(from: Date, to: Date, width: BucketWidth): Segment[] {
  const levels = (["1d", "1h"] as const).filter((l) => BUCKET_WIDTHS[l] <= BUCKET_WIDTHS[width]);
  const out: Segment[] = [];
  const cover = (a: number, b: number, i: number): void => {
    if (a >= b) return;
    const level = levels[i];
    if (!level) {
      out.push({ source: "raw", from: new Date(a), to: new Date(b) });
      return;
    }
    const ms = OPERATION_LEVELS[level].ms;
    const lo = Math.ceil(a / ms) * ms;
    const hi = Math.floor(b / ms) * ms;
    if (lo >= hi) return cover(a, b, i + 1);
    cover(a, lo, i + 1);
    out.push({ source: level, from: new Date(lo), to: new Date(hi) });
    cover(hi, b, i + 1);
  };
  cover(from.getTime(), to.getTime(), 0);
  return out;
}

/**
 * One segment's documents in the shape of a rollup document (so rollup segments need no stage
 * beyond their $match): raw events become rollups of one event each.
 */
function segmentStages(segment: Segment, scope: OperationScope): Document[] {
  if (segment.source === "raw") {
    const key: Document = { org_id: "$org_id", t: "$ts" };
    for (const dim of ROLLUP_DIMENSIONS) key[dim] = { $ifNull: [`$${dim}`, null] };
    const project: Document = { _id: key, n: { $literal: 1 }, oom_killed_count: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] }, sessions: ["$session_id"] };
    for (const m of Object.keys(MEASURES)) project[m] = 1;
    return [{ $match: operationsMatch(scope, segment.from, segment.to) }, { $project: project }];
  }
  const match: Document = {};
  if (scope.orgIds) match["_id.org_id"] = scope.orgIds.length === 1 ? scope.orgIds[0] : { $in: scope.orgIds };
  match["_id.t"] = { $gte: segment.from, $lt: segment.to };
  return [{ $match: match }];
}

const SEGMENT_COLLECTION = (segment: Segment) => (segment.source === "raw" ? COLLECTIONS.usageEvents : OPERATION_LEVELS[segment.source].collection);

/**
 * From the rollups: the page's time range as segments (rollupSegments), each read from its
 * collection through its (org, t) or (t) index and unioned, then grouped by bucket and dimensions.
 * Cost follows the buckets and dimension values, not the events behind them.
 */
export function buildSandboxUsageRollupPipeline(q: BucketPageQuery): PlannedPipeline {
  const segments = rollupSegments(q.from, q.to, q.width);
  if (segments.length === 0) segments.push({ source: "raw", from: q.from, to: q.to });
  const key: Document = { bucket: truncate("$_id.t", DATE_UNIT[q.width]) };
  for (const dim of q.groupBy) key[dim] = `$_id.${dim}`;
  // Session ids are unique per org only; across orgs they are counted as "org/session".
  const qualify = q.scope.orgIds === null || q.scope.orgIds.length > 1;
  const sessions = qualify ? { $map: { input: "$sessions", in: { $concat: ["$_id.org_id", "/", "$$this"] } } } : "$sessions";
  const [first, ...rest] = segments;
  return {
    collection: SEGMENT_COLLECTION(first!),
    pipeline: [
      ...segmentStages(first!, q.scope),
      ...rest.map((s) => ({ $unionWith: { coll: SEGMENT_COLLECTION(s), pipeline: segmentStages(s, q.scope) } })),
      {
        $group: {
          _id: key,
          num_operations: { $sum: "$n" },
          sessions: { $push: sessions },
          oom_killed_count: { $sum: "$oom_killed_count" },
          ...MEASURES,
        },
      },
      { $set: { num_sessions: { $size: unionOfPushed("$sessions") } } },
      ...bucketStages(q),
    ],
  };
}

/**
 * The page's pipeline. Rollups answer exactly unless the answer is restricted to an external
 * user's sessions (X-On-Behalf-Of), which they do not keep apart: then raw events.
 */
export function planSandboxUsage(q: BucketPageQuery, source: UsageSource): PlannedPipeline {
  if (source === "rollups" && q.scope.sessions === null) return buildSandboxUsageRollupPipeline(q);
  return { collection: COLLECTIONS.usageEvents, pipeline: buildSandboxUsagePipeline(q) };
}
