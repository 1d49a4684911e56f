/**
 * OpenComputer's cross-sandbox aggregate (`GET /api/usage`) as one aggregation: sessions overlapping
 * the window → runtime inside it (the same expression as MIOSA and Dreadnode) → per sandbox, allocated
 * memory and disk overage in GiB-seconds → the sandbox's current tags joined in (so a retag
 * re-attributes past usage) → tag filters → by sandbox or by one tag's value → `$facet` with the
 * total over every matching row, the `untagged` row, and one keyset page of items.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";
import { sessionsOverlapping, type Window } from "./runtime.js";

/** Disk up to this many MiB is included in the tier; beyond it accrues overage (DESIGN §1). */
export const DISK_INCLUDED_MB = 20480;
const GIB_SECOND_DECIMALS = 2;
/** MiB × ms per GiB-second. */
const MB_MS_PER_GIB_SECOND = 1024 * 1000;

export type AggregateGroupBy = { kind: "sandbox" } | { kind: "tag"; key: string };
export const AGGREGATE_SORTS = ["memoryGbSeconds", "diskOverageGbSeconds"] as const;
export type AggregateSort = (typeof AGGREGATE_SORTS)[number];

/**
 * One `filter[tag:<key>]`: the sandbox's value for `key` is one of `values`; "" (or no values at
 * all) means "has no such key".
 */
export interface TagFilter {
  key: string;
  values: string[];
}

/** Where the next page starts: after the row with this sort value and key. */
export interface AggregateAfter {
  v: number;
  k: string;
}

export interface UsageAggregateQuery {
  orgId: string;
  window: Window;
  now: Date;
  externalUserId: string | null;
  groupBy: AggregateGroupBy;
  filters: TagFilter[];
  sort: AggregateSort;
  /** Rows to return; the pipeline yields one more so the caller knows whether a next page exists. */
  limit: number;
  after: AggregateAfter | null;
}

export interface Quantities {
  memoryGbSeconds: number;
  diskOverageGbSeconds: number;
}

export interface SandboxRow extends Quantities {
  key: string;
  alias: string | null;
  status: "running" | "stopped";
  tags: Array<{ key: string; value: string }>;
  tagsUpdatedAt: Date | null;
}

export interface TagRow extends Quantities {
  key: string;
  /** Distinct sandboxes with usage in the window that make up the row. */
  sandboxCount: number;
}

export interface UsageAggregateRow<Item> {
  total: Quantities[];
  untagged?: Array<Quantities & { sandboxCount: number }>;
  items: Item[];
}

const round = (x: unknown) => ({ $round: [x, GIB_SECOND_DECIMALS] });

/**
 * ∫ max(field) dt over the union of a sandbox's intervals `$iv` (sorted by start), in field × ms:
 * the sum over the field's distinct positive levels L of (L − the next lower level) × the length
 * of the union of the intervals whose field is ≥ L. Without overlaps this is Σ field × runtime;
 * with overlaps the sandbox counts once, at the largest value running (docs/memory.md).
 */
function maxIntegral(field: "mem" | "ovg"): Document {
  const unionMs = (level: string) => ({
    $getField: {
      field: "total",
      input: {
        $reduce: {
          input: { $filter: { input: "$iv", as: "i", cond: { $gte: [`$$i.${field}`, level] } } },
          initialValue: { end: { $literal: new Date(0) }, total: 0 },
          in: {
            end: { $max: ["$$value.end", "$$this.e"] },
            total: { $add: ["$$value.total", { $max: [0, { $subtract: ["$$this.e", { $max: ["$$this.s", "$$value.end"] }] }] }] },
          },
        },
      },
    },
  });
  const levels = { $setUnion: [{ $filter: { input: `$iv.${field}`, as: "l", cond: { $gt: ["$$l", 0] } } }, []] };
  return {
    $let: {
      vars: { levels },
      in: {
        $sum: {
          $map: {
            input: "$$levels",
            as: "lvl",
            in: {
              $multiply: [
                { $subtract: ["$$lvl", { $ifNull: [{ $max: { $filter: { input: "$$levels", as: "k", cond: { $lt: ["$$k", "$$lvl"] } } } }, 0] }] },
                unionMs("$$lvl"),
              ],
            },
          },
        },
      },
    },
  };
}

/**
 * Sessions (already matched to the window) → one document per sandbox: `mem` and `disk` in
 * MiB × ms inside the window (maxIntegral: overlapping sessions of a sandbox count once), `open`
 * when one of its sessions has not ended.
 */
function quantityStages(window: Window, now: Date): Document[] {
  const overageMb = { $max: [0, { $subtract: [{ $ifNull: ["$disk_mb", 0] }, DISK_INCLUDED_MB] }] };
  return [
    {
      $project: {
        _id: 0,
        sandbox_id: 1,
        mem: { $ifNull: ["$memory_mb", 0] },
        ovg: overageMb,
        open: { $eq: [{ $ifNull: ["$ended_at", null] }, null] },
        s: { $max: ["$started_at", { $literal: window.from }] },
        e: { $min: [{ $ifNull: ["$ended_at", { $literal: now }] }, { $literal: window.to }] },
      },
    },
    { $match: { $expr: { $lt: ["$s", "$e"] } } },
    // $push keeps this order, which the union in maxIntegral needs.
    { $sort: { sandbox_id: 1, s: 1 } },
    { $group: { _id: "$sandbox_id", iv: { $push: { s: "$s", e: "$e", mem: "$mem", ovg: "$ovg" } }, open: { $max: "$open" } } },
    { $project: { open: 1, mem: maxIntegral("mem"), disk: maxIntegral("ovg") } },
  ];
}

/** MiB × ms → GiB-seconds, rounded once per sandbox. */
const roundedQuantities = {
  memoryGbSeconds: round({ $divide: ["$mem", MB_MS_PER_GIB_SECOND] }),
  diskOverageGbSeconds: round({ $divide: ["$disk", MB_MS_PER_GIB_SECOND] }),
};

function filterStage(filters: TagFilter[]): Document[] {
  if (filters.length === 0) return [];
  const clauses = filters.map(({ key, values }) => {
    const wanted = values.filter((v) => v !== "");
    const either: Document[] = [];
    if (wanted.length > 0) either.push({ tags: { $elemMatch: { key, value: { $in: wanted } } } });
    if (wanted.length < values.length || values.length === 0) either.push({ tags: { $not: { $elemMatch: { key } } } });
    return either.length === 1 ? either[0]! : { $or: either };
  });
  return [{ $match: clauses.length === 1 ? clauses[0]! : { $and: clauses } }];
}

function pageStages(q: UsageAggregateQuery): Document[] {
  const after = q.after ? [{ $match: { $or: [{ [q.sort]: { $lt: q.after.v } }, { [q.sort]: q.after.v, key: { $gt: q.after.k } }] } }] : [];
  return [...after, { $sort: { [q.sort]: -1, key: 1 } }, { $limit: q.limit + 1 }];
}

const totalStages = [
  { $group: { _id: null, m: { $sum: "$memoryGbSeconds" }, d: { $sum: "$diskOverageGbSeconds" } } },
  { $project: { _id: 0, memoryGbSeconds: round("$m"), diskOverageGbSeconds: round("$d") } },
];

/**
 * Runs on `sessions`; the leading $match is served by sessions_org_started_at ({org_id,
 * started_at}); the tag join reads `sandboxes` by `_id`. Each sandbox's quantities are rounded to
 * 0.01 GiB-s once; tag rows and totals are sums of those, so rows add up to the total exactly.
 */
export function buildUsageAggregatePipeline(q: UsageAggregateQuery): Document[] {
  const match: Document = { org_id: q.orgId, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) match.external_user_id = q.externalUserId;
  const perSandbox: Document[] = [
    { $match: match },
    ...quantityStages(q.window, q.now),
    { $set: { sandbox: { $concat: [{ $literal: q.orgId }, "/", "$_id"] } } },
    { $lookup: { from: COLLECTIONS.sandboxes, localField: "sandbox", foreignField: "_id", as: "sb" } },
    { $set: { sb: { $arrayElemAt: ["$sb", 0] } } },
    {
      $project: {
        _id: 0,
        key: "$_id",
        alias: { $ifNull: ["$sb.alias", null] },
        status: { $cond: ["$open", "running", "stopped"] },
        tags: { $ifNull: ["$sb.tags", []] },
        tagsUpdatedAt: { $ifNull: ["$sb.tags_updated_at", null] },
        ...roundedQuantities,
      },
    },
    ...filterStage(q.filters),
  ];
  if (q.groupBy.kind === "sandbox") {
    return [...perSandbox, { $facet: { total: totalStages, items: pageStages(q) } }];
  }
  const valueOf = {
    $let: {
      vars: { hit: { $filter: { input: "$tags", cond: { $eq: ["$$this.key", { $literal: q.groupBy.key }] } } } },
      in: { $ifNull: [{ $arrayElemAt: ["$$hit.value", 0] }, null] },
    },
  };
  return [
    ...perSandbox,
    // One document per sandbox with runtime in the window reaches here, so counting them is sandboxCount.
    { $group: { _id: valueOf, m: { $sum: "$memoryGbSeconds" }, d: { $sum: "$diskOverageGbSeconds" }, n: { $sum: 1 } } },
    { $project: { _id: 0, key: "$_id", memoryGbSeconds: round("$m"), diskOverageGbSeconds: round("$d"), sandboxCount: "$n" } },
    {
      $facet: {
        total: totalStages,
        untagged: [{ $match: { key: null } }, { $project: { key: 0 } }],
        items: [{ $match: { key: { $ne: null } } }, ...pageStages(q)],
      },
    },
  ];
}

export interface SandboxQuantitiesQuery {
  orgId: string;
  sandboxIds: string[];
  window: Window;
  now: Date;
  externalUserId: string | null;
}

/**
 * Memory and disk-overage GiB-seconds of several sandboxes over a window (`Sandbox.usage`), one
 * document per sandbox with usage (`_id` = sandbox id). Served by sessions_org_sandbox_started_at.
 */
export function buildSandboxQuantitiesPipeline(q: SandboxQuantitiesQuery): Document[] {
  const match: Document = { org_id: q.orgId, sandbox_id: { $in: q.sandboxIds }, ...sessionsOverlapping(q.window) };
  if (q.externalUserId !== null) match.external_user_id = q.externalUserId;
  return [{ $match: match }, ...quantityStages(q.window, q.now), { $project: roundedQuantities }];
}

export const USAGE_AGGREGATE_INDEX = { byOrg: INDEXES.sessionsByOrgStart, onBehalf: INDEXES.sessionsByOrgExternalUser };
