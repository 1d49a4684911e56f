/**
 * Keeping the rollups (pipelines/rollups.ts) equal to the raw events: after an ingest, every bucket
 * its events fall in is recomputed, hour → day (and memory minutes); `rebuildRollups` recomputes them all.
 */
import type { Document } from "mongodb";
import type { Collections, UsageEventDoc } from "../db/collections.js";
import {
  buildMemoryMinutesPipeline,
  buildOperationDaysPipeline,
  buildOperationHoursPipeline,
  type MergeMode,
  OPERATION_LEVELS,
} from "../pipelines/rollups.js";
import { MS_PER_DAY, MS_PER_MINUTE } from "../time.js";

export interface TimeRun {
  from: Date;
  to: Date;
}

/**
 * The buckets of `unitMs` that the times fall in, as half-open runs; buckets closer than `joinGap`
 * buckets apart share a run (one query reading a little more beats one query per bucket).
 */
export function bucketRuns(times: Iterable<number>, unitMs: number, joinGap = 0): TimeRun[] {
  const buckets = [...new Set(Array.from(times, (t) => Math.floor(t / unitMs)))].sort((a, b) => a - b);
  const runs: TimeRun[] = [];
  let start = buckets[0];
  let end = start;
  for (const b of buckets.slice(1)) {
    if (b - end! <= joinGap + 1) end = b;
    else {
      runs.push({ from: new Date(start! * unitMs), to: new Date((end! + 1) * unitMs) });
      start = end = b;
    }
  }
  if (start !== undefined) runs.push({ from: new Date(start * unitMs), to: new Date((end! + 1) * unitMs) });
  return runs;
}

/** The runs of (coarser) `unitMs` buckets that the given runs overlap. */
function coarsen(runs: TimeRun[], unitMs: number): TimeRun[] {
  const starts: number[] = [];
  for (const r of runs) {
    for (let b = Math.floor(r.from.getTime() / unitMs); b <= Math.floor((r.to.getTime() - 1) / unitMs); b++) starts.push(b * unitMs);
  }
  return bucketRuns(starts, unitMs);
}

/** Recomputes one org's operation rollups for the given hour runs, then the days over them. */
async function refreshOperations(cols: Collections, orgId: string, hourRuns: TimeRun[], mode: MergeMode): Promise<void> {
  for (const r of hourRuns) await cols.usageEvents.aggregate(buildOperationHoursPipeline(orgId, r.from, r.to, mode)).toArray();
  for (const r of coarsen(hourRuns, OPERATION_LEVELS["1d"].ms)) await cols.opsByHour.aggregate(buildOperationDaysPipeline(orgId, r.from, r.to, mode)).toArray();
}

function perOrg<T>(into: Map<string, T>, org: string, make: () => T): T {
  let v = into.get(org);
  if (v === undefined) into.set(org, (v = make()));
  return v;
}

/**
 * Brings the rollups up to date with the stored events, for every bucket `docs` fall in. Runs for
 * duplicates too, so a retry after a failure part-way through completes what the first try began.
 */
export async function refreshRollups(cols: Collections, docs: readonly UsageEventDoc[]): Promise<void> {
  const operations = new Map<string, number[]>();
  const memory = new Map<string, { sandboxes: Set<string>; times: number[] }>();
  for (const d of docs) {
    if (d.type === "sandbox.operation") perOrg(operations, d.org_id, () => []).push(d.ts.getTime());
    else {
      const m = perOrg(memory, d.org_id, () => ({ sandboxes: new Set<string>(), times: [] }));
      m.sandboxes.add(d.sandbox_id);
      m.times.push(d.ts.getTime());
    }
  }
  for (const [org, times] of operations) await refreshOperations(cols, org, bucketRuns(times, OPERATION_LEVELS["1h"].ms), "refresh");
  for (const [org, { sandboxes, times }] of memory) {
    for (const r of bucketRuns(times, MS_PER_MINUTE, 10)) {
      await cols.usageEvents.aggregate(buildMemoryMinutesPipeline(org, [...sandboxes], r.from, r.to, "refresh")).toArray();
    }
  }
}

export interface RebuildReport {
  orgs: number;
  days: number;
}

/**
 * Recomputes every rollup from the raw events, a UTC day of one org at a time: the day's rollups
 * are deleted and written anew, so a rollup that disagrees with the events (or has none behind it)
 * does not survive. Queries see a day half-rebuilt while it runs; serve from raw events meanwhile
 * (USAGE_SOURCE=raw) if that matters.
 */
export async function rebuildRollups(cols: Collections, opts: { onDay?: (org: string, day: Date) => void } = {}): Promise<RebuildReport> {
  const rollups = [cols.opsByHour, cols.opsByDay, cols.memoryByMinute];
  const deleteRollups = (filter: Document) => Promise.all(rollups.map((c) => c.deleteMany(filter)));
  const orgs = (await cols.usageEvents.distinct("org_id")).sort();
  // Rollups of orgs without events are strays.
  await deleteRollups({ "_id.org_id": { $nin: orgs } });
  let days = 0;
  for (const org of orgs) {
    const [range] = await cols.usageEvents
      .aggregate<{ min: Date; max: Date }>([{ $match: { org_id: org } }, { $group: { _id: null, min: { $min: "$ts" }, max: { $max: "$ts" } } }])
      .toArray();
    if (!range) continue;
    const first = Math.floor(range.min.getTime() / MS_PER_DAY) * MS_PER_DAY;
    const last = Math.floor(range.max.getTime() / MS_PER_DAY) * MS_PER_DAY;
    await deleteRollups({ "_id.org_id": org, $or: [{ "_id.t": { $lt: new Date(first) } }, { "_id.t": { $gte: new Date(last + MS_PER_DAY) } }] });
    for (let day = first; day <= last; day += MS_PER_DAY) {
      const from = new Date(day);
      const to = new Date(day + MS_PER_DAY);
      await deleteRollups({ "_id.org_id": org, "_id.t": { $gte: from, $lt: to } });
      await refreshOperations(cols, org, [{ from, to }], "rebuild");
      await cols.usageEvents.aggregate(buildMemoryMinutesPipeline(org, null, from, to, "rebuild")).toArray();
      opts.onDay?.(org, from);
      days++;
    }
  }
  return { orgs: orgs.length, days };
}
