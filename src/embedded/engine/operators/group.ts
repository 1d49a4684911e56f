/**
 * `$group` with MongoDB's semantics, replacing mingo's (which partitions all input into arrays and
 * then evaluates every accumulator of every group through its generic expression machinery, slow
 * with many small groups). Input is read once, as it streams from the previous stage (so the
 * deadline checks between stages keep running while a long `$group` reads), each document adding
 * to its group's accumulator states:
 * - the group key is MongoDB's equality (`EqualityKeys`): null and missing together, numbers by
 *   value across int/double/Long/Decimal128, objects field by field in order;
 * - `_id` as an object of fields groups on the field values, as MongoDB does: a missing value is
 *   left out of the output `_id`, except with a single field, where it is null (`{a: "$x"}` with no
 *   `x` is `{a: null}`, the group of `{a: null}`);
 * - `$sum`/`$avg` add numbers only (summation.ts), `$min`/`$max` ignore null and missing and compare
 *   in BSON order (compare.ts), `$first`/`$last` answer null for missing, `$push`/`$addToSet` skip
 *   missing values (`$addToSet` dedupes by MongoDB equality, keeping first-seen order),
 *   `$mergeObjects` merges documents and refuses other values, `$count: {}` counts;
 * - any other accumulator mingo knows (`$top`, `$firstN`, `$stdDevPop`, ...) is mingo's, evaluated
 *   over the group's documents after the input is read, exactly as mingo's `$group` does.
 * Groups come out in the order their keys were first seen, as from mingo's `$group`.
 * With many small groups (a minute series groups tens of thousands), what each group costs is
 * what `$group` costs: groups are found through a trie of the key's parts (no key string built per
 * document), and the states of `$sum`/`$avg`/`$min`/`$max`/`$first`/`$last`/`$count` are kept in
 * arrays by group number rather than in objects per group.
 */
import { evalExpr, OpType } from "mingo/core";
import { Lazy, type Iterator } from "mingo/lazy";
import type { Options } from "mingo/types";
import { compareValues } from "../compare.js";
import { EqualityKeys } from "../equality.js";
import { ErrorCodes, MongoCommandError } from "../errors.js";
import { approximateSize, parameters } from "../limits.js";
import { type ComputeOptions, computeOptionsFrom, type Evaluate, ExpressionCompiler } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { NumericColumn } from "../summation.js";

function groupError(code: number, message: string): MongoCommandError {
  return new MongoCommandError(code, `Location${code}`, message);
}

/** The state of one accumulator in one group. */
interface State {
  add(v: unknown): void;
  value(): unknown;
}

/**
 * One accumulator's states for every group, by group number (groups are numbered as they are
 * first seen). The totals and extremes of the common accumulators live in arrays rather than in an
 * object per group, which is most of what a `$group` with many small groups keeps alive.
 */
interface Column {
  /** Makes the state of the next group. */
  open(): void;
  add(group: number, v: unknown): void;
  value(group: number): unknown;
}

/** `$sum` and `$avg`. */
class TotalColumn implements Column {
  private readonly totals = new NumericColumn();
  constructor(private readonly average: boolean) {}
  open(): void {
    this.totals.open();
  }
  add(group: number, v: unknown): void {
    this.totals.add(group, v);
  }
  value(group: number): unknown {
    return this.average ? this.totals.average(group) : this.totals.total(group);
  }
}

/** `$min` and `$max`: 1 keeps the smallest (replaces a larger value), -1 the largest. */
class MinMaxColumn implements Column {
  private readonly best: unknown[] = [];
  constructor(private readonly sense: number) {}
  open(): void {
    this.best.push(undefined);
  }
  add(group: number, v: unknown): void {
    if (v === null || v === undefined) return;
    const best = this.best[group];
    if (best === undefined || compareValues(best, v) * this.sense > 0) this.best[group] = v;
  }
  value(group: number): unknown {
    const best = this.best[group];
    return best === undefined ? null : best;
  }
}

/** `$first` (only ever given the group's first document) and `$last`. */
class LatestColumn implements Column {
  private readonly values: unknown[] = [];
  open(): void {
    this.values.push(undefined);
  }
  add(group: number, v: unknown): void {
    this.values[group] = v;
  }
  value(group: number): unknown {
    const v = this.values[group];
    return v === undefined ? null : v;
  }
}

class CountColumn implements Column {
  private readonly counts: number[] = [];
  open(): void {
    this.counts.push(0);
  }
  add(group: number): void {
    this.counts[group]!++;
  }
  value(group: number): unknown {
    return this.counts[group];
  }
}

/** The other accumulators: one State object per group. */
class StateColumn implements Column {
  private readonly states: State[] = [];
  constructor(private readonly create: () => State) {}
  open(): void {
    this.states.push(this.create());
  }
  add(group: number, v: unknown): void {
    this.states[group]!.add(v);
  }
  value(group: number): unknown {
    return this.states[group]!.value();
  }
}

/**
 * MongoDB bounds the memory one group's `$push`/`$addToSet` holds (internalQueryMaxPushBytes,
 * internalQueryMaxAddToSetBytes; 100 MiB), counting each value's approximate in-memory size as it
 * is added, and fails with ExceededMemoryLimit (146): `$group` cannot spill an accumulator to disk.
 */
function memoryLimitError(op: string, limit: number): MongoCommandError {
  return new MongoCommandError(ErrorCodes.ExceededMemoryLimit, "ExceededMemoryLimit",
    `${op} used too much memory and cannot spill to disk. Memory limit: ${limit} bytes`);
}

class Push implements State {
  private readonly items: unknown[] = [];
  private bytes = 0;
  constructor(private readonly limit: number) {}
  add(v: unknown): void {
    if (v === undefined) return;
    this.items.push(v);
    this.bytes += approximateSize(v);
    if (this.bytes >= this.limit) throw memoryLimitError("$push", this.limit);
  }
  value(): unknown {
    return this.items;
  }
}

class AddToSet implements State {
  private readonly items = new Map<string, unknown>();
  private bytes = 0;
  constructor(private readonly keys: EqualityKeys, private readonly limit: number) {}
  add(v: unknown): void {
    if (v === undefined) return;
    const k = this.keys.key(v);
    if (this.items.has(k)) return;
    this.items.set(k, v);
    this.bytes += approximateSize(v);
    if (this.bytes >= this.limit) throw memoryLimitError("$addToSet", this.limit);
  }
  value(): unknown {
    return [...this.items.values()];
  }
}

class MergeObjects implements State {
  private readonly out: Doc = {};
  add(v: unknown): void {
    if (v === null || v === undefined) return;
    if (!isPlainObject(v)) {
      throw groupError(40400, `$mergeObjects requires object inputs, but input ${describe(v)} is of type ${bsonTypeName(v)}`);
    }
    for (const k of Object.keys(v)) {
      const x = v[k];
      if (x === undefined) continue;
      if (k === "__proto__") Object.defineProperty(this.out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else this.out[k] = x;
    }
  }
  value(): unknown {
    return this.out;
  }
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Date) return v.toISOString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function bsonTypeName(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) <= 2147483647 ? "int" : "double";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "date";
  const name = (v as object | null)?.constructor?.name;
  return name ? name.toLowerCase() : "object";
}

/** How one output field is computed. */
type Field =
  | { name: string; native: true; operand: Evaluate; firstOnly: boolean; column: (keys: EqualityKeys) => Column }
  | { name: string; native: false; expr: Doc };

const NATIVE: Record<string, (keys: EqualityKeys) => Column> = {
  $sum: () => new TotalColumn(false),
  $avg: () => new TotalColumn(true),
  $min: () => new MinMaxColumn(1),
  $max: () => new MinMaxColumn(-1),
  $first: () => new LatestColumn(),
  $last: () => new LatestColumn(),
  // The limits are read when the stage runs (a setParameter applies to the next aggregation).
  $push: () => {
    const limit = parameters.internalQueryMaxPushBytes;
    return new StateColumn(() => new Push(limit));
  },
  $addToSet: (keys) => {
    const limit = parameters.internalQueryMaxAddToSetBytes;
    return new StateColumn(() => new AddToSet(keys, limit));
  },
  $mergeObjects: () => new StateColumn(() => new MergeObjects()),
  $count: () => new CountColumn(),
};


/** Parses an accumulator field as MongoDB does (AccumulationStatement::parseAccumulationStatement). */
function parseField(name: string, spec: unknown, compiler: ExpressionCompiler, options: ComputeOptions): Field {
  if (!isPlainObject(spec) || !Object.keys(spec)[0]?.startsWith("$")) throw groupError(40234, `The field '${name}' must be an accumulator object`);
  if (name.includes(".")) throw groupError(40235, `The field name '${name}' cannot contain '.'`);
  if (name.startsWith("$")) throw groupError(40236, `The field name '${name}' cannot be an operator name`);
  const keys = Object.keys(spec);
  if (keys.length !== 1) throw groupError(40238, `The field '${name}' must specify one accumulator`);
  const op = keys[0]!;
  const arg = spec[op];
  if (Array.isArray(arg)) throw groupError(40237, `The ${op} accumulator is a unary operator`);
  const column = Object.prototype.hasOwnProperty.call(NATIVE, op) ? NATIVE[op] : undefined;
  if (column) {
    if (op === "$count" && !(isPlainObject(arg) && Object.keys(arg).length === 0)) {
      throw new MongoCommandError(14, "TypeMismatch", "$count takes no arguments, i.e. $count:{}");
    }
    return { name, native: true, operand: op === "$count" ? () => 1 : compiler.compile(arg), firstOnly: op === "$first", column };
  }
  if (!options.context.getOperator(OpType.ACCUMULATOR, op)) throw groupError(15952, `unknown group operator '${op}'`);
  return { name, native: false, expr: spec };
}

/** A copy without missing values: left out of documents, null in arrays (the same reference when there are none). */
function withoutMissing(v: unknown): unknown {
  if (Array.isArray(v)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = x === undefined ? null : withoutMissing(x);
      if (y !== x && out === null) out = v.slice(0, i);
      if (out) out.push(y);
    }
    return out ?? v;
  }
  if (isPlainObject(v)) {
    let out: Doc | null = null;
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) {
      const x = v[keys[i]!];
      const y = x === undefined ? undefined : withoutMissing(x);
      if ((x === undefined || y !== x) && out === null) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = v[keys[j]!];
      }
      if (out && y !== undefined) out[keys[i]!] = y;
    }
    return out ?? v;
  }
  return v;
}

/**
 * The groups by key: a trie with one level per part of the key (one part for an `_id` expression,
 * one per field for an object of fields). A part is looked up by MongoDB's equality: strings as
 * themselves, dates by their instant, null (and missing where it counts as null) together, and any
 * other value by its `EqualityKeys` key, so the common keys need no key string built per document.
 * A node reached by a whole key is that key's group.
 */
class KeyNode {
  private strings: Map<string, KeyNode> | null = null;
  private dates: Map<number, KeyNode> | null = null;
  private others: Map<string, KeyNode> | null = null;
  private nul: KeyNode | null = null;
  private missing: KeyNode | null = null;
  /** The group's number once this node is a group (-1 before). */
  index = -1;
  id: unknown = undefined;
  /** The group's documents, kept only when a field is computed by mingo. */
  docs: Doc[] | null = null;

  /** The node below for `v` (made if new); `missingIsNull`: a missing value is the null key. */
  child(v: unknown, keys: EqualityKeys, missingIsNull: boolean): KeyNode {
    if (typeof v === "string") {
      const map = (this.strings ??= new Map());
      let node = map.get(v);
      if (node === undefined) map.set(v, (node = new KeyNode()));
      return node;
    }
    if (v instanceof Date) {
      const map = (this.dates ??= new Map());
      const t = v.getTime();
      let node = map.get(t);
      if (node === undefined) map.set(t, (node = new KeyNode()));
      return node;
    }
    if (v === null || (v === undefined && missingIsNull)) return (this.nul ??= new KeyNode());
    if (v === undefined) return (this.missing ??= new KeyNode());
    const map = (this.others ??= new Map());
    const k = keys.key(v);
    let node = map.get(k);
    if (node === undefined) map.set(k, (node = new KeyNode()));
    return node;
  }
}

type Group = KeyNode;

/**
 * The group key of a document: `find` walks the key trie to the document's group node (a fresh
 * node has index -1); `id()` builds the output `_id` (called once per group, right after `find`
 * for the group's first document).
 */
interface KeyPlan {
  find(doc: Doc): KeyNode;
  id(): unknown;
}

function keyPlan(idSpec: unknown, compiler: ExpressionCompiler, keys: EqualityKeys): KeyPlan {
  const root = new KeyNode();
  // An object of fields (not an operator): MongoDB groups on the list of field values.
  if (isPlainObject(idSpec) && Object.keys(idSpec).length > 0 && !Object.keys(idSpec)[0]!.startsWith("$")) {
    const names = Object.keys(idSpec);
    for (const n of names) {
      const v = idSpec[n];
      if (typeof v === "number" || typeof v === "boolean") throw groupError(17390, "$group does not support inclusion-style expressions");
    }
    if (!names.some((n) => n === "__proto__")) {
      const evals = names.map((n) => compiler.compile(idSpec[n]));
      const values: unknown[] = new Array(names.length);
      // A missing field value is not null (two fields or more), and is left out of the `_id`.
      const single = names.length === 1;
      return {
        find(doc) {
          let node = root;
          for (let i = 0; i < evals.length; i++) {
            const v = evals[i]!(doc);
            values[i] = v;
            node = node.child(v, keys, single);
          }
          return node;
        },
        id() {
          const out: Doc = {};
          for (let i = 0; i < names.length; i++) {
            const v = values[i];
            if (v !== undefined) out[names[i]!] = withoutMissing(v);
            else if (single) out[names[i]!] = null;
          }
          return out;
        },
      };
    }
  }
  const evaluate = compiler.compile(idSpec);
  let last: unknown = null;
  return {
    find(doc) {
      last = evaluate(doc);
      return root.child(last, keys, true);
    },
    id() {
      return last === undefined ? null : withoutMissing(last);
    },
  };
}

/**
 * One `$group`'s state: documents are added one by one (the stage below pulls them from its input;
 * the yielding executor pushes them, pausing between batches), then `output` gives the groups.
 */
export interface GroupRun {
  add(doc: Doc): void;
  /** The groups' documents, in the order their keys were first seen (call once, after every add). */
  output(): IterableIterator<Doc>;
}

export function startGroup(spec: unknown, options: Options): GroupRun {
  if (!isPlainObject(spec)) throw groupError(15947, "a group's fields must be specified in an object");
  if (!Object.prototype.hasOwnProperty.call(spec, "_id")) throw groupError(15955, "a group specification must include an _id");
  const compiler = new ExpressionCompiler(options);
  // Options for the accumulators mingo computes, as mingo's $group makes them.
  const fallbackOptions = computeOptionsFrom(options);
  const keys = new EqualityKeys();
  const plan = keyPlan(spec._id, compiler, keys);
  const fields = Object.keys(spec)
    .filter((k) => k !== "_id")
    .map((name) => parseField(name, spec[name], compiler, fallbackOptions));
  const natives = fields.filter((f) => f.native);
  const keepDocs = natives.length !== fields.length;
  // The states of the native accumulators, one column each.
  const columns: Column[] = natives.map((f) => f.column(keys));
  const groups: Group[] = [];
  const n = natives.length;

  function add(doc: Doc): void {
    const group = plan.find(doc);
    let fresh = false;
    if (group.index < 0) {
      group.index = groups.length;
      group.id = plan.id();
      if (keepDocs) group.docs = [];
      for (let i = 0; i < n; i++) columns[i]!.open();
      groups.push(group);
      fresh = true;
    }
    const g = group.index;
    for (let i = 0; i < n; i++) {
      const f = natives[i]!;
      if (f.firstOnly && !fresh) continue;
      columns[i]!.add(g, f.operand(doc));
    }
    if (group.docs) group.docs.push(doc);
  }

  function outputOf(group: Group): Doc {
    const out: Doc = { _id: group.id };
    let i = 0;
    for (const f of fields) {
      if (f.native) out[f.name] = columns[i++]!.value(group.index);
      else out[f.name] = evalExpr(group.docs, f.expr, fallbackOptions.update({ root: null, groupId: group.id }));
    }
    return out;
  }

  function* output(): IterableIterator<Doc> {
    for (const group of groups) yield outputOf(group);
  }

  return { add, output };
}

export function $group(collection: Iterator, spec: unknown, options: Options): Iterator {
  // Made per run of the stage (a $lookup sub-pipeline runs again); the spec is checked up front.
  const run = startGroup(spec, options);
  let out: IterableIterator<Doc> | null = null;
  return Lazy(() => {
    if (!out) {
      for (let r = collection.next(); !r.done; r = collection.next()) run.add(r.value as Doc);
      out = run.output();
    }
    const next = out.next();
    return next.done ? { done: true } : { value: next.value, done: false };
  });
}
