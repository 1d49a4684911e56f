/**
 * A budget's value: one metric of one scope over one window, with DESIGN §3's arithmetic — the
 * runtime rule of pipelines/runtime.ts (runtimeMsInWindow, sessionsOverlapping), MIOSA's rounding
 * of seconds, GiB-hours and cents, OpenComputer's allocated-memory GiB-seconds. Many scopes of one
 * org are answered by ONE aggregation (a $facet per kind of scope, grouped by the scope's value),
 * so evaluating an org's budgets costs one round trip per period however many budgets it has.
 */
import type { Document } from "mongodb";
import type { BudgetMetric, BudgetScope } from "../db/collections.js";
import { COLLECTIONS } from "../db/collections.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { runtimeMsInWindow, sessionsOverlapping, type Window } from "../pipelines/runtime.js";
import { pricesFor } from "./prices.js";

export type MetricValues = Record<BudgetMetric, number>;

export const SESSION_SCOPE_FIELDS = ["external_user_id", "external_project_id", "workspace_id", "sandbox_id"] as const;
type ScopeField = (typeof SESSION_SCOPE_FIELDS)[number];

const MS_PER_HOUR = 3_600_000;
/** MiB × ms per GiB-second. */
const MB_MS_PER_GIB_SECOND = 1024 * 1000;

const ZERO: MetricValues = { credit_cents: 0, sandbox_seconds: 0, computer_seconds: 0, storage_gb_hours: 0, memory_gb_seconds: 0 };

/** The kind of a scope and the value it selects (null for the whole org). */
export function scopeKey(scope: BudgetScope): { kind: "org" | ScopeField | "tag"; value: string | null } {
  if ("tag" in scope) return { kind: "tag", value: JSON.stringify([scope.tag.key, scope.tag.value]) };
  for (const f of SESSION_SCOPE_FIELDS) if (f in scope) return { kind: f, value: (scope as Record<ScopeField, string>)[f] };
  return { kind: "org", value: null };
}

const sums = {
  sandbox_vcpu_ms: { $sum: { $cond: [{ $eq: ["$resource", "sandbox"] }, { $multiply: ["$rt", { $ifNull: ["$vcpus", 0] }] }, 0] } },
  computer_vcpu_ms: { $sum: { $cond: [{ $eq: ["$resource", "computer"] }, { $multiply: ["$rt", { $ifNull: ["$vcpus", 0] }] }, 0] } },
  storage_gb_ms: { $sum: { $multiply: ["$rt", { $ifNull: ["$storage_gb", 0] }] } },
  memory_mb_ms: { $sum: { $multiply: ["$rt", { $ifNull: ["$memory_mb", 0] }] } },
};

/** Raw sums → the five metrics, rounded as MIOSA (cents half up, seconds to ms) and OpenComputer do. */
function metricStage(prices: { sandbox_vcpu_hour_cents: number; computer_vcpu_hour_cents: number; storage_gb_hour_cents: number }): Document {
  const cents = {
    $add: [
      { $multiply: [{ $divide: ["$sandbox_vcpu_ms", MS_PER_HOUR] }, prices.sandbox_vcpu_hour_cents] },
      { $multiply: [{ $divide: ["$computer_vcpu_ms", MS_PER_HOUR] }, prices.computer_vcpu_hour_cents] },
      { $multiply: [{ $divide: ["$storage_gb_ms", MS_PER_HOUR] }, prices.storage_gb_hour_cents] },
    ],
  };
  return {
    $project: {
      _id: 1,
      credit_cents: { $floor: { $add: [{ $round: [cents, 9] }, 0.5] } },
      sandbox_seconds: { $round: [{ $divide: ["$sandbox_vcpu_ms", 1000] }, 3] },
      computer_seconds: { $round: [{ $divide: ["$computer_vcpu_ms", 1000] }, 3] },
      storage_gb_hours: { $round: [{ $divide: ["$storage_gb_ms", MS_PER_HOUR] }, 6] },
      memory_gb_seconds: { $round: [{ $divide: ["$memory_mb_ms", MB_MS_PER_GIB_SECOND] }, 3] },
    },
  };
}

/**
 * Every metric of each of `scopes` over `window` (open sessions running until `now`), in the order
 * given. Runs on `sessions`; its leading $match is served by sessions_org_started_at; tag scopes
 * read the sandbox's current tags (as OpenComputer does: a retag re-attributes past usage).
 */
export async function budgetValues(deps: AppDeps, orgId: string, scopes: readonly BudgetScope[], window: Window, now: Date): Promise<MetricValues[]> {
  if (scopes.length === 0) return [];
  const keys = scopes.map(scopeKey);
  const byKind = new Map<string, Set<string | null>>();
  for (const k of keys) {
    const set = byKind.get(k.kind) ?? new Set();
    set.add(k.value);
    byKind.set(k.kind, set);
  }
  const finish = metricStage(await pricesFor(deps.cols, orgId));
  const facets: Record<string, Document[]> = {};
  for (const [kind, values] of byKind) {
    if (kind === "org") facets[kind] = [{ $group: { _id: null, ...sums } }, finish];
    else if (kind === "tag") {
      const pairs = [...values].map((v) => JSON.parse(v!) as [string, string]);
      facets[kind] = [
        { $unwind: "$sb_tags" },
        { $match: { $or: pairs.map(([key, value]) => ({ "sb_tags.key": key, "sb_tags.value": value })) } },
        { $group: { _id: { k: "$sb_tags.key", v: "$sb_tags.value" }, ...sums } },
        finish,
      ];
    } else facets[kind] = [{ $match: { [kind]: { $in: [...values] } } }, { $group: { _id: `$${kind}`, ...sums } }, finish];
  }
  const needsTags = byKind.has("tag");
  const pipeline: Document[] = [
    { $match: { org_id: orgId, ...sessionsOverlapping(window) } },
    {
      $project: {
        _id: 0,
        sandbox_id: 1,
        external_user_id: 1,
        external_project_id: 1,
        workspace_id: 1,
        resource: 1,
        vcpus: 1,
        storage_gb: 1,
        memory_mb: 1,
        rt: runtimeMsInWindow(window, now),
      },
    },
    { $match: { rt: { $gt: 0 } } },
    ...(needsTags
      ? [
          { $set: { sandbox: { $concat: [orgId, "/", "$sandbox_id"] } } },
          { $lookup: { from: COLLECTIONS.sandboxes, localField: "sandbox", foreignField: "_id", as: "sb" } },
          { $set: { sb_tags: { $ifNull: [{ $arrayElemAt: ["$sb.tags", 0] }, []] } } },
          { $project: { sb: 0, sandbox: 0 } },
        ]
      : []),
    { $facet: facets },
  ];
  const [row] = await deps.cols.sessions.aggregate<Record<string, Array<MetricValues & { _id: unknown }>>>(pipeline, queryOptions(deps)).toArray();
  const found = new Map<string, MetricValues>();
  for (const [kind, rows] of Object.entries(row ?? {})) {
    for (const { _id, ...values } of rows) {
      const value = kind === "org" ? null : kind === "tag" ? JSON.stringify([(_id as { k: string }).k, (_id as { v: string }).v]) : (_id as string);
      found.set(JSON.stringify([kind, value]), values);
    }
  }
  return keys.map((k) => found.get(JSON.stringify([k.kind, k.value])) ?? { ...ZERO });
}
