/**
 * Memory minutes (`usage_memory_1m`, one document per sandbox × UTC minute) kept inside the ingest
 * transaction. A touched minute is recomputed from its samples with the same `$sum` the raw series
 * uses (samples in time order), so both give the same doubles; `$inc` of doubles would not. A
 * sandbox reports about one sample a minute, so this reads about as many samples as the batch has.
 */
import type { AnyBulkWriteOperation, ClientSession } from "mongodb";
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

/** Runs of touched minutes ([from, to) in ms, gaps of up to `joinGap` minutes joined), each with the sandboxes touched in it. */
function runsOf(touched: readonly TouchedMinutes[], joinGap: number): Array<{ from: number; to: number; sandboxes: Set<string> }> {
  const minutes = touched.flatMap((t) => [...t.minutes].map((m) => ({ m, sandbox: t.sandboxId }))).sort((a, b) => a.m - b.m);
  const out: Array<{ from: number; to: number; sandboxes: Set<string> }> = [];
  for (const { m, sandbox } of minutes) {
    const last = out[out.length - 1];
    if (last && m <= last.to + joinGap * MS_PER_MINUTE) {
      last.to = Math.max(last.to, m + MS_PER_MINUTE);
      last.sandboxes.add(sandbox);
    } else out.push({ from: m, to: m + MS_PER_MINUTE, sandboxes: new Set([sandbox]) });
  }
  return out;
}

/**
 * Recomputes the given minutes (of one org's sandboxes) from the stored samples; a minute left
 * without samples is removed. One aggregation per run of nearby minutes: a live batch is one run.
 */
export async function refreshMemoryMinutes(cols: Collections, session: ClientSession, touched: readonly TouchedMinutes[]): Promise<void> {
  const writes: AnyBulkWriteOperation<MemoryRollupDoc>[] = [];
  const byOrg = new Map<string, TouchedMinutes[]>();
  for (const t of touched) byOrg.set(t.orgId, [...(byOrg.get(t.orgId) ?? []), t]);
  for (const [orgId, list] of byOrg) {
    const wanted = new Map(list.map((t) => [t.sandboxId, t.minutes]));
    for (const run of runsOf(list, 10)) {
      const sandboxes = [...run.sandboxes];
      const rows = await cols.usageEvents
        .aggregate<{ _id: { sb: string; t: Date }; used: number; n: number; peak: number }>(
          [
            { $match: { org_id: orgId, sandbox_id: sandboxes.length === 1 ? sandboxes[0] : { $in: sandboxes }, type: "sandbox.memory", ts: { $gte: new Date(run.from), $lt: new Date(run.to) } } },
            { $sort: { ts: 1 } },
            {
              $group: {
                _id: { sb: "$sandbox_id", t: { $dateTrunc: { date: "$ts", unit: "minute", binSize: 1, timezone: "UTC" } } },
                used: { $sum: "$used_memory_mb" },
                n: { $sum: 1 },
                peak: { $max: "$used_memory_mb" },
              },
            },
          ],
          { session },
        )
        .toArray();
      const seen = new Set<string>();
      for (const r of rows) {
        if (!wanted.get(r._id.sb)?.has(r._id.t.getTime())) continue;
        seen.add(`${r._id.sb}\u0000${r._id.t.getTime()}`);
        writes.push({ replaceOne: { filter: { _id: { org_id: orgId, sandbox_id: r._id.sb, t: r._id.t } }, replacement: { used: r.used, n: r.n, peak: r.peak }, upsert: true } });
      }
      for (const sb of sandboxes) {
        for (const m of wanted.get(sb)!) {
          if (m < run.from || m >= run.to || seen.has(`${sb}\u0000${m}`)) continue;
          writes.push({ deleteOne: { filter: { _id: { org_id: orgId, sandbox_id: sb, t: new Date(m) } } } });
        }
      }
    }
  }
  if (writes.length > 0) await cols.memoryByMinute.bulkWrite(writes, { session, ordered: false });
}
