/**
 * The ingest side of budgets: ONE upsert per org per ingest, whatever the number of budgets or the
 * size of the history — it only widens the org's "not evaluated yet" time range and bumps its
 * version. The evaluator (evaluator.ts) does the work later, off the request path.
 */
import type { Clock } from "../clock.js";
import type { Collections } from "../db/collections.js";

export interface UsageRange {
  minTs: Date;
  maxTs: Date;
}

/** Called by ingest after the events (and what is derived from them) are written. */
export async function noteUsage(deps: { cols: Collections; clock: Clock }, orgId: string, range: UsageRange): Promise<void> {
  await deps.cols.budgetMarks.updateOne(
    { _id: orgId },
    { $min: { min_ts: range.minTs }, $max: { max_ts: range.maxTs }, $inc: { ver: 1 }, $set: { dirty: true }, $setOnInsert: { lease_until: new Date(0), lease_owner: null } },
    { upsert: true },
  );
}

/** The time range per org of a batch of stored events (what `noteUsage` is told). */
export function rangesByOrg(docs: ReadonlyArray<{ org_id: string; ts: Date }>): Map<string, UsageRange> {
  const out = new Map<string, UsageRange>();
  for (const d of docs) {
    const r = out.get(d.org_id);
    if (!r) out.set(d.org_id, { minTs: d.ts, maxTs: d.ts });
    else {
      if (d.ts < r.minTs) r.minTs = d.ts;
      if (d.ts > r.maxTs) r.maxTs = d.ts;
    }
  }
  return out;
}
