/** Applying an update (modifier document, replacement or pipeline) to one document, as MongoDB does. */
import { Long } from "bson";
import { update as mingoUpdate } from "mingo/updater";
import { compareValues } from "./compare.js";
import { ErrorCodes, failedToParse, MongoCommandError } from "./errors.js";
import { newAggregator, plainOptions } from "./mingo-options.js";
import { isInt32 } from "./operators/support.js";
import { LONG_MAX, LONG_MIN } from "./numeric.js";
import { cloneDoc, type Doc, isPlainObject } from "./paths.js";

const MODIFIERS = new Set([
  "$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$push", "$pull", "$pullAll",
  "$addToSet", "$pop", "$currentDate", "$bit", "$setOnInsert",
]);

export type UpdateSpec = Doc | Doc[];

export function isModifier(u: UpdateSpec): u is Doc {
  return !Array.isArray(u) && Object.keys(u).some((k) => k.startsWith("$"));
}

/** Validates an update's shape before anything is written, so a bad one changes nothing. */
export function checkUpdate(u: unknown): UpdateSpec {
  if (Array.isArray(u)) {
    if (!u.every(isPlainObject)) throw failedToParse("Update pipeline stages must be objects");
    return u as Doc[];
  }
  if (!isPlainObject(u)) throw failedToParse("Update argument must be either an object or an array");
  const keys = Object.keys(u);
  const ops = keys.filter((k) => k.startsWith("$"));
  if (ops.length > 0 && ops.length !== keys.length) {
    throw failedToParse("Update document cannot mix operators and plain fields");
  }
  for (const op of ops) {
    if (!MODIFIERS.has(op)) throw failedToParse(`Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    if (!isPlainObject(u[op])) throw failedToParse(`Modifiers operate on fields but we found type ${typeof u[op]} instead`);
  }
  if (ops.length === 0) {
    for (const k of keys) if (k.includes(".")) throw failedToParse(`Replacement document field names cannot contain '.': ${k}`);
  }
  return u;
}

/** The updated copy of `doc`; `doc` itself is not touched. `_id` may not change. */
export function applyUpdate(doc: Doc, u: UpdateSpec, opts: { isInsert: boolean; arrayFilters?: Doc[] }): Doc {
  let next: Doc;
  if (Array.isArray(u)) {
    const out = newAggregator(u).run([cloneDoc(doc)]);
    next = (out[0] as Doc | undefined) ?? {};
  } else if (isModifier(u)) {
    next = cloneDoc(doc);
    const { $setOnInsert, ...rest } = u;
    checkModifierTargets(doc, rest, opts.isInsert);
    const extremes = takeExtremes(rest);
    const increments = takeIncrements(rest);
    if (Object.keys(rest).length > 0) {
      mingoUpdate(next, rest, opts.arrayFilters, undefined, { queryOptions: plainOptions() });
    }
    if (extremes) applyExtremes(next, extremes);
    if (increments) applyIncrements(next, increments);
    if (opts.isInsert && isPlainObject($setOnInsert)) {
      mingoUpdate(next, { $set: $setOnInsert }, undefined, undefined, { queryOptions: plainOptions() });
    }
  } else {
    const replacement: Doc = cloneDoc(u);
    next = doc._id === undefined ? replacement : { _id: doc._id, ...replacement };
    if (replacement._id !== undefined && doc._id !== undefined && compareValues(replacement._id, doc._id) !== 0) throw immutableId(doc);
  }
  if (doc._id !== undefined && compareValues(next._id, doc._id) !== 0) throw immutableId(doc);
  if (next._id !== undefined && Object.keys(next)[0] !== "_id") {
    const { _id, ...rest } = next;
    next = { _id, ...rest };
  }
  return next;
}

/**
 * `$min`/`$max` on plain (dotted) paths, taken out of `modifier` to be applied in BSON order
 * (compare.ts: strings by UTF-8 bytes, numbers across types); mingo's compare orders strings by
 * UTF-16 units. Positional paths (`$`, `$[]`, `$[id]`, array indexes) stay with mingo.
 */
function isPlainPath(path: string): boolean {
  return !path.includes("$") && !/(^|\.)\d+(\.|$)/.test(path);
}

function takeExtremes(modifier: Doc): Array<[string, unknown, number]> | null {
  let out: Array<[string, unknown, number]> | null = null;
  for (const op of ["$min", "$max"] as const) {
    const fields = modifier[op];
    if (!isPlainObject(fields)) continue;
    if (!Object.keys(fields).some(isPlainPath)) continue;
    out ??= [];
    const left: Doc = {};
    for (const path of Object.keys(fields)) {
      if (!isPlainPath(path)) left[path] = fields[path];
      else out.push([path, fields[path], op === "$min" ? -1 : 1]);
    }
    if (Object.keys(left).length > 0) modifier[op] = left;
    else delete modifier[op];
  }
  return out;
}

/** Applies them to `doc` (the update's own copy): in place along plain objects, else by mingo's `$set` (and its errors). */
function applyExtremes(doc: Doc, extremes: Array<[string, unknown, number]>): void {
  let viaMingo: Doc | null = null;
  for (const [path, arg, sense] of extremes) {
    const current = valueAt(doc, path);
    if (current !== undefined && compareValues(arg, current) * sense <= 0) continue;
    if (!setPlain(doc, path, cloneDoc(arg))) (viaMingo ??= {})[path] = cloneDoc(arg);
  }
  if (viaMingo) mingoUpdate(doc, { $set: viaMingo }, undefined, undefined, { queryOptions: plainOptions() });
}

/**
 * `$inc` on plain paths, taken out of `modifier` and applied with MongoDB's numeric types (mingo
 * adds JS numbers only, and refuses a Long): an int plus an int is an int, or a long when it
 * overflows int32; with a long it is a long, exact (an overflow of int64 fails, as in MongoDB);
 * with a double it is a double. Ints are JS numbers in int32 range, doubles other JS numbers.
 */
function takeIncrements(modifier: Doc): Array<[string, number | Long]> | null {
  const fields = modifier.$inc;
  if (!isPlainObject(fields) || !Object.keys(fields).some(isPlainPath)) return null;
  const out: Array<[string, number | Long]> = [];
  const left: Doc = {};
  for (const path of Object.keys(fields)) {
    if (isPlainPath(path)) out.push([path, fields[path] as number | Long]);
    else left[path] = fields[path];
  }
  if (Object.keys(left).length > 0) modifier.$inc = left;
  else delete modifier.$inc;
  return out;
}

/** An int on the wire: -0 is sent as a double. */
const isInt = (v: number) => isInt32(v) && !Object.is(v, -0);

function increment(doc: Doc, current: unknown, by: number | Long): number | Long {
  if (current === undefined || current === null) return by;
  const a = current as number | Long;
  if ((typeof a === "number" && !isInt(a)) || (typeof by === "number" && !isInt(by))) {
    return (a instanceof Long ? a.toNumber() : a) + (by instanceof Long ? by.toNumber() : by);
  }
  const sum = (a instanceof Long ? a.toBigInt() : BigInt(a)) + (by instanceof Long ? by.toBigInt() : BigInt(by));
  if (a instanceof Long || by instanceof Long) {
    if (sum < LONG_MIN || sum > LONG_MAX) {
      throw new MongoCommandError(ErrorCodes.BadValue, "BadValue", `Failed to apply $inc operations to current value ((NumberLong)${a.toString()}) for document {_id: ${JSON.stringify(doc._id)}}`);
    }
    return Long.fromBigInt(sum);
  }
  return sum >= -(2n ** 31n) && sum < 2n ** 31n ? Number(sum) : Long.fromBigInt(sum);
}

function applyIncrements(doc: Doc, increments: Array<[string, number | Long]>): void {
  let viaMingo: Doc | null = null;
  for (const [path, by] of increments) {
    const value = increment(doc, valueAt(doc, path), by);
    if (!setPlain(doc, path, value)) (viaMingo ??= {})[path] = value;
  }
  if (viaMingo) mingoUpdate(doc, { $set: viaMingo }, undefined, undefined, { queryOptions: plainOptions() });
}

/** Sets `path` when every object on the way is a plain object or missing; false (nothing set) otherwise. */
function setPlain(doc: Doc, path: string, value: unknown): boolean {
  const parts = path.split(".");
  let cur: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]!];
    if (next === undefined) return false;
    if (!isPlainObject(next)) return false;
    cur = next;
  }
  cur[parts[parts.length - 1]!] = value;
  return true;
}

function immutableId(doc: Doc): MongoCommandError {
  return new MongoCommandError(ErrorCodes.ImmutableField, "ImmutableField",
    `Performing an update on the path '_id' would modify the immutable field '_id' (document _id ${String(doc._id)})`);
}

/** The document an upsert starts from: the filter's equality conditions, dotted paths expanded. */
export function seedFromFilter(filter: Doc): Doc {
  const seed: Doc = {};
  const visit = (f: Doc): void => {
    for (const [k, v] of Object.entries(f)) {
      if (k === "$and" && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (k.startsWith("$")) continue;
      if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith("$"))) {
        if ("$eq" in v) setPath(seed, k, cloneDoc(v.$eq));
        continue;
      }
      if (!(v instanceof RegExp)) setPath(seed, k, cloneDoc(v));
    }
  };
  visit(filter);
  return seed;
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  let cur: Doc = doc;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Doc;
  }
  cur[parts[parts.length - 1]!] = value;
}

/**
 * The checks MongoDB makes before touching a document, which mingo does not: `_id` is immutable
 * and `$inc`/`$mul` need numbers on both sides.
 */
function checkModifierTargets(doc: Doc, modifier: Doc, isInsert: boolean): void {
  for (const [op, fields] of Object.entries(modifier)) {
    for (const [path, arg] of Object.entries(fields as Doc)) {
      if (!isInsert && (path === "_id" || path.startsWith("_id."))) {
        const unchanged = op === "$set" && compareValues(arg, doc._id) === 0;
        if (!unchanged) throw immutableId(doc);
      }
      if (op === "$inc" || op === "$mul") {
        if (typeof arg !== "number" && !(op === "$inc" && arg instanceof Long)) {
          throw new MongoCommandError(ErrorCodes.TypeMismatch, "TypeMismatch", `Cannot ${op.slice(1)} with non-numeric argument: {${path}: ${JSON.stringify(arg)}}`);
        }
        const current = valueAt(doc, path);
        if (current !== undefined && current !== null && typeof current !== "number" && !(op === "$inc" && current instanceof Long)) {
          throw new MongoCommandError(ErrorCodes.TypeMismatch, "TypeMismatch",
            `Cannot apply ${op} to a value of non-numeric type. {_id: ${JSON.stringify(doc._id)}} has the field '${path}' of non-numeric type ${typeof current}`);
        }
      }
    }
  }
}

function valueAt(doc: Doc, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split(".")) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}
