/**
 * Sandbox records kept inside the ingest transaction: every sandbox an event names is known; its
 * alias is that of the earliest session_start carrying one; its tags are those of the latest
 * tagged session_start, unless the tags API replaced them since (a PUT supersedes every tagged
 * start seen so far; only a tagged start later than both takes over again). Each rule compares the
 * batch's starts with what the record holds, so the work follows the batch, not the history.
 */
import type { AnyBulkWriteOperation, ClientSession, Document } from "mongodb";
import { type Collections, type SandboxDoc, sandboxKey, type UsageEventDoc } from "../db/collections.js";

type Stored = SandboxDoc & { alias_session?: string | null };

const before = (at: Date, session: string, than: Date | null | undefined, thanSession: string | null | undefined) =>
  !than || at < than || (at.getTime() === than.getTime() && session < (thanSession ?? ""));

export async function addSandboxEvents(cols: Collections, session: ClientSession, events: readonly UsageEventDoc[]): Promise<void> {
  const named = new Map<string, { org_id: string; sandbox_id: string; starts: UsageEventDoc[] }>();
  for (const e of events) {
    const id = sandboxKey(e.org_id, e.sandbox_id);
    let s = named.get(id);
    if (!s) named.set(id, (s = { org_id: e.org_id, sandbox_id: e.sandbox_id, starts: [] }));
    if (e.operation === "session_start" && (e.alias !== undefined || e.tags !== undefined)) s.starts.push(e);
  }
  if (named.size === 0) return;
  const withStarts = [...named].filter(([, s]) => s.starts.length > 0).map(([id]) => id);
  const stored = new Map<string, Stored>();
  if (withStarts.length > 0) {
    for (const doc of await cols.sandboxes.find({ _id: { $in: withStarts } }, { session }).toArray()) stored.set(doc._id, doc as Stored);
  }
  const writes: AnyBulkWriteOperation<SandboxDoc>[] = [];
  for (const [_id, s] of named) {
    const insert = { org_id: s.org_id, sandbox_id: s.sandbox_id, tags: [], tags_updated_at: null };
    if (s.starts.length === 0) {
      writes.push({ updateOne: { filter: { _id }, update: { $setOnInsert: insert }, upsert: true } });
      continue;
    }
    const cur: Stored = stored.get(_id) ?? { _id, ...insert };
    const set: Document = {};
    let alias = { value: cur.alias ?? null, at: cur.alias_at ?? null, session: cur.alias_session ?? null };
    let tags = { value: cur.tags, at: cur.tags_updated_at, seen: cur.tags_event_at ?? null };
    for (const e of s.starts) {
      if (e.alias !== undefined && e.alias !== null && before(e.ts, e.session_id ?? "", alias.at, alias.session)) {
        alias = { value: e.alias, at: e.ts, session: e.session_id ?? "" };
      }
      if (e.tags !== undefined && (!tags.seen || e.ts > tags.seen)) {
        if (!tags.at || e.ts > tags.at) tags = { value: e.tags, at: e.ts, seen: e.ts };
        else tags = { ...tags, seen: e.ts };
      }
    }
    if (alias.value !== null) Object.assign(set, { alias: alias.value, alias_at: alias.at, alias_session: alias.session });
    Object.assign(set, { tags: tags.value, tags_updated_at: tags.at, tags_event_at: tags.seen });
    writes.push({ updateOne: { filter: { _id }, update: { $set: { org_id: s.org_id, sandbox_id: s.sandbox_id, ...set } }, upsert: true } });
  }
  await cols.sandboxes.bulkWrite(writes, { session, ordered: false });
}
