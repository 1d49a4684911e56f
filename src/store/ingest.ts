/**
 * One ingest, inside its transaction: which events are new (an id stored, or voided, before is a
 * duplicate, and so is a second copy in the same request), then the new events are inserted and
 * added to every record derived from them. Nothing here reads more than the batch touches.
 */
import type { ClientSession } from "mongodb";
import type { Collections, UsageEventDoc } from "../db/collections.js";
import { withInt64 } from "../int64.js";
import { refreshMemoryMinutes, touchedMinutes } from "./memory.js";
import { addOperations, MEASURE_FIELDS } from "./operations.js";
import { addSandboxEvents } from "./sandboxes.js";
import { addLifecycleEvents } from "./sessions.js";

/** The ids of `docs` already taken, per org: stored or voided. */
async function takenIds(cols: Collections, session: ClientSession, docs: readonly UsageEventDoc[]): Promise<Set<string>> {
  const byOrg = new Map<string, string[]>();
  for (const d of docs) byOrg.set(d.org_id, [...(byOrg.get(d.org_id) ?? []), d.event_id]);
  const taken = new Set<string>();
  for (const [org, ids] of byOrg) {
    const filter = { org_id: org, event_id: { $in: ids } };
    const options = { session, projection: { _id: 0, event_id: 1 } };
    for (const c of [cols.usageEvents, cols.voidedEvents]) {
      for (const d of await c.find(filter, options).toArray()) taken.add(`${org}\u0000${d.event_id}`);
    }
  }
  return taken;
}

/** Stores the events of `docs` not stored before, with everything derived from them; returns those. */
export async function storeEvents(cols: Collections, session: ClientSession, docs: readonly UsageEventDoc[]): Promise<UsageEventDoc[]> {
  const taken = await takenIds(cols, session, docs);
  const fresh: UsageEventDoc[] = [];
  for (const d of docs) {
    const key = `${d.org_id}\u0000${d.event_id}`;
    if (taken.has(key)) continue;
    taken.add(key);
    // A copy: insertMany writes an _id into the documents it is given, and a retried transaction
    // must insert them afresh.
    fresh.push({ ...d });
  }
  if (fresh.length === 0) return fresh;
  // Measures past int32 are written as int64, so MongoDB sums them exactly (see int64.ts); the
  // documents passed on keep plain numbers.
  await cols.usageEvents.insertMany(fresh.map((d) => withInt64(d, MEASURE_FIELDS)), { session, ordered: true });
  await addOperations(cols, session, fresh);
  await addLifecycleEvents(cols, session, fresh);
  await addSandboxEvents(cols, session, fresh);
  await refreshMemoryMinutes(cols, session, touchedMinutes(fresh));
  return fresh;
}
