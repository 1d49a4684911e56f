/**
 * Memory minutes (`usage_memory_1m`, one document per sandbox × UTC minute) kept inside the ingest
 * transaction. A touched minute is recomputed from its samples with the same `$sum` the raw series
 * uses (samples in time order), so both give the same doubles; `$inc` of doubles would not. A
 * sandbox reports about one sample a minute, so this reads about as many samples as the batch has.
 */
import type { AnyBulkWriteOperation, ClientSession, Document } from "mongodb";
import type { Collections, MemoryRollupDoc } from "../db/collections.js";
import { MS_PER_MINUTE } from "../time.js";

export interface TouchedMinutes {
  orgId: string;
  sandboxId: string;
  minutes: Set<number>;
}

export function touchedMinutes(events: ReadonlyArray<{ type: string; org_id: string; sandbox_id: string; ts: Date }>): TouchedMinutes[] {
  const out = new Map<string, TouchedMinutes>();
  for (const e of events) {
    if (e.type !== "sandbox.memory") continue;
    const key = `${e.org_id}/${e.sandbox_id}`;
    let t = out.get(key);
    if (!t) out.set(key, (t = { orgId: e.org_id, sandboxId: e.sandbox_id, minutes: new Set() }));
    t.minutes.add(Math.floor(e.ts.getTime() / MS_PER_MINUTE) * MS_PER_MINUTE);
  }
  return [...out.values()];
}

/** Contiguous runs of minutes, [from, to) in ms. */
function runs(minutes: Set<number>): Array<[number, number]> {
  const sorted = [...minutes].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const m of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === m) last[1] = m + MS_PER_MINUTE;
    else out.push([m, m + MS_PER_MINUTE]);
  }
  return out;
}

/** Recomputes the given minutes from the stored samples (a minute left without samples is removed). */
export async function refreshMemoryMinutes(cols: Collections, session: ClientSession, touched: readonly TouchedMinutes[]): Promise<void> {
  const writes: AnyBulkWriteOperation<MemoryRollupDoc>[] = [];
  for (const t of touched) {
    const ranges = runs(t.minutes).map(([a, b]) => ({ ts: { $gte: new Date(a), $lt: new Date(b) } }));
    const match: Document = { org_id: t.orgId, sandbox_id: t.sandboxId, type: "sandbox.memory" };
    if (ranges.length === 1) Object.assign(match, ranges[0]);
    else match.$or = ranges;
    const rows = await cols.usageEvents
      .aggregate<{ _id: Date; used: number; n: number; peak: number }>(
        [
          { $match: match },
          { $sort: { ts: 1 } },
          {
            $group: {
              _id: { $dateTrunc: { date: "$ts", unit: "minute", binSize: 1, timezone: "UTC" } },
              used: { $sum: "$used_memory_mb" },
              n: { $sum: 1 },
              peak: { $max: "$used_memory_mb" },
            },
          },
        ],
        { session },
      )
      .toArray();
    const seen = new Set<number>();
    for (const r of rows) {
      seen.add(r._id.getTime());
      writes.push({
        replaceOne: { filter: { _id: { org_id: t.orgId, sandbox_id: t.sandboxId, t: r._id } }, replacement: { used: r.used, n: r.n, peak: r.peak }, upsert: true },
      });
    }
    for (const m of t.minutes) {
      if (!seen.has(m)) writes.push({ deleteOne: { filter: { _id: { org_id: t.orgId, sandbox_id: t.sandboxId, t: new Date(m) } } } });
    }
  }
  if (writes.length > 0) await cols.memoryByMinute.bulkWrite(writes, { session, ordered: false });
}
