/**
 * Whether the totals (`usage_totals_*`) cover every stored event, so that queries without
 * group-by may read them. Ingest keeps the totals from the first event a database stores under
 * this version; a database holding events from an earlier version has none for those until
 * `npm run rollups:rebuild` computes them. Until then ungrouped queries read the operation
 * rollups: exact, with a cost that follows the dimension tuples (docs/store.md).
 *
 * The fact is one document, `{_id: "totals"}` in `store_meta`, written when the database is
 * still empty at start (ensureIndexes) or when a rebuild has finished.
 */
import type { Collections } from "../db/collections.js";

const TOTALS = "totals";
/** How long a "not yet" is believed before the marker is read again. */
const RECHECK_MS = 10_000;

/** At start: a database with no event yet has complete totals from now on. */
export async function markTotalsIfFresh(cols: Collections): Promise<void> {
  if (await cols.storeMeta.findOne({ _id: TOTALS })) return;
  if (await cols.usageEvents.findOne({}, { projection: { _id: 1 } })) return;
  await cols.storeMeta.updateOne({ _id: TOTALS }, { $setOnInsert: { at: new Date(), by: "fresh" } }, { upsert: true });
}

/** After a rebuild: every stored event is in the totals. */
export async function markTotalsComplete(cols: Collections): Promise<void> {
  await cols.storeMeta.updateOne({ _id: TOTALS }, { $set: { at: new Date(), by: "rebuild" } }, { upsert: true });
}

const known = new WeakMap<Collections["storeMeta"], { ready: boolean; at: number }>();

/** Whether the totals may answer; once true it stays true (a store never loses its totals). */
export async function totalsReady(cols: Collections, now = Date.now()): Promise<boolean> {
  const seen = known.get(cols.storeMeta);
  if (seen && (seen.ready || now - seen.at < RECHECK_MS)) return seen.ready;
  const ready = (await cols.storeMeta.findOne({ _id: TOTALS })) !== null;
  known.set(cols.storeMeta, { ready, at: now });
  return ready;
}
