/**
 * Session runtime integrated over a window — the one rule behind MIOSA's rollup and Dreadnode's
 * summary (DESIGN §3): a session runs over [started_at, ended_at ?? now), and its runtime inside a
 * window is the length of that interval intersected with the window. Everything is summed in
 * whole milliseconds (exact in a double) and converted to seconds, hours and cents once, at the end.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";

export interface Window {
  from: Date;
  to: Date;
}

const MS_PER_HOUR = 3_600_000;
/** Rounding applied to reported seconds (ms precision) and GiB-hours, to drop binary-float noise. */
const SECONDS_DECIMALS = 3;
const GB_HOURS_DECIMALS = 6;
/** Money is rounded half up to the cent after trimming noise below a billionth of a cent. */
const CENTS_NOISE_DECIMALS = 9;

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

export const ROLLUP_GROUP_KEYS = ["external_user_id", "external_project_id", "workspace_id"] as const;
export type RollupGroupKey = (typeof ROLLUP_GROUP_KEYS)[number];

export interface Prices {
  sandbox_vcpu_hour_cents: number;
  computer_vcpu_hour_cents: number;
  storage_gb_hour_cents: number;
}

export interface UsageRollupQuery {
  /** One or more orgs (one for MIOSA's endpoint; many for federated `Organization.usageRollup`). */
  orgIds: string[];
  groupBy: RollupGroupKey;
  window: Window;
  now: Date;
  /** What an org without a price table pays; an org's own table is joined from `prices`. */
  defaultPrices: Prices;
  /** X-On-Behalf-Of: only this external user's sessions. */
  externalUserId: string | null;
}

export interface UsageRollupRow {
  key: string | null;
  sandbox_seconds: number;
  computer_seconds: number;
  storage_gb_hours: number;
  credit_cents: number;
}

/** A rollup row with the org it belongs to (rows come out sorted by org, then as MIOSA sorts them). */
export interface OrgUsageRollupRow extends UsageRollupRow {
  org_id: string;
}

/** Half-up rounding of a non-negative amount, after trimming float noise. */
const roundHalfUp = (x: Document, noiseDecimals: number): Document => ({ $floor: { $add: [{ $round: [x, noiseDecimals] }, 0.5] } });

/**
 * MIOSA's rollup: vCPU-seconds by resource, GiB-hours of storage and cost per group, sorted by
 * cost then key, for each org at its own price table (joined from `prices`, by `_id`). The leading
 * $match is served by sessions_org_started_at ({org_id, started_at}), or, under X-On-Behalf-Of,
 * sessions_org_external_user ({org_id, external_user_id}).
 */
export function buildUsageRollupPipeline(q: UsageRollupQuery): Document[] {
  const match: Document = { org_id: q.orgIds.length === 1 ? q.orgIds[0] : { $in: q.orgIds }, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) match.external_user_id = q.externalUserId;
  const vcpuMsIf = (resource: "sandbox" | "computer") => ({
    $cond: [{ $eq: ["$resource", resource] }, { $multiply: ["$runtime_ms", "$vcpus"] }, 0],
  });
  const price = (field: keyof Prices) => ({ $ifNull: [`$price.${field}`, q.defaultPrices[field]] });
  const sandboxHours = { $divide: ["$sandbox_vcpu_ms", MS_PER_HOUR] };
  const computerHours = { $divide: ["$computer_vcpu_ms", MS_PER_HOUR] };
  const storageHours = { $divide: ["$storage_gb_ms", MS_PER_HOUR] };
  const cents = {
    $add: [
      { $multiply: [sandboxHours, price("sandbox_vcpu_hour_cents")] },
      { $multiply: [computerHours, price("computer_vcpu_hour_cents")] },
      { $multiply: [storageHours, price("storage_gb_hour_cents")] },
    ],
  };
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
        storage_gb_ms: { $sum: { $multiply: ["$runtime_ms", { $ifNull: ["$storage_gb", 0] }] } },
      },
    },
    { $set: { org_id: "$_id.org_id" } },
    { $lookup: { from: COLLECTIONS.prices, localField: "org_id", foreignField: "_id", as: "price" } },
    { $set: { price: { $arrayElemAt: ["$price", 0] } } },
    {
      $project: {
        _id: 0,
        org_id: 1,
        key: "$_id.key",
        sandbox_seconds: { $round: [{ $divide: ["$sandbox_vcpu_ms", 1000] }, SECONDS_DECIMALS] },
        computer_seconds: { $round: [{ $divide: ["$computer_vcpu_ms", 1000] }, SECONDS_DECIMALS] },
        storage_gb_hours: { $round: [storageHours, GB_HOURS_DECIMALS] },
        credit_cents: roundHalfUp(cents, CENTS_NOISE_DECIMALS),
      },
    },
    { $sort: { org_id: 1, credit_cents: -1, key: 1 } },
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
