/**
 * Arithmetic expressions with MongoDB's semantics, compiled (see expressions.ts): `$add`,
 * `$subtract`, `$multiply`, `$divide`, `$round`, `$floor`, `$ceil`, and the expression forms of
 * `$max`/`$min` (`$toInt` is in convert.ts).
 * - null or missing operands make the result null, checked operand by operand in order as MongoDB
 *   does (`$add`, `$multiply`: the first null answers null even when a later operand has the wrong
 *   type; `$divide`, `$subtract`: a type error only when neither operand is null);
 * - wrong types fail with MongoDB's codes: TypeMismatch (14) for `$add`, `$subtract`,
 *   `$multiply`, `$divide`; 16612 for a second date in `$add`; 28765 for `$floor`/`$ceil`;
 *   51081–51083 for `$round`; division by zero is BadValue (2, "can't $divide by zero") — mingo
 *   answered NaN operands with errors;
 * - dates: date + numbers and date − number are dates (a double rounded half away from zero to
 *   whole milliseconds, as llround), date − date is milliseconds;
 * - `$round` rounds half to even on the double's decimal value (round.ts), as MongoDB does. mingo's
 *   `$round` truncated whenever the digit after the last kept one was a 5 (1.2351 → 1.23, 1350 at
 *   -2 → 1300) and rounded half away from zero in other cases;
 * - `$max`/`$min` ignore null and missing, compare in BSON order and keep the first of equal
 *   values; one operand that is an array stands for its elements (ExpressionFromAccumulator);
 * Long and Decimal128 operands are computed by mingo's operator, as before.
 */
import { Decimal128, Long } from "bson";
import * as mingoAccumulatorOps from "mingo/operators/accumulator";
import * as mingoExpression from "mingo/operators/expression";
import { compareValues } from "../compare.js";
import { engineOperator, type OperatorFn, type Evaluate, type Scope } from "../expressions.js";
import { roundDouble, roundInteger } from "../round.js";
import {
  exprError,
  fixedArity,
  isNullish,
  isWideNumber,
  llround,
  mingoWithValues,
  operands,
  rangedArity,
  typeMismatch,
  typeName,
} from "./support.js";

/** mingo's own operators, for what the engine leaves to them. */
const mingo = mingoExpression as unknown as { [K in keyof typeof mingoExpression]: OperatorFn };
const mingoAccumulators = mingoAccumulatorOps as unknown as { [K in keyof typeof mingoAccumulatorOps]: OperatorFn };

type MingoOperator = OperatorFn;

function dateOverflow(): Error {
  return exprError(15, "date overflow");
}

const INT64_LIMIT = 2 ** 63;

/** Milliseconds plus a number of milliseconds (a double rounded as llround), as MongoDB adds to dates. */
function addMillis(ms: number, n: number): number {
  if (Number.isInteger(n)) return ms + n;
  if (!(n >= -INT64_LIMIT && n < INT64_LIMIT)) throw dateOverflow();
  return ms + llround(n);
}

function evaluateAll(ops: Evaluate[], doc: Parameters<Evaluate>[0]): unknown[] {
  return ops.map((op) => op(doc));
}

export const $add = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  return (doc) => {
    let total = 0;
    let ms = 0;
    let date = false;
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (typeof v === "number") {
        if (date) ms = addMillis(ms, v);
        else total += v;
      } else if (isNullish(v)) return null;
      else if (v instanceof Date) {
        if (date) throw exprError(16612, "only one date allowed in an $add expression");
        date = true;
        ms = addMillis(v.getTime(), total);
      } else if (isWideNumber(v)) return mingoWithValues(mingo.$add, evaluateAll(ops, doc), scope.options);
      else throw typeMismatch(`$add only supports numeric or date types, not ${typeName(v)}`);
    }
    return date ? new Date(ms) : total;
  };
}, mingo.$add);

export const $multiply = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  return (doc) => {
    let product = 1;
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (typeof v === "number") product *= v;
      else if (isNullish(v)) return null;
      else if (isWideNumber(v)) return mingoWithValues(mingo.$multiply, evaluateAll(ops, doc), scope.options);
      else throw typeMismatch(`$multiply only supports numeric types, not ${typeName(v)}`);
    }
    return product;
  };
}, mingo.$multiply);

function binary(name: string, args: unknown, scope: Scope): [Evaluate, Evaluate] {
  const [a, b] = fixedArity(name, args, 2);
  return [scope.compile(a), scope.compile(b)];
}

export const $divide = engineOperator((args, scope) => {
  const [left, right] = binary("$divide", args, scope);
  return (doc) => {
    const a = left(doc);
    const b = right(doc);
    if (typeof a === "number" && typeof b === "number") {
      if (b === 0) throw exprError(2, "can't $divide by zero");
      return a / b;
    }
    if ((isWideNumber(a) || typeof a === "number") && (isWideNumber(b) || typeof b === "number")) {
      return mingoWithValues(mingo.$divide, [a, b], scope.options);
    }
    if (isNullish(a) || isNullish(b)) return null;
    throw typeMismatch(`$divide only supports numeric types, not ${typeName(a)} and ${typeName(b)}`);
  };
}, mingo.$divide);

export const $subtract = engineOperator((args, scope) => {
  const [left, right] = binary("$subtract", args, scope);
  return (doc) => {
    const a = left(doc);
    const b = right(doc);
    if (typeof a === "number" && typeof b === "number") return a - b;
    const aNumeric = typeof a === "number" || isWideNumber(a);
    const bNumeric = typeof b === "number" || isWideNumber(b);
    if ((aNumeric && bNumeric) || (a instanceof Date && isWideNumber(b))) return mingoWithValues(mingo.$subtract, [a, b], scope.options);
    if (isNullish(a) || isNullish(b)) return null;
    if (a instanceof Date) {
      if (b instanceof Date) return a.getTime() - b.getTime();
      if (typeof b === "number") return new Date(addMillis(a.getTime(), -b));
      throw typeMismatch(`can't $subtract ${typeName(b)} from Date`);
    }
    throw typeMismatch(`can't $subtract ${typeName(b)} from ${typeName(a)}`);
  };
}, mingo.$subtract);

function rounding(name: "$floor" | "$ceil", fn: (x: number) => number, fallback: MingoOperator) {
  return engineOperator((args, scope) => {
    const [operand] = fixedArity(name, args, 1);
    const value = scope.compile(operand);
    return (doc) => {
      const v = value(doc);
      if (typeof v === "number") return fn(v);
      if (isNullish(v)) return null;
      if (v instanceof Long) return v;
      if (isWideNumber(v)) return mingoWithValues(fallback, [v], scope.options);
      throw exprError(28765, `${name} only supports numeric types, not ${typeName(v)}`);
    };
  }, fallback);
}

export const $floor = rounding("$floor", Math.floor, mingo.$floor);
export const $ceil = rounding("$ceil", Math.ceil, mingo.$ceil);

/** The precision argument of `$round`, checked as MongoDB checks it. */
function precisionOf(p: unknown): number {
  let n: number;
  if (typeof p === "number") n = p;
  else if (p instanceof Long) n = p.toNumber();
  else if (p instanceof Decimal128) n = Number(p.toString());
  else throw exprError(16004, `can't convert from BSON type ${typeName(p)} to long`);
  if (!Number.isFinite(n)) throw exprError(31109, `Can't coerce out of range value ${n} to long`);
  if (!Number.isInteger(n)) throw exprError(51082, "precision argument to  $round must be a integral value");
  if (n < -20 || n > 100) throw exprError(51083, `cannot apply $round with precision value ${n} value must be in [-20, 100]`);
  return n;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

export const $round = engineOperator((args, scope) => {
  const list = rangedArity("$round", args, 1, 2);
  const value = scope.compile(list[0]);
  const precision = list.length > 1 ? scope.compile(list[1]) : null;
  return (doc) => {
    const v = value(doc);
    if (isNullish(v)) return null;
    if (typeof v !== "number" && !isWideNumber(v)) throw exprError(51081, `$round only supports numeric types, not ${typeName(v)}`);
    let places = 0;
    if (precision) {
      const p = precision(doc);
      if (isNullish(p)) return null;
      places = precisionOf(p);
    }
    if (typeof v === "number") return Number.isInteger(v) && places >= 0 ? v : roundDouble(v, places);
    if (v instanceof Long) {
      if (places >= 0) return v;
      const out = roundInteger(BigInt(v.toString()), places);
      if (out < LONG_MIN || out > LONG_MAX) throw exprError(51080, `invalid conversion from Decimal128 result in $round resulting from arguments: [${v.toString()}, ${places}]`);
      return Long.fromBigInt(out);
    }
    return mingoWithValues(mingo.$round, [v, places], scope.options);
  };
}, mingo.$round);

/** MongoDB's `$max`/`$min` expression: 1 keeps the largest, -1 the smallest. */
function extreme(sense: 1 | -1, fallback: MingoOperator) {
  return engineOperator((args, scope) => {
    const ops = operands(args).map((e) => scope.compile(e));
    const n = ops.length;
    const better = (best: unknown, v: unknown) => best === undefined || compareValues(v, best) * sense > 0;
    if (n === 1) {
      const only = ops[0]!;
      return (doc) => {
        const v = only(doc);
        if (!Array.isArray(v)) return isNullish(v) ? null : v;
        let best: unknown = undefined;
        for (const x of v) if (!isNullish(x) && better(best, x)) best = x;
        return best === undefined ? null : best;
      };
    }
    return (doc) => {
      let best: unknown = undefined;
      for (let i = 0; i < n; i++) {
        const v = ops[i]!(doc);
        if (!isNullish(v) && better(best, v)) best = v;
      }
      return best === undefined ? null : best;
    };
  }, fallback);
}

/** Over an array of documents (an accumulator in mingo's `$bucket`), mingo's accumulators, as mingo's computeOperator does. */
export const $max = extreme(1, mingoAccumulators.$max);
export const $min = extreme(-1, mingoAccumulators.$min);
