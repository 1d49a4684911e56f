/**
 * MKA1 sandbox usage buckets: one aggregation answers one page. Operations in the page's time
 * range are grouped by UTC bucket and the requested dimensions, folded into one document per
 * bucket, and `$densify` adds the empty buckets, so every bucket of the page comes back in order.
 */
import type { Document } from "mongodb";
import { INDEXES } from "../db/collections.js";

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

export function buildSandboxUsagePipeline(q: BucketPageQuery): Document[] {
  const unit = DATE_UNIT[q.width];
  const groupKey: Document = { bucket: { $dateTrunc: { date: "$ts", unit, binSize: 1, timezone: "UTC" } } };
  for (const dim of q.groupBy) groupKey[dim] = { $ifNull: [`$${dim}`, null] };
  const dimensions: Document = {};
  for (const dim of GROUP_BY_DIMENSIONS) dimensions[dim] = q.groupBy.includes(dim) ? `$_id.${dim}` : null;
  const order: Document = { "_id.bucket": 1 };
  for (const dim of q.groupBy) order[`_id.${dim}`] = 1;

  return [
    { $match: operationsMatch(q.scope, q.from, q.to) },
    {
      $group: {
        _id: groupKey,
        num_operations: { $sum: 1 },
        // Session ids are unique per org only: across orgs (all_orgs, org_ids) "s1" of two orgs is two sessions.
        sessions: { $addToSet: { org_id: "$org_id", session_id: "$session_id" } },
        request_count: { $sum: "$request_count" },
        duration_ms: { $sum: "$duration_ms" },
        workspace_bytes_in: { $sum: "$workspace_bytes_in" },
        workspace_bytes_out: { $sum: "$workspace_bytes_out" },
        files_changed_count: { $sum: "$files_changed_count" },
        oom_killed_count: { $sum: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } },
        peak_memory_mib: { $max: "$peak_memory_mib" },
        reserved_memory_mib: { $max: "$reserved_memory_mib" },
      },
    },
    { $sort: order },
    {
      $group: {
        _id: "$_id.bucket",
        results: {
          $push: {
            object: "organization.usage.sandbox.result",
            num_operations: "$num_operations",
            num_sessions: { $size: "$sessions" },
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
