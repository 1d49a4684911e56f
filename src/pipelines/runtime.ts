/**
 * Session runtime integrated over a window — the one rule behind MIOSA's rollup and Dreadnode's
 * summary (DESIGN §3): a session runs over [started_at, ended_at ?? now), and its runtime inside a
 * window is the length of that interval intersected with the window. Runtimes are whole
 * milliseconds; products with vcpus and GiB are summed as Decimal128, and src/cost.ts turns the
 * exact sums into seconds, hours and cents once, at the end.
 */
import type { Document } from "mongodb";
import { INDEXES } from "../db/collections.js";

export interface Window {
  from: Date;
  to: Date;
}

/** Milliseconds of a session document's run inside `window`, as an aggregation expression. */
export function runtimeMsInWindow(window: Window, now: Date): Document {
  const end = { $min: [{ $ifNull: ["$ended_at", now] }, window.to] };
  const start = { $max: ["$started_at", window.from] };
  return { $max: [0, { $subtract: [end, start] }] };
}

/**
 * Sessions that can overlap `window`: not ended before its start (`end_at` is the latest date while
 * open), and started before its end. Served by sessions_org_end_start ({org_id, end_at,
 * started_at}): sessions that ended before the window are never read. Sessions with no
 * session_start yet have no `started_at` and never match (no known runtime).
 */
export function sessionsOverlapping(window: Window): Document {
  return { end_at: { $gte: window.from }, started_at: { $lt: window.to } };
}

/**
 * `runtime` × `field` as a Decimal128: exact, since a runtime in milliseconds has at most 13
 * digits and `$toDecimal` takes a double to 15 significant digits (Decimal128 holds 34). A
 * missing field counts 0. Summed with `$sum`, the products stay exact (src/cost.ts says how far).
 */
export function decimalTimes(runtime: string, field: string): Document {
  return { $multiply: [{ $toDecimal: runtime }, { $toDecimal: { $ifNull: [field, 0] } }] };
}

export const ROLLUP_GROUP_KEYS = ["external_user_id", "external_project_id", "workspace_id"] as const;
export type RollupGroupKey = (typeof ROLLUP_GROUP_KEYS)[number];

export interface UsageRollupQuery {
  /** One or more orgs (one for MIOSA's endpoint; many for federated `Organization.usageRollup`). */
  orgIds: string[];
  groupBy: RollupGroupKey;
  window: Window;
  now: Date;
  /** X-On-Behalf-Of: only this external user's sessions. */
  externalUserId: string | null;
}

/** One group's exact sums (Decimal128): vCPU-ms by resource and storage GiB-ms; src/cost.ts makes them figures. */
export interface UsageRollupSumsRow {
  org_id: string;
  key: string | null;
  sandbox_vcpu_ms: unknown;
  computer_vcpu_ms: unknown;
  storage_gb_ms: unknown;
}

/**
 * MIOSA's rollup sums: vCPU-milliseconds by resource and storage GiB-milliseconds per (org,
 * group), as exact decimals; the service prices them and sorts the rows by cost. The leading
 * $match is served by sessions_org_end_start ({org_id, end_at, started_at}), or, under
 * X-On-Behalf-Of, sessions_org_external_user ({org_id, external_user_id}).
 */
export function buildUsageRollupPipeline(q: UsageRollupQuery): Document[] {
  const match: Document = { org_id: q.orgIds.length === 1 ? q.orgIds[0] : { $in: q.orgIds }, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) match.external_user_id = q.externalUserId;
  const vcpuMsIf = (resource: "sandbox" | "computer") => ({ $cond: [{ $eq: ["$resource", resource] }, decimalTimes("$runtime_ms", "$vcpus"), 0] });
  return [
    { $match: match },
    {
      $project: {
        org_id: 1,
        key: { $ifNull: [`$${q.groupBy}`, null] },
        resource: 1,
        vcpus: 1,
        storage_gb: 1,
        runtime_ms: runtimeMsInWindow(q.window, q.now),
      },
    },
    { $match: { runtime_ms: { $gt: 0 } } },
    {
      $group: {
        _id: { org_id: "$org_id", key: "$key" },
        sandbox_vcpu_ms: { $sum: vcpuMsIf("sandbox") },
        computer_vcpu_ms: { $sum: vcpuMsIf("computer") },
        storage_gb_ms: { $sum: decimalTimes("$runtime_ms", "$storage_gb") },
      },
    },
    { $project: { _id: 0, org_id: "$_id.org_id", key: "$_id.key", sandbox_vcpu_ms: 1, computer_vcpu_ms: 1, storage_gb_ms: 1 } },
  ];
}

export const USAGE_ROLLUP_INDEX = { byOrg: INDEXES.sessionsByOrgStart, onBehalf: INDEXES.sessionsByOrgExternalUser };

export interface RuntimeSummaryQuery {
  orgId: string;
  /** One or more users (the caller for Dreadnode; many for federated `User.runtimeSummary`). */
  userIds: string[];
  externalUserId: string | null;
  /** Start of the current UTC calendar month. */
  monthStart: Date;
  now: Date;
}

export interface RuntimeSummaryRow {
  current_month_seconds: number;
  sessions_count: number;
  total_runtime_seconds: number;
}

/** A summary with the user it belongs to. */
export interface UserRuntimeSummaryRow extends RuntimeSummaryRow {
  user_id: string;
}

/**
 * Dreadnode's summary per user: runtime this calendar month up to now, distinct sessions, and
 * all-time runtime up to now, floored to whole seconds. One document per user with sessions.
 * Served by sessions_org_user_started_at ({org_id, user_id, started_at}).
 */
export function buildRuntimeSummaryPipeline(q: RuntimeSummaryQuery): Document[] {
  const users = q.userIds.length === 1 ? q.userIds[0] : { $in: q.userIds };
  const match: Document = { org_id: q.orgId, user_id: users, started_at: { $lt: q.now } };
  if (q.externalUserId !== null) match.external_user_id = q.externalUserId;
  const allTime: Window = { from: new Date(0), to: q.now };
  const thisMonth: Window = { from: q.monthStart, to: q.now };
  const seconds = (field: string) => ({ $floor: { $divide: [`$${field}`, 1000] } });
  return [
    { $match: match },
    {
      $group: {
        _id: "$user_id",
        sessions: { $sum: 1 },
        total_ms: { $sum: runtimeMsInWindow(allTime, q.now) },
        month_ms: { $sum: runtimeMsInWindow(thisMonth, q.now) },
      },
    },
    {
      $project: {
        _id: 0,
        user_id: "$_id",
        current_month_seconds: seconds("month_ms"),
        sessions_count: "$sessions",
        total_runtime_seconds: seconds("total_ms"),
      },
    },
  ];
}

export const RUNTIME_SUMMARY_INDEX = INDEXES.sessionsByOrgUserStart;
