/**
 * A secondary (or `_id`) index: an ordered B+tree of key tuples. Each entry's key is
 * `[v1, …, vn, recordId]`, so equal field values still give distinct keys and a prefix or range
 * of field values is one contiguous run of the tree. Unique indexes check that run for another
 * record before a write; nothing here ever scans the whole collection.
 */
import type { Query } from "mingo/query";
import { newQuery } from "./mingo-options.js";
import { BTree } from "./btree.js";
import { compareKeys, compareValues, HIGHEST, LOWEST } from "./compare.js";
import { ErrorCodes, MongoCommandError } from "./errors.js";
import { type Doc, valuesAtPath } from "./paths.js";

export interface IndexSpec {
  v?: number;
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
  expireAfterSeconds?: number;
  [option: string]: unknown;
}

/** Bounds for one indexed field, in value order (not tree order). */
export type FieldBounds = { points: unknown[] } | { low: unknown; high: unknown };

/**
 * Most point prefixes one scan enumerates across several fields (the product of their `$in`
 * lists); the planner stops adding fields before passing it. One field's list is never cut.
 */
export const CARTESIAN_LIMIT = 10_000;

export class Index {
  readonly fields: string[];
  readonly directions: number[];
  readonly tree: BTree<unknown[], number>;
  private readonly partial: Query | null;
  /** True once any document put an array under an indexed field: the planner then avoids it. */
  multikey = false;

  constructor(readonly spec: IndexSpec) {
    this.fields = Object.keys(spec.key);
    this.directions = this.fields.map((f) => (spec.key[f] === -1 ? -1 : 1));
    const dirs = this.directions;
    this.tree = new BTree<unknown[], number>(undefined, (a, b) => {
      for (let i = 0; i < dirs.length; i++) {
        const c = compareValues(a[i], b[i]);
        if (c !== 0) return c * dirs[i]!;
      }
      return compareValues(a[dirs.length], b[dirs.length]);
    });
    this.partial = spec.partialFilterExpression ? newQuery(spec.partialFilterExpression) : null;
  }

  /** A copy-on-write copy (the tree is shared until either side writes), for a transaction's snapshot. */
  clone(): Index {
    const copy = Object.create(Index.prototype) as Index;
    Object.assign(copy, this, { tree: this.tree.clone() });
    return copy;
  }

  get name(): string {
    return this.spec.name;
  }

  get unique(): boolean {
    return this.spec.unique === true;
  }

  /** The key tuples (without record id) a document contributes, or none when it is not indexed. */
  keysOf(doc: Doc): unknown[][] {
    if (this.partial && !this.partial.test(doc)) return [];
    let tuples: unknown[][] = [[]];
    let allMissing = true;
    for (const field of this.fields) {
      const { values, multikey } = valuesAtPath(doc, field);
      if (multikey) this.multikey = true;
      const distinct = dedupe(values);
      if (distinct.some((v) => v !== undefined)) allMissing = false;
      const next: unknown[][] = [];
      for (const t of tuples) for (const v of distinct) next.push([...t, v === undefined ? null : v]);
      tuples = next;
    }
    if (this.spec.sparse && allMissing) return [];
    return tuples;
  }

  /** The record holding any of `keys` other than `selfRid`, for unique checks. */
  conflictFor(keys: unknown[][], selfRid: number): unknown[] | null {
    if (!this.unique) return null;
    for (const key of keys) {
      const lowKey = [...key, LOWEST];
      const hit = this.tree.getPairOrNextHigher(lowKey);
      if (!hit) continue;
      const [foundKey, rid] = hit;
      if (rid !== selfRid && this.samePrefix(foundKey, key)) return key;
      // Our own entry may sort first; look one further.
      if (rid === selfRid) {
        const after = this.tree.nextHigherPair(foundKey);
        if (after && after[1] !== selfRid && this.samePrefix(after[0], key)) return key;
      }
    }
    return null;
  }

  private samePrefix(full: unknown[], key: unknown[]): boolean {
    for (let i = 0; i < key.length; i++) if (compareValues(full[i], key[i]) !== 0) return false;
    return true;
  }

  /** Whether two documents' keys (as `keysOf` gives them) are the same entries. */
  sameKeys(a: unknown[][], b: unknown[][]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (compareKeys(a[i]!, b[i]!) !== 0) return false;
    return true;
  }

  add(keys: unknown[][], rid: number): void {
    for (const key of keys) this.tree.set([...key, rid], rid);
  }

  remove(keys: unknown[][], rid: number): void {
    for (const key of keys) this.tree.delete([...key, rid]);
  }

  duplicateKeyError(ns: string, key: unknown[]): MongoCommandError {
    const keyValue: Doc = {};
    this.fields.forEach((f, i) => (keyValue[f] = key[i]));
    const shown = this.fields.map((f, i) => `${f}: ${JSON.stringify(key[i])}`).join(", ");
    return new MongoCommandError(
      ErrorCodes.DuplicateKey,
      "DuplicateKey",
      `E11000 duplicate key error collection: ${ns} index: ${this.name} dup key: { ${shown} }`,
      { keyPattern: this.spec.key, keyValue },
    );
  }

  /**
   * Record ids whose keys fall within the bounds given for a prefix of the index's fields, in
   * index order. Bounds are inclusive: callers re-check the full filter, so a superset is fine.
   */
  scan(bounds: FieldBounds[]): number[] {
    let prefixes: unknown[][] = [[]];
    let range: { low: unknown; high: unknown } | null = null;
    for (const [i, b] of bounds.entries()) {
      if ("points" in b) {
        if (i > 0 && prefixes.length * b.points.length > CARTESIAN_LIMIT) throw new Error("index scan: too many points");
        const next: unknown[][] = [];
        for (const p of prefixes) for (const v of b.points) next.push([...p, v]);
        prefixes = next;
      } else {
        range = b;
        break;
      }
    }
    const out: number[] = [];
    const seen = prefixes.length > 1 || this.multikey ? new Set<number>() : null;
    if (this.unique && !range && bounds.length === this.fields.length) {
      // Every field pinned in a unique index: each point is at most one entry, found by one descent.
      for (const prefix of prefixes) {
        const hit = this.tree.getPairOrNextHigher([...prefix, LOWEST]);
        if (!hit || !this.samePrefix(hit[0], prefix)) continue;
        const rid = hit[1];
        if (seen) {
          if (seen.has(rid)) continue;
          seen.add(rid);
        }
        out.push(rid);
      }
      return out;
    }
    for (const prefix of prefixes) {
      const low: unknown[] = [...prefix];
      const high: unknown[] = [...prefix];
      let pos = prefix.length;
      if (range) {
        const dir = this.directions[pos]!;
        low.push(dir === 1 ? range.low : range.high);
        high.push(dir === 1 ? range.high : range.low);
        pos++;
      }
      for (let i = pos; i < this.fields.length; i++) {
        const dir = this.directions[i]!;
        low.push(dir === 1 ? LOWEST : HIGHEST);
        high.push(dir === 1 ? HIGHEST : LOWEST);
      }
      low.push(LOWEST);
      high.push(HIGHEST);
      this.tree.forRange(low, high, true, (_k, rid) => {
        if (seen) {
          if (seen.has(rid)) return;
          seen.add(rid);
        }
        out.push(rid);
      });
    }
    return out;
  }
}

function dedupe(values: unknown[]): unknown[] {
  if (values.length <= 1) return values;
  const out: unknown[] = [];
  for (const v of values) if (!out.some((o) => compareValues(o, v) === 0)) out.push(v);
  return out;
}

export function sameKeyPattern(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export function defaultIndexName(key: Record<string, unknown>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}_${String(v)}`)
    .join("_");
}
