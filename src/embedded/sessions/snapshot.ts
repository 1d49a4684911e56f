/**
 * A transaction's private view of the store: every collection as it was when the transaction
 * took its snapshot, as copy-on-write copies (records and index trees share structure with the
 * live store until either side writes, so taking one costs O(collections), not O(documents)).
 * The transaction's commands run unchanged against this view — reads see the snapshot plus the
 * transaction's own writes; nobody else sees them — and each copy records which `_id`s it wrote.
 * Commit turns those into document operations (`writeSetOf`) applied to the live store in one
 * synchronous step (`applyOps`), which is also what the journal records and replays.
 */
import { EJSON } from "bson";
import { Collection } from "../engine/collection.js";
import type { Doc } from "../engine/paths.js";
import { Store } from "../engine/store.js";

/** One document-level change of a commit, by `_id` (record ids differ between stores). */
export type Op =
  | { op: "c"; ns: string }
  | { op: "d"; ns: string; _id: unknown }
  | { op: "u"; ns: string; o: Doc }
  | { op: "i"; ns: string; o: Doc };

/** A stable string for a BSON value (an `_id` or an index key), for maps and lock tables. */
export function keyString(value: unknown): string {
  return EJSON.stringify({ v: value } as Doc, { relaxed: false });
}

/** The record holding `_id` (through the `_id` index), if any. */
export function findById(coll: Collection | undefined, id: unknown): [number, Doc] | undefined {
  if (!coll) return undefined;
  for (const rid of coll.indexes.get("_id_")!.scan([{ points: [id] }])) {
    const doc = coll.docs.get(rid);
    if (doc) return [rid, doc];
  }
  return undefined;
}

/** A collection of a transaction's view: a copy of the snapshot that notes every `_id` written. */
export class TxnCollection extends Collection {
  /** `_id`s written by the transaction, by key string. */
  readonly touched = new Map<string, unknown>();
  /** Those written since the session layer last checked them for conflicts. */
  readonly unchecked = new Map<string, unknown>();

  constructor(
    db: string,
    name: string,
    /** The collection as of the snapshot (never written); null when the transaction created it. */
    readonly snapshot: Collection | null,
  ) {
    super(db, name);
    if (snapshot) this.adopt(snapshot);
  }

  override insert(input: Doc): Doc {
    const doc = super.insert(input);
    this.touch(doc._id);
    return doc;
  }

  override replace(rid: number, next: Doc): void {
    const prev = this.docs.get(rid);
    super.replace(rid, next);
    if (prev) this.touch(prev._id);
    this.touch(next._id);
  }

  override remove(rid: number): void {
    const prev = this.docs.get(rid);
    super.remove(rid);
    if (prev) this.touch(prev._id);
  }

  override clear(): void {
    for (const doc of this.docs.values()) this.touch(doc._id);
    super.clear();
  }

  private touch(id: unknown): void {
    const key = keyString(id);
    this.touched.set(key, id);
    this.unchecked.set(key, id);
  }
}

/** A copy of a collection that nobody writes: what the snapshot held. */
class FrozenCollection extends Collection {
  constructor(base: Collection) {
    super(base.db, base.name);
    this.adopt(base);
  }
}

/** The store a transaction runs against; collections it creates are created at commit. */
export class TxnStore extends Store {
  /** Namespaces the transaction created (implicitly, by writing to them). */
  readonly created = new Set<string>();

  static snapshotOf(live: Store): TxnStore {
    const view = new TxnStore();
    for (const [db, colls] of live.dbs) {
      const copies = new Map<string, Collection>();
      for (const [name, coll] of colls) copies.set(name, new TxnCollection(db, name, new FrozenCollection(coll)));
      view.dbs.set(db, copies);
    }
    return view;
  }

  override ensureCollection(db: string, name: string): { coll: Collection; created: boolean } {
    const existing = this.collection(db, name);
    if (existing) return { coll: existing, created: false };
    super.ensureCollection(db, name); // validates the names and makes the database's map
    const coll = new TxnCollection(db, name, null);
    this.dbs.get(db)!.set(name, coll);
    this.created.add(coll.ns);
    return { coll, created: true };
  }

  /** The view's collections that the transaction wrote to (or created). */
  *written(): Generator<TxnCollection> {
    for (const colls of this.dbs.values()) {
      for (const coll of colls.values()) {
        if (coll instanceof TxnCollection && (coll.touched.size > 0 || this.created.has(coll.ns))) yield coll;
      }
    }
  }
}

/** Splits `db.collection` (database names never contain a dot; collection names may). */
export function splitNs(ns: string): [string, string] {
  const dot = ns.indexOf(".");
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}

/**
 * Whether the live store still holds, for every `_id` in `ids` of `coll`, the very document the
 * snapshot held (documents are never mutated in place, so identity means "not written since").
 * Returns the first `_id` written by someone else after the snapshot, if any.
 */
export function changedSinceSnapshot(live: Store, coll: TxnCollection, ids: Iterable<unknown>): unknown {
  const current = live.collection(coll.db, coll.name);
  for (const id of ids) {
    const then = findById(coll.snapshot ?? undefined, id)?.[1];
    const now = findById(current, id)?.[1];
    if (then !== now) return id;
  }
  return undefined;
}

/**
 * The document operations that turn the snapshot into the transaction's view: creations first,
 * then deletions, replacements and inserts (so a key a deleted document held is free again
 * before a new document takes it).
 */
export function writeSetOf(view: TxnStore): Op[] {
  const creates: Op[] = [];
  const deletes: Op[] = [];
  const updates: Op[] = [];
  const inserts: Op[] = [];
  for (const coll of view.written()) {
    const ns = coll.ns;
    if (view.created.has(ns)) creates.push({ op: "c", ns });
    for (const id of coll.touched.values()) {
      const then = findById(coll.snapshot ?? undefined, id)?.[1];
      const now = findById(coll, id)?.[1];
      if (then === now) continue;
      if (!now) deletes.push({ op: "d", ns, _id: id });
      else if (!then) inserts.push({ op: "i", ns, o: now });
      else updates.push({ op: "u", ns, o: now });
    }
  }
  return [...creates, ...deletes, ...updates, ...inserts];
}

/**
 * Applies a write set to a store, all or nothing: on any failure (a unique key taken meanwhile)
 * the operations already applied are undone and the error is rethrown. Synchronous, so no other
 * command ever sees a commit half-applied. Commit and journal replay both use it.
 */
export function applyOps(store: Store, ops: Op[]): void {
  const undo: Array<() => void> = [];
  try {
    for (const op of ops) {
      const [db, name] = splitNs(op.ns);
      const { coll, created } = store.ensureCollection(db, name);
      if (created) undo.push(() => store.dropCollection(db, name));
      if (op.op === "c") continue;
      const id = op.op === "d" ? op._id : op.o._id;
      const hit = findById(coll, id);
      if (op.op === "d") {
        if (!hit) continue;
        coll.remove(hit[0]);
        undo.push(() => coll.insert(hit[1]));
      } else if (hit) {
        coll.replace(hit[0], op.o);
        undo.push(() => coll.replace(hit[0], hit[1]));
      } else {
        coll.insert(op.o);
        undo.push(() => {
          const mine = findById(coll, id);
          if (mine) coll.remove(mine[0]);
        });
      }
    }
  } catch (err) {
    for (const step of undo.reverse()) step();
    throw err;
  }
}
