/**
 * Arithmetic expressions with MongoDB's semantics, compiled (see expressions.ts): `$add`,
 * `$subtract`, `$multiply`, `$divide`, `$round`, `$floor`, `$ceil`, and the expression forms of
 * `$sum`, `$avg`, `$max` and `$min`, over the four numeric BSON types (numeric.ts: ints, doubles,
 * Longs, Decimal128s), as MongoDB's AddState, MultiplyState, evaluateSubtract, evaluateDivide and
 * evaluateRoundOrTrunc compute them:
 * - the result has the widest operand type: any decimal makes a decimal (the other operands
 *   coerced exactly, doubles to 15 significant digits), else any double a double, else any long a
 *   long (exact past 2^53; one that overflows int64 becomes a double), else an int (one that
 *   overflows int32 becomes a long). `$add` and `$multiply` widen operand by operand, in order:
 *   what came before a decimal is converted as it stands (a double total to 15 digits);
 * - decimal results are decimal128 arithmetic (decimal.ts): 34 significant digits, half to even,
 *   an exact result keeping its ideal exponent (`2.50 × 2` is `5.00`, `1 / 4` is `0.25`);
 *   `$divide` of non-decimals is a double;
 * - null or missing operands make the result null, checked operand by operand in order as MongoDB
 *   does (`$add`, `$multiply`: the first null answers null even when a later operand has the wrong
 *   type; `$divide`, `$subtract`: a type error only when neither operand is null);
 * - wrong types fail with MongoDB's codes: TypeMismatch (14) for `$add`, `$subtract`,
 *   `$multiply`, `$divide`; 16612 for a second date in `$add`; 28765 for `$floor`/`$ceil`;
 *   51081–51083 for `$round`; division by zero (a decimal zero too) is BadValue (2, "can't
 *   $divide by zero"); date arithmetic past int64 is Overflow (15, "date overflow");
 * - dates: date + numbers and date − number are dates (a double rounded half away from zero to
 *   whole milliseconds, as llround; a decimal half to even, as Decimal128::toLong). In `$add` the
 *   numbers before the date are summed in their type first, those after added one by one;
 *   date − date is milliseconds: an int when it fits int32, else a long (MongoDB answers a long;
 *   the engine's int is the same value, while a JS number past int32 would count as a double);
 * - `$round` rounds half to even on the double's decimal value (round.ts), as MongoDB does, and a
 *   decimal half to even at its place (`Decimal128::quantize`: `{$round: [NumberDecimal("2.5")]}`
 *   is 2, `[NumberDecimal("1"), 2]` is 1.00); `$floor`/`$ceil` of a decimal are decimals with
 *   exponent 0. mingo's `$round` truncated whenever the digit after the last kept one was a 5
 *   (1.2351 → 1.23, 1350 at -2 → 1300), and mingo refused or mis-computed Longs and Decimal128s;
 * - `$sum`/`$avg` (one operand: an array's elements, or the value; several: each) add with
 *   summation.ts as `$group` does, ignoring non-numbers; `$max`/`$min` ignore null and missing,
 *   compare in BSON order and keep the first of equal values; one operand that is an array stands
 *   for its elements (ExpressionFromAccumulator).
 */
import { Decimal128, Long } from "bson";
import * as mingoAccumulatorOps from "mingo/operators/accumulator";
import * as mingoExpression from "mingo/operators/expression";
import { compareValues } from "../compare.js";
import { add, dec, type DecimalValue, divide, doubleTo15Digits, fromDecimal128, multiply, quantize, quantizeToPlaces, subtract, toDecimal128, decimalToInteger } from "../decimal.js";
import { engineOperator, type OperatorFn, type Evaluate, type Scope } from "../expressions.js";
import {
  DECIMAL,
  decimalOf,
  DOUBLE,
  doubleOf,
  fitsLong,
  INT,
  integerOf,
  intOrLong,
  isInt,
  LONG,
  LONG_LIMIT,
  LONG_MAX,
  LONG_MIN,
  longValue,
  numericType,
} from "../numeric.js";
import { roundDouble, roundInteger } from "../round.js";
import { NumericTotal } from "../summation.js";
import { exprError, fixedArity, isNullish, llround, operands, rangedArity, typeMismatch, typeName } from "./support.js";

/** mingo's own operators, for what the engine leaves to them. */
const mingo = mingoExpression as unknown as { [K in keyof typeof mingoExpression]: OperatorFn };
const mingoAccumulators = mingoAccumulatorOps as unknown as { [K in keyof typeof mingoAccumulatorOps]: OperatorFn };

type MingoOperator = OperatorFn;

function dateOverflow(): Error {
  return exprError(15, "date overflow");
}

/** A date's milliseconds (one past JS's date range, read from BSON, has none: out of reach as an overflow). */
function millisOf(date: Date): bigint {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw dateOverflow();
  return BigInt(ms);
}

/** Milliseconds plus a number of milliseconds in any numeric type, as MongoDB adds to dates (AddState::addToDateValue). */
function addToMillis(ms: bigint, v: unknown): bigint {
  let n: bigint;
  switch (numericType(v)) {
    case INT:
    case LONG:
      n = integerOf(v);
      break;
    case DOUBLE: {
      const x = v as number;
      if (!(x >= -LONG_LIMIT && x < LONG_LIMIT)) throw dateOverflow();
      n = BigInt(llround(x));
      break;
    }
    default: {
      const whole = decimalToInteger(fromDecimal128(v as Decimal128), "halfEven", LONG_MIN, LONG_MAX);
      if (whole === null) throw dateOverflow();
      n = whole;
    }
  }
  const sum = ms + n;
  if (!fitsLong(sum)) throw dateOverflow();
  return sum;
}

/**
 * MongoDB's AddState: a long, double and decimal total and the widest type so far; once a date is
 * met, the total so far and every later operand are added to its milliseconds.
 */
class AddState {
  private type: number;
  private long = 0n;
  private double = 0;
  private decimal: DecimalValue = 0;
  private date = false;
  private ms = 0n;

  /** The state after JS numbers only: their sum (exact, for ints) and whether all were ints. */
  constructor(total: number, ints: boolean) {
    this.type = ints ? INT : DOUBLE;
    if (ints) this.long = BigInt(total);
    else this.double = total;
  }

  /** Adds a number or a date (the caller has checked the type). */
  add(v: unknown): void {
    if (v instanceof Date) {
      if (this.date) throw exprError(16612, "only one date allowed in an $add expression");
      this.ms = addToMillis(addToMillis(0n, this.value()), millisOf(v));
      this.date = true;
      return;
    }
    if (this.date) {
      this.ms = addToMillis(this.ms, v);
      return;
    }
    const old = this.type;
    const type = numericType(v);
    if (type > this.type) {
      this.type = type;
      if (type === DOUBLE) this.double = Number(this.long);
      else if (type === DECIMAL) this.decimal = old === DOUBLE ? doubleTo15Digits(this.double) : dec(this.long, 0);
    }
    if (this.type === DECIMAL) this.decimal = add(this.decimal, decimalOf(v));
    else if (this.type === DOUBLE) this.double += doubleOf(v);
    else {
      const sum = this.long + integerOf(v);
      if (fitsLong(sum)) this.long = sum;
      else {
        // An int64 overflow goes on as a double.
        this.type = DOUBLE;
        this.double = Number(this.long) + doubleOf(v);
      }
    }
  }

  value(): unknown {
    if (this.date) return new Date(Number(this.ms));
    if (this.type === INT) return intOrLong(this.long);
    if (this.type === LONG) return longValue(this.long);
    if (this.type === DOUBLE) return this.double;
    return toDecimal128(this.decimal);
  }
}

export const $add = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  /** From operand `i` (its value `first`) on, past the JS numbers summed so far. */
  const rest = (doc: Parameters<Evaluate>[0], i: number, first: unknown, total: number, ints: boolean): unknown => {
    const state = new AddState(total, ints);
    for (let k = i; k < n; k++) {
      const v = k === i ? first : ops[k]!(doc);
      if (isNullish(v)) return null;
      if (!(v instanceof Date) && numericType(v) < 0) throw typeMismatch(`$add only supports numeric or date types, not ${typeName(v)}`);
      state.add(v);
    }
    return state.value();
  };
  return (doc) => {
    // JS numbers only: their sum in order is MongoDB's (ints add exactly in a double).
    let total = 0;
    let ints = true;
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (typeof v === "number") {
        total += v;
        if (ints && !isInt(v)) ints = false;
      } else if (isNullish(v)) return null;
      else return rest(doc, i, v, total, ints);
    }
    return ints ? intOrLong(total) : total;
  };
}, mingo.$add);

/** MongoDB's MultiplyState: a double product always, the exact int64 one while only ints and longs came, a decimal one from the first decimal. */
class MultiplyState {
  private type: number;
  private long: bigint;
  private double: number;
  private decimal: DecimalValue = 0;

  /** The state after JS numbers only: their product (exact, for ints) and whether all were ints. */
  constructor(product: number, ints: boolean) {
    this.type = ints ? INT : DOUBLE;
    this.long = ints ? BigInt(product) : 0n;
    this.double = product;
  }

  multiply(v: unknown): void {
    const old = this.type;
    const type = numericType(v);
    if (type > this.type) this.type = type;
    if (this.type === DECIMAL) {
      if (old !== DECIMAL) this.decimal = old === DOUBLE ? doubleTo15Digits(this.double) : dec(this.long, 0);
      this.decimal = multiply(this.decimal, decimalOf(v));
      return;
    }
    this.double *= doubleOf(v);
    if (this.type !== DOUBLE) {
      const product = this.long * integerOf(v);
      // An int64 overflow goes on as the double product.
      if (fitsLong(product)) this.long = product;
      else this.type = DOUBLE;
    }
  }

  value(): unknown {
    if (this.type === INT) return intOrLong(this.long);
    if (this.type === LONG) return longValue(this.long);
    if (this.type === DOUBLE) return this.double;
    return toDecimal128(this.decimal);
  }
}

export const $multiply = engineOperator((args, scope) => {
  const ops = operands(args).map((e) => scope.compile(e));
  const n = ops.length;
  const rest = (doc: Parameters<Evaluate>[0], i: number, first: unknown, product: number, ints: boolean): unknown => {
    const state = new MultiplyState(product, ints);
    for (let k = i; k < n; k++) {
      const v = k === i ? first : ops[k]!(doc);
      if (isNullish(v)) return null;
      if (numericType(v) < 0) throw typeMismatch(`$multiply only supports numeric types, not ${typeName(v)}`);
      state.multiply(v);
    }
    return state.value();
  };
  return (doc) => {
    // JS numbers only: a double product, exact for ints while it stays within 2^53.
    let product = 1;
    let ints = true;
    for (let i = 0; i < n; i++) {
      const v = ops[i]!(doc);
      if (typeof v === "number") {
        if (ints && isInt(v)) {
          const next = product * v;
          if (!(next >= -Number.MAX_SAFE_INTEGER && next <= Number.MAX_SAFE_INTEGER)) return rest(doc, i, v, product, true);
          product = next;
        } else {
          ints = false;
          product *= v;
        }
      } else if (isNullish(v)) return null;
      else return rest(doc, i, v, product, ints);
    }
    return ints ? intOrLong(product) : product;
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
    const ta = numericType(a);
    const tb = numericType(b);
    if (ta >= 0 && tb >= 0) {
      if (ta === DECIMAL || tb === DECIMAL) {
        const denominator = decimalOf(b);
        if (typeof denominator !== "number" && denominator.coef === 0n) throw exprError(2, "can't $divide by zero");
        return toDecimal128(divide(decimalOf(a), denominator));
      }
      const denominator = doubleOf(b);
      if (denominator === 0) throw exprError(2, "can't $divide by zero");
      return doubleOf(a) / denominator;
    }
    if (isNullish(a) || isNullish(b)) return null;
    throw typeMismatch(`$divide only supports numeric types, not ${typeName(a)} and ${typeName(b)}`);
  };
}, mingo.$divide);

/** A date minus a number of milliseconds in any numeric type (evaluateSubtract). */
function subtractFromDate(date: Date, v: unknown): Date {
  const ms = millisOf(date);
  const type = numericType(v);
  let n: bigint;
  if (type === INT || type === LONG) n = integerOf(v);
  else if (type === DOUBLE) {
    const x = v as number;
    if (!(x >= -LONG_LIMIT && x < LONG_LIMIT)) throw dateOverflow();
    n = BigInt(llround(x));
  } else {
    const whole = decimalToInteger(fromDecimal128(v as Decimal128), "halfEven", LONG_MIN, LONG_MAX);
    if (whole === null) throw dateOverflow();
    n = whole;
  }
  const diff = ms - n;
  if (!fitsLong(diff)) throw dateOverflow();
  return new Date(Number(diff));
}

export const $subtract = engineOperator((args, scope) => {
  const [left, right] = binary("$subtract", args, scope);
  return (doc) => {
    const a = left(doc);
    const b = right(doc);
    if (typeof a === "number" && typeof b === "number") return isInt(a) && isInt(b) ? intOrLong(a - b) : a - b;
    const ta = numericType(a);
    const tb = numericType(b);
    if (ta >= 0 && tb >= 0) {
      const type = Math.max(ta, tb);
      if (type === DECIMAL) return toDecimal128(subtract(decimalOf(a), decimalOf(b)));
      if (type === DOUBLE) return doubleOf(a) - doubleOf(b);
      const diff = integerOf(a) - integerOf(b);
      // An int64 overflow is a double.
      return fitsLong(diff) ? longValue(diff) : doubleOf(a) - doubleOf(b);
    }
    if (isNullish(a) || isNullish(b)) return null;
    if (a instanceof Date) {
      if (b instanceof Date) {
        const ms = a.getTime() - b.getTime();
        return Number.isNaN(ms) ? ms : intOrLong(ms);
      }
      if (tb >= 0) return subtractFromDate(a, b);
      throw typeMismatch(`can't $subtract ${typeName(b)} from Date`);
    }
    throw typeMismatch(`can't $subtract ${typeName(b)} from ${typeName(a)}`);
  };
}, mingo.$subtract);

function rounding(name: "$floor" | "$ceil", fn: (x: number) => number, mode: "floor" | "ceiling", fallback: MingoOperator) {
  return engineOperator((args, scope) => {
    const [operand] = fixedArity(name, args, 1);
    const value = scope.compile(operand);
    return (doc) => {
      const v = value(doc);
      if (typeof v === "number") return fn(v);
      if (isNullish(v)) return null;
      const type = numericType(v);
      if (type === LONG) return v;
      // The integral decimal toward -∞ or +∞, with exponent 0 (quantize to 0E+0).
      if (type === DECIMAL) return toDecimal128(quantize(fromDecimal128(v as Decimal128), 0, mode));
      throw exprError(28765, `${name} only supports numeric types, not ${typeName(v)}`);
    };
  }, fallback);
}

export const $floor = rounding("$floor", Math.floor, "floor", mingo.$floor);
export const $ceil = rounding("$ceil", Math.ceil, "ceiling", mingo.$ceil);

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

export const $round = engineOperator((args, scope) => {
  const list = rangedArity("$round", args, 1, 2);
  const value = scope.compile(list[0]);
  const precision = list.length > 1 ? scope.compile(list[1]) : null;
  return (doc) => {
    const v = value(doc);
    if (isNullish(v)) return null;
    const type = numericType(v);
    if (type < 0) throw exprError(51081, `$round only supports numeric types, not ${typeName(v)}`);
    let places = 0;
    if (precision) {
      const p = precision(doc);
      if (isNullish(p)) return null;
      places = precisionOf(p);
    }
    if (type === DOUBLE) return roundDouble(v as number, places);
    if (type === DECIMAL) {
      const d = fromDecimal128(v as Decimal128);
      // Infinities are kept; NaN stays NaN.
      return d === Infinity || d === -Infinity ? v : toDecimal128(quantizeToPlaces(d, -places, "halfEven"));
    }
    if (places >= 0) return v;
    const out = roundInteger(integerOf(v), places);
    if (!fitsLong(out)) throw exprError(51080, `invalid conversion from Decimal128 result in $round resulting from arguments: [${String(v)}, ${places}]`);
    // An int that rounds past int32 is a long.
    return type === LONG ? longValue(out) : intOrLong(out);
  };
}, mingo.$round);

/** MongoDB's `$sum`/`$avg` expression (ExpressionFromAccumulator): one operand stands for an array's elements. */
function accumulated(average: boolean, fallback: MingoOperator) {
  const answer = (t: NumericTotal) => (average ? t.average() : t.total());
  return engineOperator((args, scope) => {
    const ops = operands(args).map((e) => scope.compile(e));
    if (ops.length === 1) {
      const only = ops[0]!;
      return (doc) => {
        const v = only(doc);
        const t = new NumericTotal();
        if (Array.isArray(v)) for (const x of v) t.add(x);
        else t.add(v);
        return answer(t);
      };
    }
    return (doc) => {
      const t = new NumericTotal();
      for (const op of ops) t.add(op(doc));
      return answer(t);
    };
  }, fallback);
}

/** Over an array of documents (an accumulator in mingo's `$bucket`), mingo's accumulators, as mingo's computeOperator does. */
export const $sum = accumulated(false, mingoAccumulators.$sum);
export const $avg = accumulated(true, mingoAccumulators.$avg);

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
