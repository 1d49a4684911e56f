/**
 * Array, set, object and string expressions with MongoDB's semantics, compiled (see
 * expressions.ts): `$size`, `$arrayElemAt`, `$range`, `$setUnion`, `$map`, `$filter`, `$reduce`,
 * `$mergeObjects`, `$concat`. Where MongoDB differs from mingo:
 * - `$size` of anything but an array, null and missing included, fails (17124; mingo: null);
 * - `$concat` fails on a non-string operand (16702) unless a null comes first (mingo: null if any
 *   operand is null, wherever it is);
 * - `$setUnion` answers its distinct elements in BSON order, as MongoDB's ordered value set does
 *   (mingo: in first-seen order), equal by MongoDB's comparison (1, 1.0 and a Long 1 are one);
 * - `$map` gives null for an element whose `in` is missing (mingo: undefined);
 * - `$filter`'s condition and limit follow MongoDB's truthiness and checks (327391/327392), and an
 *   empty input answers [] before the limit is looked at;
 * - `$mergeObjects` with one operand that is an array merges its elements (MongoDB evaluates it
 *   through its accumulator), skips null and missing, and refuses anything but documents (40400;
 *   mingo wanted an array of documents and merged a lone document only through that path);
 * - `$range` checks its bounds and step as 32-bit integers (34443–34449) and refuses to build more
 *   than MongoDB's 100 MiB (ExceededMemoryLimit, 146), which also keeps a runaway `$range` from
 *   stalling the single-threaded server.
 * The variables `$map` (`as`, default `this`), `$filter` (`as`) and `$reduce` (`this`, `value`)
 * bind are compiled as cells of their scope, so `in`/`cond` read them without mingo.
 */
import { Long } from "bson";
import * as mingoExpression from "mingo/operators/expression";
import { compareValues } from "../compare.js";
import { engineOperator, type OperatorFn, type Evaluate } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { describeValue, exprError, fixedArity, isInt32, isNullish, isTruthy, isWideNumber, operands, rangedArity, typeName, validateVariableName } from "./support.js";

/** mingo's own operators, for what the engine leaves to them. */
const mingo = mingoExpression as unknown as { [K in keyof typeof mingoExpression]: OperatorFn };

export const $size = engineOperator((args, scope) => {
  const [operand] = fixedArity("$size", args, 1);
  const value = scope.compile(operand);
  return (doc) => {
    const v = value(doc);
    if (!Array.isArray(v)) throw exprError(17124, `The argument to $size must be an array, but was of type: ${typeName(v)}`);
    return v.length;
  };
}, mingo.$size);

export const $concat = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  return (doc) => {
    let out = "";
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (typeof v === "string") out += v;
      else if (isNullish(v)) return null;
      else throw exprError(16702, `$concat only supports strings, not ${typeName(v)}`);
    }
    return out;
  };
}, mingo.$concat);

/** A numeric value as MongoDB's `Value::integral()` sees it: its integer value if it has one that fits 32 bits. */
function int32Of(v: unknown): number | null {
  if (typeof v === "number") return isInt32(v) ? v : null;
  if (v instanceof Long) return v.greaterThanOrEqual(Long.fromInt(-2147483648)) && v.lessThanOrEqual(Long.fromInt(2147483647)) ? v.toNumber() : null;
  return null;
}

const isNumeric = (v: unknown) => typeof v === "number" || isWideNumber(v);

export const $arrayElemAt = engineOperator((args, scope) => {
  const [arrayExpr, indexExpr] = fixedArity("$arrayElemAt", args, 2);
  const array = scope.compile(arrayExpr);
  const index = scope.compile(indexExpr);
  return (doc) => {
    const a = array(doc);
    const i = index(doc);
    if (isNullish(a) || isNullish(i)) return null;
    if (!Array.isArray(a)) throw exprError(28689, `$arrayElemAt's first argument must be an array, but is ${typeName(a)}`);
    if (!isNumeric(i)) throw exprError(28690, `$arrayElemAt's second argument must be a numeric value, but is ${typeName(i)}`);
    const k = int32Of(i);
    if (k === null) throw exprError(28691, `$arrayElemAt's second argument must be representable as a 32-bit integer: ${Number(i)}`);
    const at = k < 0 ? a.length + k : k;
    return at < 0 || at >= a.length ? undefined : a[at];
  };
}, mingo.$arrayElemAt);

/** internalQueryMaxRangeBytes, and what MongoDB counts per element (sizeof(Value)) and for the array. */
const RANGE_MEMORY_LIMIT = 100 * 1024 * 1024;
const VALUE_BYTES = 16;
const VECTOR_BYTES = 24;

function rangeBound(v: unknown, which: "starting" | "ending", codes: [number, number]): number {
  if (!isNumeric(v)) throw exprError(codes[0], `$range requires a numeric ${which} value, found value of type: ${typeName(v)}`);
  const n = int32Of(v);
  if (n === null) throw exprError(codes[1], `$range requires a ${which} value that can be represented as a 32-bit integer, found value: ${describeValue(v)}`);
  return n;
}

export const $range = engineOperator((args, scope) => {
  const list = rangedArity("$range", args, 2, 3);
  const [start, end, stepExpr] = list.map((e) => scope.compile(e)) as [Evaluate, Evaluate, Evaluate | undefined];
  return (doc) => {
    let current = rangeBound(start(doc), "starting", [34443, 34444]);
    const last = rangeBound(end(doc), "ending", [34445, 34446]);
    let step = 1;
    if (stepExpr) {
      const s = stepExpr(doc);
      if (!isNumeric(s)) throw exprError(34447, `$range requires a numeric step value, found value of type:${typeName(s)}`);
      const k = int32Of(s);
      if (k === null) throw exprError(34448, `$range requires a step value that can be represented as a 32-bit integer, found value: ${describeValue(s)}`);
      if (k === 0) throw exprError(34449, "$range requires a non-zero step value");
      step = k;
    }
    const steps = Math.trunc((last - current) / step);
    const length = steps >= 0 ? 1 + steps : 0;
    const memory = VECTOR_BYTES + length * VALUE_BYTES;
    if (memory >= RANGE_MEMORY_LIMIT) {
      throw exprError(146, `$range would use too much memory (${memory} bytes) and cannot spill to disk. Memory limit: ${RANGE_MEMORY_LIMIT} bytes`);
    }
    const out: number[] = [];
    while (step > 0 ? current < last : current > last) {
      out.push(current);
      current += step;
    }
    return out;
  };
}, mingo.$range);

export const $setUnion = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  return (doc) => {
    const all: unknown[] = [];
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (isNullish(v)) return null;
      if (!Array.isArray(v)) throw exprError(17043, `All operands of $setUnion must be arrays. One argument is of type: ${typeName(v)}`);
      for (const x of v) all.push(x);
    }
    // An ordered set: sorted (stably, so the first of equal values stays), one of each.
    all.sort(compareValues);
    const out: unknown[] = [];
    for (const x of all) if (out.length === 0 || compareValues(out[out.length - 1], x) !== 0) out.push(x);
    return out;
  };
}, mingo.$setUnion);

function checkFields(args: Doc, allowed: string[], unknownCode: number, unknownMessage: string): void {
  for (const k of Object.keys(args)) if (!allowed.includes(k)) throw exprError(unknownCode, `${unknownMessage}${k}`);
}

export const $map = engineOperator((args, scope) => {
  if (!isPlainObject(args)) throw exprError(16878, "$map only supports an object as its argument");
  checkFields(args, ["input", "as", "in"], 16879, "Unrecognized parameter to $map: ");
  if (!("input" in args)) throw exprError(16880, "Missing 'input' parameter to $map");
  if (!("in" in args)) throw exprError(16882, "Missing 'in' parameter to $map");
  const name = "as" in args ? validateVariableName(args.as) : "this";
  const input = scope.compile(args.input);
  const { scope: inner, cells } = scope.bind([name]);
  const body = inner.compile(args.in);
  const cell = cells[0]!;
  return (doc) => {
    const v = input(doc);
    if (isNullish(v)) return null;
    if (!Array.isArray(v)) throw exprError(16883, `input to $map must be an array not ${typeName(v)}`);
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      cell.value = v[i];
      const x = body(doc);
      out[i] = x === undefined ? null : x;
    }
    return out;
  };
}, mingo.$map);

export const $filter = engineOperator((args, scope) => {
  if (!isPlainObject(args)) throw exprError(28646, "$filter only supports an object as its argument");
  checkFields(args, ["input", "as", "cond", "limit"], 28647, "Unrecognized parameter to $filter: ");
  if (!("input" in args)) throw exprError(28648, "Missing 'input' parameter to $filter");
  if (!("cond" in args)) throw exprError(28650, "Missing 'cond' parameter to $filter");
  const name = "as" in args ? validateVariableName(args.as) : "this";
  const input = scope.compile(args.input);
  const limitExpr = "limit" in args ? scope.compile(args.limit) : null;
  const { scope: inner, cells } = scope.bind([name]);
  const cond = inner.compile(args.cond);
  const cell = cells[0]!;
  return (doc) => {
    const v = input(doc);
    if (isNullish(v)) return null;
    if (!Array.isArray(v)) throw exprError(28651, `input to $filter must be an array not ${typeName(v)}`);
    if (v.length === 0) return v;
    let remaining = Infinity;
    if (limitExpr) {
      const l = limitExpr(doc);
      if (!isNullish(l)) {
        const k = isNumeric(l) ? int32Of(l) : null;
        if (k === null) throw exprError(327391, `$filter: limit must be represented as a 32-bit integral value: ${describeValue(l)}`);
        if (k <= 0) throw exprError(327392, `$filter: limit must be greater than 0: ${describeValue(l)}`);
        remaining = k;
      }
    }
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) {
      cell.value = v[i];
      if (isTruthy(cond(doc))) {
        out.push(v[i]);
        if (--remaining === 0) break;
      }
    }
    return out;
  };
}, mingo.$filter);

export const $reduce = engineOperator((args, scope) => {
  if (!isPlainObject(args)) throw exprError(40075, "$reduce only supports an object as its argument");
  checkFields(args, ["input", "initialValue", "in"], 40076, "$reduce found an unknown argument: ");
  if (!("input" in args)) throw exprError(40077, "$reduce requires 'input' to be specified");
  if (!("initialValue" in args)) throw exprError(40078, "$reduce requires 'initialValue' to be specified");
  if (!("in" in args)) throw exprError(40079, "$reduce requires 'in' to be specified");
  const input = scope.compile(args.input);
  const initial = scope.compile(args.initialValue);
  const { scope: inner, cells } = scope.bind(["this", "value"]);
  const body = inner.compile(args.in);
  const [thisCell, valueCell] = cells as [(typeof cells)[0], (typeof cells)[0]];
  return (doc) => {
    const v = input(doc);
    if (isNullish(v)) return null;
    if (!Array.isArray(v)) throw exprError(40080, `$reduce requires that 'input' be an array, found: ${describeValue(v)}`);
    let accumulated = initial(doc);
    for (let i = 0; i < v.length; i++) {
      thisCell.value = v[i];
      valueCell.value = accumulated;
      accumulated = body(doc);
    }
    return accumulated;
  };
}, mingo.$reduce);

/** Merges `v` into `out` as MongoDB's $mergeObjects accumulator does. */
function mergeInto(out: Doc, v: unknown): void {
  if (isNullish(v)) return;
  if (!isPlainObject(v)) throw exprError(40400, `$mergeObjects requires object inputs, but input ${describeValue(v)} is of type ${typeName(v)}`);
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined) continue;
    if (k === "__proto__") Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    else out[k] = x;
  }
}

export const $mergeObjects = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  return (doc) => {
    const out: Doc = {};
    if (n === 1) {
      const v = ops[0]!(doc);
      if (Array.isArray(v)) for (const x of v) mergeInto(out, x);
      else mergeInto(out, v);
      return out;
    }
    for (let i = 0; i < n; i++) mergeInto(out, ops[i]!(doc));
    return out;
  };
}, mingo.$mergeObjects);
