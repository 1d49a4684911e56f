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
 */
import { evalExpr, OpType } from "mingo/core";
import { Lazy, type Iterator } from "mingo/lazy";
import type { Options } from "mingo/types";
import { compareValues } from "../compare.js";
import { EqualityKeys } from "../equality.js";
import { MongoCommandError } from "../errors.js";
import { type ComputeOptions, computeOptionsFrom, type Evaluate, ExpressionCompiler } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { NumericTotal } from "../summation.js";

function groupError(code: number, message: string): MongoCommandError {
  return new MongoCommandError(code, `Location${code}`, message);
}

/** The state of one accumulator in one group. */
interface State {
  add(v: unknown): void;
  value(): unknown;
}

class Sum extends NumericTotal implements State {
  value(): unknown {
    return this.total();
  }
}

class Avg extends NumericTotal implements State {
  value(): unknown {
    return this.average();
  }
}

class MinMax implements State {
  private best: unknown = undefined;
  /** 1: $min (replace a larger value), -1: $max. */
  constructor(private readonly sense: number) {}
  add(v: unknown): void {
    if (v === null || v === undefined) return;
    if (this.best === undefined || compareValues(this.best, v) * this.sense > 0) this.best = v;
  }
  value(): unknown {
    return this.best === undefined ? null : this.best;
  }
}

/** `$first` (only ever given the group's first document) and `$last`. */
class Latest implements State {
  private v: unknown = undefined;
  add(v: unknown): void {
    this.v = v;
  }
  value(): unknown {
    return this.v === undefined ? null : this.v;
  }
}

class Push implements State {
  private readonly items: unknown[] = [];
  add(v: unknown): void {
    if (v !== undefined) this.items.push(v);
  }
  value(): unknown {
    return this.items;
  }
}

class AddToSet implements State {
  private readonly items = new Map<string, unknown>();
  constructor(private readonly keys: EqualityKeys) {}
  add(v: unknown): void {
    if (v === undefined) return;
    const k = this.keys.key(v);
    if (!this.items.has(k)) this.items.set(k, v);
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

class Count implements State {
  private n = 0;
  add(): void {
    this.n++;
  }
  value(): unknown {
    return this.n;
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
  | { name: string; native: true; operand: Evaluate; firstOnly: boolean; create: (keys: EqualityKeys) => State }
  | { name: string; native: false; expr: Doc };

const NATIVE: Record<string, (keys: EqualityKeys) => State> = {
  $sum: () => new Sum(),
  $avg: () => new Avg(),
  $min: () => new MinMax(1),
  $max: () => new MinMax(-1),
  $first: () => new Latest(),
  $last: () => new Latest(),
  $push: () => new Push(),
  $addToSet: (keys) => new AddToSet(keys),
  $mergeObjects: () => new MergeObjects(),
  $count: () => new Count(),
};

interface Group {
  id: unknown;
  states: State[];
  /** The group's documents, kept only when a field is computed by mingo. */
  docs: Doc[] | null;
}

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
  const create = Object.prototype.hasOwnProperty.call(NATIVE, op) ? NATIVE[op] : undefined;
  if (create) {
    if (op === "$count" && !(isPlainObject(arg) && Object.keys(arg).length === 0)) {
      throw new MongoCommandError(14, "TypeMismatch", "$count takes no arguments, i.e. $count:{}");
    }
    return { name, native: true, operand: op === "$count" ? () => 1 : compiler.compile(arg), firstOnly: op === "$first", create };
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
 * The group key of a document: `key` identifies the group; `id()` builds the output `_id` (called
 * once per group, right after `key` for the group's first document).
 */
interface KeyPlan {
  key(doc: Doc): string;
  id(): unknown;
}

function keyPlan(idSpec: unknown, compiler: ExpressionCompiler, keys: EqualityKeys): KeyPlan {
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
      const single = names.length === 1;
      return {
        key(doc) {
          let k = "";
          for (let i = 0; i < evals.length; i++) {
            const v = evals[i]!(doc);
            values[i] = v;
            // A missing field value is not null (two fields or more), and is left out of the `_id`.
            k += v === undefined ? (single ? "z" : "u") : keys.key(v);
          }
          return k;
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
    key(doc) {
      last = evaluate(doc);
      return last === undefined ? "z" : keys.key(last);
    },
    id() {
      return last === undefined ? null : withoutMissing(last);
    },
  };
}

export function $group(collection: Iterator, spec: unknown, options: Options): Iterator {
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

  function read(): Map<string, Group> {
    const groups = new Map<string, Group>();
    const n = natives.length;
    for (let r = collection.next(); !r.done; r = collection.next()) {
      const doc = r.value as Doc;
      const k = plan.key(doc);
      let group = groups.get(k);
      let fresh = false;
      if (group === undefined) {
        group = { id: plan.id(), states: natives.map((f) => f.create(keys)), docs: keepDocs ? [] : null };
        groups.set(k, group);
        fresh = true;
      }
      for (let i = 0; i < n; i++) {
        const f = natives[i]!;
        if (f.firstOnly && !fresh) continue;
        group.states[i]!.add(f.operand(doc));
      }
      if (group.docs) group.docs.push(doc);
    }
    return groups;
  }

  function output(group: Group): Doc {
    const out: Doc = { _id: group.id };
    let i = 0;
    for (const f of fields) {
      if (f.native) out[f.name] = group.states[i++]!.value();
      else out[f.name] = evalExpr(group.docs, f.expr, fallbackOptions.update({ root: null, groupId: group.id }));
    }
    return out;
  }

  let groups: IterableIterator<Group> | null = null;
  return Lazy(() => {
    groups ??= read().values();
    const next = groups.next();
    return next.done ? { done: true } : { value: output(next.value), done: false };
  });
}
