/**
 * Budget values: one metric of one scope over one window, with DESIGN §3's arithmetic — the
 * runtime rule of pipelines/runtime.ts (runtimeMsInWindow, sessionsOverlapping), MIOSA's rounding
 * of seconds, GiB-hours and cents, OpenComputer's allocated-memory GiB-seconds.
 *
 * Every (scope, window) an evaluation needs is answered by ONE aggregation, however many budgets and
 * periods: the sessions overlapping any of the windows are read once, each gets its runtime inside
 * every window (one field per window), and a `$facet` per kind of scope sums them by the scope's
 * value. The embedded server runs one command at a time, so an evaluation as one command instead of
 * one per period keeps it from queueing ahead of ingest again and again.
 */
import type { Document } from "mongodb";
import type { BudgetMetric, BudgetScope } from "../db/collections.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { runtimeMsInWindow, sessionsOverlapping, type Window } from "../pipelines/runtime.js";
import { pricesFor } from "./prices.js";

export type MetricValues = Record<BudgetMetric, number>;

export const SESSION_SCOPE_FIELDS = ["external_user_id", "external_project_id", "workspace_id", "sandbox_id"] as const;
type ScopeField = (typeof SESSION_SCOPE_FIELDS)[number];

export interface ValueRequest {
  scope: BudgetScope;
  window: Window;
}

const MS_PER_HOUR = 3_600_000;
/** MiB × ms per GiB-second. */
const MB_MS_PER_GIB_SECOND = 1024 * 1000;

const ZERO: MetricValues = { credit_cents: 0, sandbox_seconds: 0, computer_seconds: 0, storage_gb_hours: 0, memory_gb_seconds: 0 };

/** A facet per field scope (grouped by its value), one for the whole org, one per tag pair. */
function facetOf(scope: BudgetScope): { facet: string; value: string | null } {
  if ("tag" in scope) return { facet: `tag:${JSON.stringify([scope.tag.key, scope.tag.value])}`, value: null };
  for (const f of SESSION_SCOPE_FIELDS) if (f in scope) return { facet: f, value: (scope as Record<ScopeField, string>)[f] };
  return { facet: "org", value: null };
}

/** The raw sums of window `w` (vCPU-ms by resource, storage GiB-ms, memory MiB-ms). */
function windowSums(w: number): Document {
  const rt = `$r${w}`;
  const vcpuMs = { $multiply: [rt, { $ifNull: ["$vcpus", 0] }] };
  return {
    [`w${w}_sandbox`]: { $sum: { $cond: [{ $eq: ["$resource", "sandbox"] }, vcpuMs, 0] } },
    [`w${w}_computer`]: { $sum: { $cond: [{ $eq: ["$resource", "computer"] }, vcpuMs, 0] } },
    [`w${w}_storage`]: { $sum: { $multiply: [rt, { $ifNull: ["$storage_gb", 0] }] } },
    [`w${w}_memory`]: { $sum: { $multiply: [rt, { $ifNull: ["$memory_mb", 0] }] } },
  };
}

type Prices = { sandbox_vcpu_hour_cents: number; computer_vcpu_hour_cents: number; storage_gb_hour_cents: number };

/** Window `w`'s sums → its five metrics, rounded as MIOSA (cents half up, seconds to ms) and OpenComputer do. */
function windowMetrics(w: number, prices: Prices): Document {
  const f = (name: string) => `$w${w}_${name}`;
  const cents = {
    $add: [
      { $multiply: [{ $divide: [f("sandbox"), MS_PER_HOUR] }, prices.sandbox_vcpu_hour_cents] },
      { $multiply: [{ $divide: [f("computer"), MS_PER_HOUR] }, prices.computer_vcpu_hour_cents] },
      { $multiply: [{ $divide: [f("storage"), MS_PER_HOUR] }, prices.storage_gb_hour_cents] },
    ],
  };
  return {
    [`w${w}`]: {
      credit_cents: { $floor: { $add: [{ $round: [cents, 9] }, 0.5] } },
      sandbox_seconds: { $round: [{ $divide: [f("sandbox"), 1000] }, 3] },
      computer_seconds: { $round: [{ $divide: [f("computer"), 1000] }, 3] },
      storage_gb_hours: { $round: [{ $divide: [f("storage"), MS_PER_HOUR] }, 6] },
      memory_gb_seconds: { $round: [{ $divide: [f("memory"), MB_MS_PER_GIB_SECOND] }, 3] },
    },
  };
}

/**
 * Every metric for each request (open sessions running until `now`), in the order given. Runs on
 * `sessions`; the leading $match is served by sessions_org_started_at. Tag scopes use the sandboxes'
 * current tags (as OpenComputer does: a retag re-attributes past usage), read once beforehand.
 */
export async function budgetValues(deps: AppDeps, orgId: string, requests: readonly ValueRequest[], now: Date): Promise<MetricValues[]> {
  if (requests.length === 0) return [];
  const windows: Window[] = [];
  const windowIndex = new Map<string, number>();
  const facets = new Map<string, { scope: BudgetScope; values: Set<string> }>();
  const keys = requests.map(({ scope, window }) => {
    const wk = `${window.from.getTime()}-${window.to.getTime()}`;
    let w = windowIndex.get(wk);
    if (w === undefined) windowIndex.set(wk, (w = windows.push(window) - 1));
    const { facet, value } = facetOf(scope);
    const entry = facets.get(facet) ?? { scope, values: new Set<string>() };
    if (value !== null) entry.values.add(value);
    facets.set(facet, entry);
    return { w, facet, value };
  });

  // Tag pairs → the org's sandboxes carrying them (one read), so a tag facet is a sandbox_id match.
  const tagFacets = [...facets].filter(([, f]) => "tag" in f.scope);
  const sandboxesOf = new Map<string, string[]>();
  if (tagFacets.length > 0) {
    const pairs = tagFacets.map(([, f]) => (f.scope as { tag: { key: string; value: string } }).tag);
    const tagged = await deps.cols.sandboxes
      .find({ org_id: orgId, tags: { $elemMatch: { $or: pairs.map((p) => ({ key: p.key, value: p.value })) } } }, { projection: { _id: 0, sandbox_id: 1, tags: 1 } })
      .toArray();
    for (const [name, f] of tagFacets) {
      const { key, value } = (f.scope as { tag: { key: string; value: string } }).tag;
      sandboxesOf.set(name, tagged.filter((s) => s.tags.some((t) => t.key === key && t.value === value)).map((s) => s.sandbox_id));
    }
  }

  const prices = await pricesFor(deps.cols, orgId);
  const sums = Object.assign({}, ...windows.map((_, w) => windowSums(w)));
  const finish = { $project: { _id: 1, ...Object.assign({}, ...windows.map((_, w) => windowMetrics(w, prices))) } };
  const facetStages: Record<string, Document[]> = {};
  for (const [name, f] of facets) {
    if (name === "org") facetStages[name] = [{ $group: { _id: null, ...sums } }, finish];
    else if (name.startsWith("tag:")) facetStages[name] = [{ $match: { sandbox_id: { $in: sandboxesOf.get(name) ?? [] } } }, { $group: { _id: null, ...sums } }, finish];
    else facetStages[name] = [{ $match: { [name]: { $in: [...f.values] } } }, { $group: { _id: `$${name}`, ...sums } }, finish];
  }
  const union: Window = {
    from: new Date(Math.min(...windows.map((w) => w.from.getTime()))),
    to: new Date(Math.max(...windows.map((w) => w.to.getTime()))),
  };
  const pipeline: Document[] = [
    { $match: { org_id: orgId, ...sessionsOverlapping(union) } },
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
        ...Object.fromEntries(windows.map((w, i) => [`r${i}`, runtimeMsInWindow(w, now)])),
      },
    },
    { $facet: facetStages },
  ];
  const [row] = await deps.cols.sessions.aggregate<Record<string, Array<{ _id: string | null } & Record<string, MetricValues>>>>(pipeline, queryOptions(deps)).toArray();
  const found = new Map<string, Record<string, MetricValues>>();
  for (const [facet, rows] of Object.entries(row ?? {})) for (const { _id, ...perWindow } of rows) found.set(JSON.stringify([facet, facet === "org" || facet.startsWith("tag:") ? null : _id]), perWindow);
  return keys.map((k) => found.get(JSON.stringify([k.facet, k.value]))?.[`w${k.w}`] ?? { ...ZERO });
}
