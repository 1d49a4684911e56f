/**
 * MKA1 sandbox usage buckets. A page's buckets (any width, in any time zone) are given as their
 * boundaries; the pipelines here return one row per (bucket, group) — never a document holding a
 * whole bucket — and the service assembles the buckets, empty ones included.
 *
 * From the rollups, each bucket's part of the window is covered by the coarsest rollup buckets
 * that fit inside it (a UTC day, hours, minutes) and raw events for the sub-minute rest
 * (`coverBucket`). Measures are sums (and maxima) over those documents. Distinct sessions are
 * exact two ways (store/presence.ts): a bucket that is exactly one rollup bucket reads the rollup
 * counters (plus the rare "mixed" sessions from their presence documents); any other bucket (a
 * local day in New York, an hour in Kolkata, a ragged edge) counts from presence documents.
 *
 * A page without group-by (or grouped by org only) reads the totals instead of the operation
 * rollups: one document per (org, rollup bucket) whatever the number of dimension tuples in it, so
 * its cost follows the buckets answered. Their session counter counts every session of the bucket
 * once, mixed ones included, so a bucket that is one rollup bucket needs no presence at all.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";
import { type Level, LEVELS, ROLLUP_DIMENSIONS } from "../store/levels.js";

export const GROUP_BY_DIMENSIONS = ["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"] as const;
export type GroupByDimension = (typeof GROUP_BY_DIMENSIONS)[number];

export const BUCKET_WIDTHS = { "1m": 60, "1h": 3_600, "1d": 86_400 } as const;
export type BucketWidth = keyof typeof BUCKET_WIDTHS;
/** The rollup levels a bucket of each width may be built from, coarsest first. */
const WIDTH_LEVELS: Record<BucketWidth, readonly Level[]> = { "1d": ["1d", "1h", "1m"], "1h": ["1h", "1m"], "1m": ["1m"] };

/** Which operations count: the org scope and, for X-On-Behalf-Of, one external user's sessions. */
export interface OperationScope {
  /** null: every org (cluster admin, all_orgs). */
  orgIds: string[] | null;
  /** X-On-Behalf-Of: only operations of sessions whose session_start names this external user. */
  externalUserId: string | null;
}

export interface BucketPageQuery {
  scope: OperationScope;
  width: BucketWidth;
  groupBy: readonly GroupByDimension[];
  /** Events counted: [from, to). */
  from: Date;
  to: Date;
  /** The page's bucket boundaries (n + 1 of them for n buckets), ascending, in ms. */
  boundaries: readonly number[];
  /** IANA zone the buckets are aligned in (their boundaries already are). */
  timeZone: string;
}

/** Where a usage answer is read from: the rollups (where they answer exactly) or the raw events. */
export type UsageSource = "rollups" | "raw";

/** A pipeline and the collection it runs on. */
export interface PlannedPipeline {
  collection: string;
  pipeline: Document[];
}

/** One (bucket, group) of a page: its measures, and its distinct sessions where known. */
export interface BucketRow {
  _id: { bucket: Date } & Partial<Record<GroupByDimension, string | null>>;
  num_operations: number;
  request_count: number;
  duration_ms: number;
  workspace_bytes_in: number;
  workspace_bytes_out: number;
  files_changed_count: number;
  oom_killed_count: number;
  peak_memory_mib: number | null;
  reserved_memory_mib: number | null;
  /** Rollup counters: Σ ns and Σ nf of the documents behind the row. */
  ns?: number;
  nf?: number;
  /** Counted distinct sessions (raw and presence pipelines). */
  num_sessions?: number;
}

export const SANDBOX_USAGE_INDEX = { byOrg: INDEXES.eventsByOrgTypeTime, allOrgs: INDEXES.eventsByTypeTime };

const MEASURE_SUMS = ["request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count", "oom_killed_count"] as const;

/** The leading `$match` on raw operations: usage_events_org_type_ts, or usage_events_type_ts for every org. */
export function operationsMatch(scope: OperationScope, from: Date, to: Date): Document {
  const match: Document = {};
  if (scope.orgIds) match.org_id = scope.orgIds.length === 1 ? scope.orgIds[0] : { $in: scope.orgIds };
  match.type = "sandbox.operation";
  match.ts = { $gte: from, $lt: to };
  return match;
}

/**
 * X-On-Behalf-Of on raw operations: each event's session is looked up (one indexed point read
 * each, sessions_session_org {session_id, org_id}) and kept when its session_start named the user. Nothing is inlined,
 * whatever the number of sessions the user ever had.
 */
function onBehalfStages(scope: OperationScope): Document[] {
  if (scope.externalUserId === null) return [];
  return [
    {
      $lookup: {
        from: COLLECTIONS.sessions,
        localField: "session_id",
        foreignField: "session_id",
        let: { o: "$org_id" },
        pipeline: [
          { $match: { $expr: { $eq: ["$org_id", "$$o"] } } },
          { $project: { _id: 0, external_user_id: 1 } },
        ],
        as: "session",
      },
    },
    { $match: { "session.external_user_id": scope.externalUserId } },
  ];
}

/**
 * The start of the page bucket `date` falls in, from the page's own boundaries (computed once, in
 * the service, from the tz database), so the database needs no zone rules of its own: minutes and
 * hours of equal length are equal steps from the first boundary (a repeated local hour at a DST
 * change stays two buckets), anything else (days, an hour made 30 or 90 minutes by an offset
 * change) a `$switch` over the page's boundaries (at most 168).
 */
function bucketOf(q: BucketPageQuery, date: unknown): Document {
  const [first] = q.boundaries;
  const uniform = q.width === "1m" || q.boundaries.every((b, i) => i === 0 || b - q.boundaries[i - 1]! === 3_600_000);
  if (uniform) {
    const step = BUCKET_WIDTHS[q.width] * 1000;
    return { $add: [new Date(first!), { $multiply: [{ $floor: { $divide: [{ $subtract: [date, new Date(first!)] }, step] } }, step] }] };
  }
  const branches = q.boundaries.slice(1).map((end, i) => ({ case: { $lt: [date, new Date(end)] }, then: new Date(q.boundaries[i]!) }));
  return { $switch: { branches, default: new Date(q.boundaries[q.boundaries.length - 1]!) } };
}

function dimensionKey(q: BucketPageQuery, field: (dim: string) => string): Document {
  const key: Document = {};
  for (const dim of q.groupBy) key[dim] = { $ifNull: [field(dim), null] };
  return key;
}

/** From raw operation events: group by (bucket, dims, session), then by (bucket, dims). */
export function buildSandboxUsagePipeline(q: BucketPageQuery): Document[] {
  const sums: Document = {};
  const again: Document = {};
  for (const m of MEASURE_SUMS) {
    sums[m] = m === "oom_killed_count" ? { $sum: { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } } : { $sum: `$${m}` };
    again[m] = { $sum: `$${m}` };
  }
  const key = { bucket: bucketOf(q, "$ts"), ...dimensionKey(q, (d) => `$${d}`) };
  const outer: Document = { bucket: "$_id.bucket" };
  for (const dim of q.groupBy) outer[dim] = `$_id.${dim}`;
  return [
    { $match: operationsMatch(q.scope, q.from, q.to) },
    ...onBehalfStages(q.scope),
    {
      $group: {
        _id: { ...key, o: "$org_id", s: "$session_id" },
        num_operations: { $sum: 1 },
        ...sums,
        peak_memory_mib: { $max: "$peak_memory_mib" },
        reserved_memory_mib: { $max: "$reserved_memory_mib" },
      },
    },
    {
      $group: {
        _id: outer,
        num_operations: { $sum: "$num_operations" },
        ...again,
        peak_memory_mib: { $max: "$peak_memory_mib" },
        reserved_memory_mib: { $max: "$reserved_memory_mib" },
        num_sessions: { $sum: 1 },
      },
    },
  ];
}

/** One stretch of a bucket and the source that covers it: a rollup level, or raw events. */
export interface Segment {
  source: Level | "raw";
  from: number;
  to: number;
}

/**
 * [a, b) covered by the coarsest whole rollup buckets of `levels` that fit, finer towards the
 * edges, raw events for the sub-minute rest. E.g. 10:00:30–13:00 of a day is raw to 10:01,
 * minutes to 11:00, hours to 13:00.
 */
export function coverBucket(a: number, b: number, levels: readonly Level[]): Segment[] {
  const out: Segment[] = [];
  const cover = (lo: number, hi: number, i: number): void => {
    if (lo >= hi) return;
    const level = levels[i];
    if (!level) {
      out.push({ source: "raw", from: lo, to: hi });
      return;
    }
    const ms = LEVELS[level].ms;
    const x = Math.ceil(lo / ms) * ms;
    const y = Math.floor(hi / ms) * ms;
    if (x >= y) return cover(lo, hi, i + 1);
    cover(lo, x, i + 1);
    out.push({ source: level, from: x, to: y });
    cover(y, hi, i + 1);
  };
  cover(a, b, 0);
  return out;
}

export interface PagePlan {
  /** Per bucket: its segments, and whether it is exactly one rollup bucket (counters answer). */
  buckets: Array<{ start: number; segments: Segment[]; single: boolean }>;
  /** The totals answer (no dimension asked for, and the store's totals are complete). */
  totals: boolean;
}

/** No dimension of the operation rollups asked for: the totals answer (org_id is their key). */
export const readsTotals = (q: Pick<BucketPageQuery, "groupBy">): boolean => q.groupBy.every((d) => d === "org_id");

/** `totalsReady`: whether the store's totals cover every stored event (store/meta.ts); else the rollups answer. */
export function planPage(q: BucketPageQuery, totalsReady = true): PagePlan {
  const from = q.from.getTime();
  const to = q.to.getTime();
  const buckets: PagePlan["buckets"] = [];
  for (let i = 0; i + 1 < q.boundaries.length; i++) {
    const start = q.boundaries[i]!;
    const a = Math.max(start, from);
    const b = Math.min(q.boundaries[i + 1]!, to);
    const segments = a < b ? coverBucket(a, b, WIDTH_LEVELS[q.width]) : [];
    const only = segments[0];
    const single = segments.length === 1 && only!.source !== "raw" && only!.from === start && only!.to === q.boundaries[i + 1] && only!.to - only!.from === LEVELS[only!.source].ms;
    buckets.push({ start, segments, single });
  }
  return { buckets, totals: totalsReady && readsTotals(q) };
}

/** Adjacent segments of one source joined (fewer sub-pipelines; buckets come from $dateTrunc). */
function joinRuns(segments: readonly Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const s of [...segments].sort((x, y) => (x.source < y.source ? -1 : x.source > y.source ? 1 : x.from - y.from))) {
    const last = out[out.length - 1];
    if (last && last.source === s.source && last.to === s.from) last.to = s.to;
    else out.push({ ...s });
  }
  return out;
}

const rollupMatch = (q: BucketPageQuery, prefix: string, s: Segment, extra: Document = {}): Document => {
  const match: Document = {};
  if (q.scope.orgIds) match[`${prefix}org_id`] = q.scope.orgIds.length === 1 ? q.scope.orgIds[0] : { $in: q.scope.orgIds };
  Object.assign(match, extra);
  match[`${prefix}t`] = { $gte: new Date(s.from), $lt: new Date(s.to) };
  return match;
};

function unionAll(parts: PlannedPipeline[]): PlannedPipeline | null {
  const [first, ...rest] = parts;
  if (!first) return null;
  return { collection: first.collection, pipeline: [...first.pipeline, ...rest.map((p) => ({ $unionWith: { coll: p.collection, pipeline: p.pipeline } }))] };
}

/** Measures (and the rollup session counters) of every bucket of the page. */
export function buildMeasuresPipeline(q: BucketPageQuery, plan: PagePlan): PlannedPipeline | null {
  const { totals } = plan;
  const project: Document = { t: "$_id.t", org_id: "$_id.org_id", n: 1, ns: { $ifNull: ["$ns", 0] }, nf: { $ifNull: ["$nf", 0] }, peak_memory_mib: 1, reserved_memory_mib: 1 };
  if (totals) delete project.nf;
  else for (const d of ROLLUP_DIMENSIONS) project[d] = `$_id.${d}`;
  for (const m of MEASURE_SUMS) project[m] = 1;
  const rawProject: Document = { t: "$ts", org_id: 1, n: { $literal: 1 }, ns: { $literal: 0 }, nf: { $literal: 0 }, peak_memory_mib: 1, reserved_memory_mib: 1 };
  if (totals) delete rawProject.nf;
  else for (const d of ROLLUP_DIMENSIONS) rawProject[d] = 1;
  for (const m of MEASURE_SUMS) rawProject[m] = m === "oom_killed_count" ? { $cond: [{ $eq: ["$oom_killed", true] }, 1, 0] } : 1;
  const parts = joinRuns(plan.buckets.flatMap((b) => b.segments)).map((s): PlannedPipeline =>
    s.source === "raw"
      ? { collection: COLLECTIONS.usageEvents, pipeline: [{ $match: operationsMatch(q.scope, new Date(s.from), new Date(s.to)) }, { $project: rawProject }] }
      : { collection: totals ? LEVELS[s.source].totals : LEVELS[s.source].collection, pipeline: [{ $match: rollupMatch(q, "_id.", s) }, { $project: project }] },
  );
  const union = unionAll(parts);
  if (!union) return null;
  const sums: Document = {};
  for (const m of MEASURE_SUMS) sums[m] = { $sum: `$${m}` };
  union.pipeline.push({
    $group: {
      _id: { bucket: bucketOf(q, "$t"), ...dimensionKey(q, (d) => `$${d}`) },
      num_operations: { $sum: "$n" },
      ...sums,
      peak_memory_mib: { $max: "$peak_memory_mib" },
      reserved_memory_mib: { $max: "$reserved_memory_mib" },
      ns: { $sum: "$ns" },
      ...(totals ? {} : { nf: { $sum: "$nf" } }),
    },
  });
  return union;
}

/**
 * Distinct sessions counted from presence: every presence document of the buckets that are not one
 * rollup bucket, the mixed ones of those that are (none when the totals answer: they count mixed
 * sessions too), and raw events for sub-minute edges; grouped by (bucket, dims, org, session), then
 * counted per (bucket, dims). Without dimensions a presence document is one session, whatever its
 * tuples, so they are not unwound.
 */
export function buildSessionsPipeline(q: BucketPageQuery, plan: PagePlan): PlannedPipeline | null {
  const { totals } = plan;
  const composite = joinRuns(plan.buckets.filter((b) => !b.single).flatMap((b) => b.segments));
  const single = totals ? [] : joinRuns(plan.buckets.filter((b) => b.single).flatMap((b) => b.segments));
  const dims = (field: (d: string) => unknown) => (totals ? {} : Object.fromEntries(ROLLUP_DIMENSIONS.map((d) => [d, field(d)])));
  const presence = (s: Segment, mixedOnly: boolean): PlannedPipeline => ({
    collection: COLLECTIONS.sessionBuckets,
    pipeline: [
      { $match: mixedOnly ? { mixed: true, "_id.l": s.source, ...rollupMatch(q, "_id.", s) } : rollupMatch(q, "_id.", s, { "_id.l": s.source }) },
      ...(totals ? [] : [{ $unwind: "$tuples" }]),
      { $project: { _id: 0, t: "$_id.t", o: "$_id.org_id", s: "$_id.session_id", ...dims((d) => `$tuples.${d}`), org_id: "$_id.org_id" } },
    ],
  });
  const raw = (s: Segment): PlannedPipeline => ({
    collection: COLLECTIONS.usageEvents,
    pipeline: [
      { $match: operationsMatch(q.scope, new Date(s.from), new Date(s.to)) },
      { $project: { t: "$ts", o: "$org_id", s: "$session_id", ...dims(() => 1), org_id: 1 } },
    ],
  });
  const parts = [
    ...composite.map((s) => (s.source === "raw" ? raw(s) : presence(s, false))),
    ...single.map((s) => presence(s, true)),
  ];
  const union = unionAll(parts);
  if (!union) return null;
  const key = { bucket: bucketOf(q, "$t"), ...dimensionKey(q, (d) => `$${d}`) };
  const outer: Document = { bucket: "$_id.bucket" };
  for (const dim of q.groupBy) outer[dim] = `$_id.${dim}`;
  union.pipeline.push({ $group: { _id: { ...key, o: "$o", s: "$s" } } }, { $group: { _id: outer, num_sessions: { $sum: 1 } } });
  return union;
}

/**
 * Which rollup counter gives the distinct sessions of a bucket that is one rollup bucket (to which
 * the presence pipeline's count is added): the totals' `ns`; with dimensions, Σ `ns` when the
 * group-by includes `operation`, else Σ `nf` (store/presence.ts).
 */
export type SessionCounter = "ns" | "nf";

/** Which pipelines answer the page: the rollups unless X-On-Behalf-Of (or USAGE_SOURCE=raw) needs raw events. */
export function planSandboxUsage(
  q: BucketPageQuery,
  source: UsageSource,
  totalsReady = true,
): { raw: PlannedPipeline } | { plan: PagePlan; measures: PlannedPipeline | null; sessions: PlannedPipeline | null; counter: SessionCounter } {
  if (source === "raw" || q.scope.externalUserId !== null) return { raw: { collection: COLLECTIONS.usageEvents, pipeline: buildSandboxUsagePipeline(q) } };
  const plan = planPage(q, totalsReady);
  const counter = plan.totals || q.groupBy.includes("operation") ? "ns" : "nf";
  return { plan, measures: buildMeasuresPipeline(q, plan), sessions: buildSessionsPipeline(q, plan), counter };
}
