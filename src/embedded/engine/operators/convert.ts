/**
 * Type expressions with MongoDB's semantics (expression_convert / ConversionTable): `$toDouble`,
 * `$toDecimal`, `$toLong`, `$toInt`, `$convert` to those four types, `$type` and `$isNumber`.
 * - null or missing converts to null (`$convert`: its `onNull`, if given);
 * - a double becomes a decimal with 15 significant digits ($toDecimal: 2.5 is 2.50000000000000,
 *   0.1 is 0.100000000000000), ints, longs and dates (their milliseconds) exactly, booleans 1 or 0;
 *   a decimal becomes a double half to even, a long or an int truncated toward zero; a double
 *   becomes a long or an int truncated toward zero;
 * - strings are parsed as NumberParser does: decimals in Decimal128's forms (more than 34 digits
 *   rounded toward zero), doubles as strtod, longs and ints as base-10 integers; no spaces, no
 *   `0x` prefix;
 * - anything MongoDB refuses fails with ConversionFailure (241) and MongoDB's message: NaN or an
 *   infinity to an integer type, a value outside the target type, an unparsable string, a type
 *   with no conversion (`Unsupported conversion from objectId to decimal ...`); `$convert` answers
 *   its `onError` then, evaluated only when needed;
 * - `$type` names the BSON type as MongoDB does ("decimal", "long", "double" for a JS number past
 *   int32 or -0, "objectId", "timestamp", "missing"); `$isNumber` is true for the four numeric
 *   types, NaN included.
 * mingo's `$toDecimal` was its `$toDouble`, its `$toLong` stopped at 2^53 and took dates, its
 * `$convert` to "decimal" made a double, its `$type` said "decimal128" and "long" for any whole
 * number past int32, and its `$isNumber` was false for NaN, Longs and Decimal128s. `$convert` to
 * another type, or with a `to` that is not a constant, is still mingo's.
 */
import { Decimal128, Long } from "bson";
import * as mingoExpression from "mingo/operators/expression";
import { dec, type DecimalValue, decimalToDouble, decimalToInteger, exactDouble, fromDecimal128, parseDecimalString, toDecimal128, compareDecimals } from "../decimal.js";
import { engineOperator, type OperatorFn } from "../expressions.js";
import { DECIMAL, decimalOf, INT, INT_MAX, INT_MIN, integerOf, LONG, LONG_LIMIT, LONG_MAX, LONG_MIN, longValue, numericType } from "../numeric.js";
import { bsonType } from "./query.js";
import { exprError, fixedArity, isNullish, typeName } from "./support.js";

const mingo = mingoExpression as unknown as { [K in keyof typeof mingoExpression]: OperatorFn };

const NO_ON_ERROR = "in $convert with no onError value";

function conversionFailure(message: string): Error {
  return exprError(241, message);
}

function unsupported(v: unknown, target: string): Error {
  return conversionFailure(`Unsupported conversion from ${typeName(v)} to ${target} ${NO_ON_ERROR}`);
}

function overflow(shown: string): Error {
  return conversionFailure(`Conversion would overflow target type ${NO_ON_ERROR}: ${shown}`);
}

function parseFailure(s: string, reason: string): Error {
  return conversionFailure(`Failed to parse number '${s}' ${NO_ON_ERROR}: ${reason}`);
}

/** parseStringToNumber's first check, for every target type. */
function refuseHex(s: string): void {
  if (s.startsWith("0x") || s.startsWith("0X")) throw conversionFailure(`Illegal hexadecimal input ${NO_ON_ERROR}: ${s}`);
}

/** A base-10 integer as NumberParser reads one (sign, digits, nothing else), within [min, max]. */
function parseInteger(s: string, min: bigint, max: bigint): bigint {
  refuseHex(s);
  let i = 0;
  const negative = s[0] === "-";
  if (negative || s[0] === "+") i = 1;
  if (i === s.length) throw parseFailure(s, "No digits");
  let n = 0n;
  let j = i;
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10n + BigInt(c - 48);
    if (n >= 2n ** 64n) throw parseFailure(s, "Overflow");
  }
  if (j !== s.length) throw parseFailure(s, "Did not consume whole string.");
  if (negative) n = -n;
  if (n < min || n > max) throw parseFailure(s, "Overflow");
  return n;
}

/** What strtod reads at the start of a string: a decimal number, inf, infinity or nan (any case). */
const STRTOD_PREFIX = /^[+-]?(?:infinity|inf|nan(?:\([0-9A-Za-z_]*\))?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/i;
const SMALLEST_NORMAL = 2.2250738585072014e-308;

/** A string as NumberParser makes it a double (strtod, the whole string, no leading space, no range error). */
function parseDouble(s: string): number {
  refuseHex(s);
  if (s === "") throw parseFailure(s, "Empty string");
  if (/^\s/.test(s)) throw parseFailure(s, "Leading whitespace");
  const m = STRTOD_PREFIX.exec(s);
  if (!m) throw parseFailure(s, "Did not consume any digits");
  const text = m[0];
  const body = text.replace(/^[+-]/, "").toLowerCase();
  let x: number;
  if (body.startsWith("inf")) x = text.startsWith("-") ? -Infinity : Infinity;
  else if (body.startsWith("nan")) x = NaN;
  else {
    x = Number(text);
    // strtod's ERANGE: an overflow, or an underflow (a result below the normal doubles from digits that are not all zeros).
    const nonZero = /[1-9]/.test(text.replace(/[eE].*$/, ""));
    if (!Number.isFinite(x) || (nonZero && Math.abs(x) < SMALLEST_NORMAL)) throw parseFailure(s, "Out of range");
  }
  if (text.length !== s.length) throw parseFailure(s, "Did not consume whole string.");
  return x;
}

/** A decimal as a double (performCastDecimalToDouble): an overflow or an underflow is refused, a rounding is not. */
function decimalToDoubleChecked(d: Decimal128): number {
  const v = fromDecimal128(d);
  const x = decimalToDouble(v);
  if (typeof v === "number" || v.coef === 0n) return x;
  if (!Number.isFinite(x)) throw overflow(d.toString());
  // Underflow: a result below the normal doubles that is not exactly the decimal.
  if (Math.abs(x) < SMALLEST_NORMAL && (x === 0 || compareDecimals(exactDouble(x), v) !== 0)) throw overflow(d.toString());
  return x;
}

function toDouble(v: unknown): unknown {
  if (isNullish(v)) return null;
  switch (typeof v) {
    case "number":
      return v;
    case "boolean":
      return v ? 1 : 0;
    case "string":
      return parseDouble(v);
    case "bigint":
      return Number(v);
  }
  if (v instanceof Date) return v.getTime();
  const type = numericType(v);
  if (type === LONG) return (v as Long).toNumber();
  if (type === DECIMAL) return decimalToDoubleChecked(v as Decimal128);
  throw unsupported(v, "double");
}

function toDecimal(v: unknown): unknown {
  if (isNullish(v)) return null;
  switch (typeof v) {
    case "number":
    case "bigint":
      return toDecimal128(decimalOf(v));
    case "boolean":
      return toDecimal128(dec(v ? 1n : 0n, 0));
    case "string": {
      refuseHex(v);
      const parsed: DecimalValue | string = parseDecimalString(v);
      if (typeof parsed === "string") throw parseFailure(v, parsed);
      return toDecimal128(parsed);
    }
  }
  if (v instanceof Date) return toDecimal128(dec(BigInt(v.getTime()), 0));
  const type = numericType(v);
  if (type === DECIMAL) return v;
  if (type === LONG) return toDecimal128(decimalOf(v));
  throw unsupported(v, "decimal");
}

/** A double, decimal or long as an integer of [min, max] (performCastDoubleToInt/Long, performCastDecimalToInt, performCastLongToInt). */
function toInteger(v: unknown, target: "int" | "long", min: bigint, max: bigint): bigint | null {
  if (isNullish(v)) return null;
  switch (typeof v) {
    case "number": {
      if (Number.isNaN(v)) throw conversionFailure(`Attempt to convert NaN value to integer type ${NO_ON_ERROR}`);
      if (!Number.isFinite(v)) throw conversionFailure(`Attempt to convert infinity value to integer type ${NO_ON_ERROR}`);
      const inRange = target === "int" ? v >= INT_MIN && v <= INT_MAX : v >= -LONG_LIMIT && v < LONG_LIMIT;
      if (!inRange) throw overflow(String(v));
      return BigInt(Math.trunc(v));
    }
    case "boolean":
      return v ? 1n : 0n;
    case "string":
      return parseInteger(v, min, max);
  }
  // A date converts to a long (its milliseconds), never to an int.
  if (v instanceof Date && target === "long") return BigInt(v.getTime());
  const type = numericType(v);
  if (type === LONG || type === INT) {
    const n = integerOf(v);
    if (n < min || n > max) throw conversionFailure(`Conversion would overflow target type ${NO_ON_ERROR}: `);
    return n;
  }
  if (type === DECIMAL) {
    const d = fromDecimal128(v as Decimal128);
    if (Number.isNaN(d)) throw conversionFailure(`Attempt to convert NaN value to integer type ${NO_ON_ERROR}`);
    if (typeof d === "number") throw conversionFailure(`Attempt to convert infinity value to integer type ${NO_ON_ERROR}`);
    const n = decimalToInteger(d, "down", min, max);
    if (n === null) throw overflow((v as Decimal128).toString());
    return n;
  }
  throw unsupported(v, target);
}

function toLong(v: unknown): unknown {
  if (numericType(v) === LONG && !(typeof v === "bigint")) return v;
  const n = toInteger(v, "long", LONG_MIN, LONG_MAX);
  return n === null ? null : longValue(n);
}

function toInt(v: unknown): unknown {
  if (typeof v === "number" && numericType(v) === INT) return v;
  const n = toInteger(v, "int", BigInt(INT_MIN), BigInt(INT_MAX));
  return n === null ? null : Number(n);
}

const TARGETS: Record<string, (v: unknown) => unknown> = { double: toDouble, decimal: toDecimal, long: toLong, int: toInt };
const TARGET_CODES: Record<number, string> = { 1: "double", 19: "decimal", 18: "long", 16: "int" };

function converter(name: string, convert: (v: unknown) => unknown, fallback: OperatorFn) {
  return engineOperator((args, scope) => {
    const [operand] = fixedArity(name, args, 1);
    const value = scope.compile(operand);
    return (doc) => convert(value(doc));
  }, fallback);
}

export const $toDouble = converter("$toDouble", toDouble, mingo.$toDouble);
export const $toDecimal = converter("$toDecimal", toDecimal, mingo.$toDecimal);
export const $toLong = converter("$toLong", toLong, mingo.$toLong);
export const $toInt = converter("$toInt", toInt, mingo.$toInt);

/** A constant `to` of `$convert` naming one of the four numeric types, as its target name. */
function numericTarget(to: unknown): string | null {
  if (to !== null && typeof to === "object" && !Array.isArray(to)) {
    const keys = Object.keys(to);
    if (keys.length === 1 && keys[0] === "$literal") return numericTarget((to as Record<string, unknown>).$literal);
    return null;
  }
  if (typeof to === "string") return to in TARGETS ? to : null;
  if (typeof to === "number") return TARGET_CODES[to] ?? null;
  if (to instanceof Long || to instanceof Decimal128) return numericTarget(Number(to.toString()));
  return null;
}

/**
 * `$convert` to double, decimal, long or int: the input converted, `onNull` (or null) for null or
 * missing, `onError` for a ConversionFailure. Any other `$convert` (another target, a computed
 * `to`, arguments this does not know) is mingo's.
 */
export const $convert = engineOperator((args, scope) => {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw exprError(9, `$convert expects an object of named arguments but found: ${typeName(args)}`);
  }
  const spec = args as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (key === "input" || key === "to" || key === "onError" || key === "onNull") continue;
    // MongoDB 8's binData arguments: mingo's, as before.
    if (key === "format" || key === "base" || key === "byteOrder" || key === "subtype") return null;
    throw exprError(9, `$convert found an unknown argument: ${key}`);
  }
  if (!("input" in spec)) throw exprError(9, "Missing 'input' parameter to $convert");
  if (!("to" in spec)) throw exprError(9, "Missing 'to' parameter to $convert");
  const target = numericTarget(spec.to);
  if (!target) return null;
  const convert = TARGETS[target]!;
  const input = scope.compile(spec.input);
  const onError = "onError" in spec ? scope.compile(spec.onError) : null;
  const onNull = "onNull" in spec ? scope.compile(spec.onNull) : null;
  return (doc) => {
    const v = input(doc);
    if (isNullish(v)) return onNull ? onNull(doc) : null;
    if (!onError) return convert(v);
    try {
      return convert(v);
    } catch (e) {
      if ((e as { code?: unknown }).code === 241) return onError(doc);
      throw e;
    }
  };
}, mingo.$convert);

/** `$type`: the BSON type's name, "missing" for a missing value. */
export const $type = engineOperator((args, scope) => {
  const [operand] = fixedArity("$type", args, 1);
  const value = scope.compile(operand);
  return (doc) => bsonType(value(doc));
}, mingo.$type);

export const $isNumber = engineOperator((args, scope) => {
  const [operand] = fixedArity("$isNumber", args, 1);
  const value = scope.compile(operand);
  return (doc) => numericType(value(doc)) >= 0;
}, mingo.$isNumber);
