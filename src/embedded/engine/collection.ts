/**
 * One collection: documents by record id in insertion order, plus its indexes. Stored documents
 * are never mutated in place (writes replace them), so readers may hold references freely.
 */
import { ObjectId } from "bson";
import { badValue, ErrorCodes, MongoCommandError } from "./errors.js";
import { defaultIndexName, Index, type IndexSpec, sameKeyPattern } from "./indexes.js";
import { type Doc } from "./paths.js";
import { type Plan, planFilter, residualFilter } from "./planner.js";
import { newQuery } from "./mingo-options.js";
import { RecordMap } from "./records.js";

/** What a scan looked at, for explain's executionStats: index entries and documents. */
export interface ScanStats {
  keysExamined: number;
  docsExamined: number;
}

export class Collection {
  readonly docs: RecordMap<Doc> = new RecordMap<Doc>();
  readonly indexes = new Map<string, Index>();
  private nextRid = 1;

  constructor(
    readonly db: string,
    readonly name: string,
  ) {
    this.indexes.set("_id_", new Index({ v: 2, key: { _id: 1 }, name: "_id_", unique: true }));
  }

  /**
   * Makes this collection a copy-on-write copy of `base` (records and indexes share structure
   * until either side writes): the snapshot a transaction reads and writes. O(number of indexes).
   */
  protected adopt(base: Collection): void {
    (this as { docs: RecordMap<Doc> }).docs = base.docs.clone();
    this.indexes.clear();
    for (const [name, index] of base.indexes) this.indexes.set(name, index.clone());
    this.nextRid = base.nextRid;
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get size(): number {
    return this.docs.size;
  }

  /** Inserts one document (giving it an ObjectId `_id` when it has none); throws 11000 on a duplicate. */
  insert(input: Doc): Doc {
    const doc = withId(input);
    const rid = this.nextRid++;
    const keys = this.checkUnique(doc, -1);
    for (const [index, k] of keys) index.add(k, rid);
    this.docs.set(rid, doc);
    return doc;
  }

  /**
   * Replaces the document at `rid`; throws 11000 (leaving it unchanged) if a unique key would
   * repeat. Indexes whose keys the replacement leaves as they were are not touched (nor checked:
   * the record already held those keys).
   */
  replace(rid: number, next: Doc): void {
    const prev = this.docs.get(rid);
    if (!prev) throw new Error(`record ${rid} vanished`);
    const changed: Array<[Index, unknown[][], unknown[][]]> = [];
    for (const index of this.indexes.values()) {
      const before = index.keysOf(prev);
      const after = index.keysOf(next);
      if (index.sameKeys(before, after)) continue;
      const conflict = index.conflictFor(after, rid);
      if (conflict) throw index.duplicateKeyError(this.ns, conflict);
      changed.push([index, before, after]);
    }
    for (const [index, before] of changed) index.remove(before, rid);
    for (const [index, , after] of changed) index.add(after, rid);
    this.docs.set(rid, next);
  }

  remove(rid: number): void {
    const prev = this.docs.get(rid);
    if (!prev) return;
    for (const index of this.indexes.values()) index.remove(index.keysOf(prev), rid);
    this.docs.delete(rid);
  }

  private checkUnique(doc: Doc, selfRid: number): Array<[Index, unknown[][]]> {
    const all: Array<[Index, unknown[][]]> = [];
    for (const index of this.indexes.values()) {
      const keys = index.keysOf(doc);
      const conflict = index.conflictFor(keys, selfRid);
      if (conflict) throw index.duplicateKeyError(this.ns, conflict);
      all.push([index, keys]);
    }
    return all;
  }

  /** The index plan for `filter` (null: a collection scan). `match` runs exactly this plan, and explain reports it. */
  plan(filter: Doc): Plan | null {
    return planFilter(filter, this.indexes.values());
  }

  /** Records that may match `filter`: the plan's index range when there is one, else every record. */
  *candidates(filter: Doc, plan: Plan | null = this.plan(filter), stats?: ScanStats): Generator<[number, Doc]> {
    if (!plan) {
      if (stats) stats.docsExamined += this.docs.size;
      yield* this.docs.entries();
      return;
    }
    const rids = plan.index.scan(plan.bounds);
    if (stats) {
      stats.keysExamined += rids.length;
      stats.docsExamined += rids.length;
    }
    for (const rid of rids) {
      const doc = this.docs.get(rid);
      if (doc) yield [rid, doc];
    }
  }

  /**
   * Matching records, with the filter applied exactly (by mingo) to the planned candidates.
   * `plan` is the one `plan(filter)` gave, when the caller already holds it (explain does).
   */
  *match(filter: Doc, opts: { plan?: Plan | null; stats?: ScanStats } = {}): Generator<[number, Doc]> {
    const plan = opts.plan === undefined ? this.plan(filter) : opts.plan;
    if (Object.keys(filter).length === 0) {
      yield* this.candidates(filter, plan, opts.stats);
      return;
    }
    const residual = residualFilter(filter, plan);
    if (Object.keys(residual).length === 0) {
      yield* this.candidates(filter, plan, opts.stats);
      return;
    }
    const query = newQuery(residual);
    for (const entry of this.candidates(filter, plan, opts.stats)) if (query.test(entry[1])) yield entry;
  }

  /** Documents matching `filter`, as an array (used as the input of find and aggregate). */
  matchingDocs(filter: Doc, opts: { plan?: Plan | null; stats?: ScanStats } = {}): Doc[] {
    const out: Doc[] = [];
    for (const [, doc] of this.match(filter, opts)) out.push(doc);
    return out;
  }

  allDocs(): Doc[] {
    return Array.from(this.docs.values());
  }

  /** Creates an index; the same name and key again is a no-op, a clash is MongoDB's error. */
  createIndex(spec: IndexSpec): boolean {
    if (!spec.key || typeof spec.key !== "object" || Object.keys(spec.key).length === 0) {
      throw badValue("index key pattern must be a non-empty object");
    }
    const name = spec.name ?? defaultIndexName(spec.key);
    const existing = this.indexes.get(name);
    if (existing) {
      if (!sameKeyPattern(existing.spec.key, spec.key)) {
        throw new MongoCommandError(ErrorCodes.IndexKeySpecsConflict, "IndexKeySpecsConflict",
          `An existing index has the same name as the requested index but a different key: ${name}`);
      }
      if (Boolean(existing.spec.unique) !== Boolean(spec.unique)) {
        throw new MongoCommandError(ErrorCodes.IndexOptionsConflict, "IndexOptionsConflict",
          `An existing index has the same name as the requested index but different options: ${name}`);
      }
      return false;
    }
    for (const other of this.indexes.values()) {
      if (sameKeyPattern(other.spec.key, spec.key) && Boolean(other.spec.unique) === Boolean(spec.unique)
        && !spec.partialFilterExpression && !other.spec.partialFilterExpression) {
        if (other.name !== name) {
          throw new MongoCommandError(ErrorCodes.IndexOptionsConflict, "IndexOptionsConflict",
            `Index already exists with a different name: ${other.name}`);
        }
      }
    }
    const index = new Index({ v: 2, ...spec, name });
    for (const [rid, doc] of this.docs) {
      const keys = index.keysOf(doc);
      const conflict = index.conflictFor(keys, rid);
      if (conflict) throw index.duplicateKeyError(this.ns, conflict);
      index.add(keys, rid);
    }
    this.indexes.set(name, index);
    return true;
  }

  dropIndex(name: string): void {
    if (name === "_id_") throw new MongoCommandError(ErrorCodes.InvalidOptions, "InvalidOptions", "cannot drop _id index");
    if (!this.indexes.delete(name)) {
      throw new MongoCommandError(ErrorCodes.IndexNotFound, "IndexNotFound", `index not found with name [${name}]`);
    }
  }

  /** Empties the collection, keeping its indexes (what `$out` into an existing target needs). */
  clear(): void {
    this.docs.clear();
    for (const [name, index] of this.indexes) this.indexes.set(name, new Index(index.spec));
  }
}

/** MongoDB stores `_id` first and generates an ObjectId when it is missing; arrays are not ids. */
/**
 * Where server-generated `_id`s come from: fresh ObjectIds, except while the journal records them
 * (live) or plays them back (replay), so a replayed insert, upsert or `$merge` gets the same ids.
 */
let idHook: ((fresh: () => ObjectId) => ObjectId) | null = null;

export function withIdHook<T>(hook: (fresh: () => ObjectId) => ObjectId, fn: () => T): T {
  const previous = idHook;
  idHook = hook;
  try {
    return fn();
  } finally {
    idHook = previous;
  }
}

const freshId = () => new ObjectId();

export function withId(doc: Doc): Doc {
  if (Array.isArray(doc._id)) throw badValue("can't use an array for _id");
  if (doc._id === undefined) return { _id: idHook ? idHook(freshId) : freshId(), ...doc };
  if (Object.keys(doc)[0] === "_id") return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}
