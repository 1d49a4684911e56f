/**
 * MongoDB's four numeric BSON types as the engine holds them, and how they convert and compare.
 * An int is a JS number the wire would send as an int32 (a whole number in int32 range, not -0);
 * every other JS number is a double, as it arrived or would leave. A long is a bson `Long` (the
 * wire reads int64 with promoteLongs: false; a `Timestamp`, which extends Long in the bson
 * package, is not one) or a BigInt. A decimal is a bson `Decimal128`.
 *
 * The conversions are Value::coerceToLong/coerceToDouble/coerceToDecimal: a long to a double is
 * the nearest double, a double to a decimal has 15 significant digits (decimal.ts), and Value's
 * comparison of numbers is exact across types (an int64 past 2^53 against a double, 0.1 as a
 * Decimal128 against the double 0.1, which is a little more).
 */
import { Decimal128, Long, Timestamp } from "bson";
import { compareDecimals, dec, type DecimalValue, doubleTo15Digits, exactDouble, fromDecimal128, decimalToDouble } from "./decimal.js";

export const INT = 0;
export const LONG = 1;
export const DOUBLE = 2;
export const DECIMAL = 3;
export type NumericType = typeof INT | typeof LONG | typeof DOUBLE | typeof DECIMAL;

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;
export const LONG_MIN = -(2n ** 63n);
export const LONG_MAX = 2n ** 63n - 1n;
/** 2^63 as a double: the first double past int64. */
export const LONG_LIMIT = 2 ** 63;

/** A JS number MongoDB would hold as a 32-bit integer (Value::integral). */
export function isInt32(v: number): boolean {
  return Number.isInteger(v) && v >= INT_MIN && v <= INT_MAX;
}

/** A JS number the engine holds as an int (it would leave as an int32): -0 is a double. */
export function isInt(v: number): boolean {
  return isInt32(v) && !Object.is(v, -0);
}

/** The numeric BSON type of `v`, or -1 when it is not a number. */
export function numericType(v: unknown): NumericType | -1 {
  if (typeof v === "number") return isInt(v) ? INT : DOUBLE;
  if (typeof v === "object" && v !== null) {
    if (v instanceof Decimal128) return DECIMAL;
    if (v instanceof Long) return v instanceof Timestamp ? -1 : LONG;
    return -1;
  }
  return typeof v === "bigint" ? LONG : -1;
}

/** An int or a long (numericType INT or LONG) as a BigInt. */
export function integerOf(v: unknown): bigint {
  if (typeof v === "number") return BigInt(v);
  if (typeof v === "bigint") return v;
  return (v as Long).toBigInt();
}

/** Value::coerceToDouble of a number. */
export function doubleOf(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Decimal128) return decimalToDouble(fromDecimal128(v));
  return (v as Long).toNumber();
}

/** Value::coerceToDecimal of a number: ints and longs exactly, doubles to 15 digits. */
export function decimalOf(v: unknown): DecimalValue {
  if (typeof v === "number") return isInt(v) ? dec(BigInt(v), 0) : doubleTo15Digits(v);
  if (v instanceof Decimal128) return fromDecimal128(v);
  return dec(integerOf(v), 0);
}

/** A long result as the engine holds it. */
export function longValue(n: bigint): Long {
  return Long.fromBigInt(n);
}

/** Value::createIntOrLong: an int when it fits int32, else a long. */
export function intOrLong(n: bigint | number): number | Long {
  if (typeof n === "number") return isInt32(n) ? n || 0 : Long.fromNumber(n);
  return n >= BigInt(INT_MIN) && n <= BigInt(INT_MAX) ? Number(n) : Long.fromBigInt(n);
}

export function fitsLong(n: bigint): boolean {
  return n >= LONG_MIN && n <= LONG_MAX;
}

/** An integer against a double, exactly (NaN below everything). */
function compareIntegerToDouble(n: bigint, x: number): number {
  if (Number.isNaN(x)) return 1;
  if (x === Infinity) return -1;
  if (x === -Infinity) return 1;
  const f = Math.floor(x);
  const whole = BigInt(f);
  if (n !== whole) return n < whole ? -1 : 1;
  return x > f ? -1 : 0;
}

/** The exact value of a number for comparison. */
function exactOf(v: unknown): DecimalValue {
  if (typeof v === "number") return Number.isFinite(v) ? exactDouble(v) : v;
  if (v instanceof Decimal128) return fromDecimal128(v);
  return dec(integerOf(v), 0);
}

/**
 * MongoDB's order of two numbers of any numeric types, exact across types; NaN (a double's or a
 * decimal's) sorts below every other number and equals NaN.
 */
export function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  }
  if (a instanceof Decimal128 || b instanceof Decimal128) return compareDecimals(exactOf(a), exactOf(b));
  if (typeof a === "number") return -compareIntegerToDouble(integerOf(b), a);
  if (typeof b === "number") return compareIntegerToDouble(integerOf(a), b);
  const x = integerOf(a);
  const y = integerOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
