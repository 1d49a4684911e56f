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
import { memoryGbSeconds, type Prices, runtimeMetrics } from "../cost.js";
import type { ExactInt } from "../int64.js";
import { decimalTimes, runtimeMsInWindow, sessionsOverlapping, type Window } from "../pipelines/runtime.js";
import { pricesFor } from "./prices.js";

/** A budget's metrics: cents exact (a bigint past 2^53), the others to the millisecond or millionth. */
export type MetricValues = Record<Exclude<BudgetMetric, "credit_cents">, number> & { credit_cents: ExactInt };

export const SESSION_SCOPE_FIELDS = ["external_user_id", "external_project_id", "workspace_id", "sandbox_id"] as const;
type ScopeField = (typeof SESSION_SCOPE_FIELDS)[number];

export interface ValueRequest {
  scope: BudgetScope;
  window: Window;
}

const ZERO: MetricValues = { credit_cents: 0, sandbox_seconds: 0, computer_seconds: 0, storage_gb_hours: 0, memory_gb_seconds: 0 };

/** A facet per field scope (grouped by its value), one for the whole org, one per tag pair. */
function facetOf(scope: BudgetScope): { facet: string; value: string | null } {
  if ("tag" in scope) return { facet: `tag:${JSON.stringify([scope.tag.key, scope.tag.value])}`, value: null };
  for (const f of SESSION_SCOPE_FIELDS) if (f in scope) return { facet: f, value: (scope as Record<ScopeField, string>)[f] };
  return { facet: "org", value: null };
}

/** The exact sums of window `w` (vCPU-ms by resource, storage GiB-ms, memory MiB-ms), as Decimal128. */
function windowSums(w: number): Document {
  const rt = `$r${w}`;
  const vcpuMs = decimalTimes(rt, "$vcpus");
  return {
    [`w${w}_sandbox`]: { $sum: { $cond: [{ $eq: ["$resource", "sandbox"] }, vcpuMs, 0] } },
    [`w${w}_computer`]: { $sum: { $cond: [{ $eq: ["$resource", "computer"] }, vcpuMs, 0] } },
    [`w${w}_storage`]: { $sum: decimalTimes(rt, "$storage_gb") },
    [`w${w}_memory`]: { $sum: decimalTimes(rt, "$memory_mb") },
  };
}

/** Window `w`'s sums → its five metrics, rounded once from the exact sums as MIOSA and OpenComputer round them. */
function windowMetrics(row: Record<string, unknown>, w: number, prices: Prices): MetricValues {
  const sums = { sandbox_vcpu_ms: row[`w${w}_sandbox`], computer_vcpu_ms: row[`w${w}_computer`], storage_gb_ms: row[`w${w}_storage`], memory_mb_ms: row[`w${w}_memory`] };
  return { ...runtimeMetrics(sums, prices), memory_gb_seconds: memoryGbSeconds(sums) };
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
  const facetStages: Record<string, Document[]> = {};
  for (const [name, f] of facets) {
    if (name === "org") facetStages[name] = [{ $group: { _id: null, ...sums } }];
    else if (name.startsWith("tag:")) facetStages[name] = [{ $match: { sandbox_id: { $in: sandboxesOf.get(name) ?? [] } } }, { $group: { _id: null, ...sums } }];
    else facetStages[name] = [{ $match: { [name]: { $in: [...f.values] } } }, { $group: { _id: `$${name}`, ...sums } }];
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
  const [row] = await deps.cols.sessions.aggregate<Record<string, Array<{ _id: string | null } & Record<string, unknown>>>>(pipeline, queryOptions(deps)).toArray();
  const found = new Map<string, Record<string, unknown>>();
  for (const [facet, rows] of Object.entries(row ?? {})) for (const { _id, ...sumsOf } of rows) found.set(JSON.stringify([facet, facet === "org" || facet.startsWith("tag:") ? null : _id]), sumsOf);
  return keys.map((k) => {
    const sumsOf = found.get(JSON.stringify([k.facet, k.value]));
    return sumsOf ? windowMetrics(sumsOf, k.w, prices) : { ...ZERO };
  });
}
