/**
 * Decimal128 values and arithmetic as MongoDB computes them (platform/decimal128.cpp over the
 * Intel decimal library: IEEE 754-2008 decimal128), shared by the arithmetic and conversion
 * operators, `$sum`/`$avg` (summation.ts), equality (equality.ts) and ordering (numeric.ts).
 *
 * A finite value is coefficient × 10^exponent with a BigInt coefficient (signed; a zero's sign is
 * `neg`, since a BigInt zero has none), NaN and ±Infinity are the JS numbers. Every result is
 * the exact one rounded once (`finish`): to 34 significant digits, half to even unless another
 * mode is asked, with the exponent kept in [-6176, 6111] (a value below is rounded at 10^-6176, a
 * larger exponent is brought down by padding the coefficient with zeros when it has room, else
 * the result is infinite). An exact result keeps IEEE's preferred exponent: the smaller one for
 * `add`/`subtract` (2.50 + 1 is 3.50), their sum for `multiply` (2.50 × 2 is 5.00), their
 * difference for `divide` when the quotient is exact there, or the nearest below it that makes it
 * exact (1 / 4 is 0.25), else 34 digits. Decimal128 objects are read and written by their 16
 * bytes, not their strings.
 */
import { Decimal128 } from "bson";

/** A finite decimal value: coefficient × 10^exponent; `neg` is the sign of a zero coefficient. */
export interface Decimal {
  coef: bigint;
  exp: number;
  neg?: boolean;
}

/** A Decimal128's value: finite, or NaN, Infinity or -Infinity. */
export type DecimalValue = Decimal | number;

/** How a result is rounded to its digits: half to even, toward zero, toward -∞, toward +∞. */
export type Rounding = "halfEven" | "down" | "floor" | "ceiling";

export const MAX_DIGITS = 34;
export const EXP_MIN = -6176;
export const EXP_MAX = 6111;
const BIAS = 6176;

const POW10: bigint[] = [1n];
for (let i = 1; i <= 80; i++) POW10.push(POW10[i - 1]! * 10n);

export function pow10(n: number): bigint {
  return n < POW10.length ? POW10[n]! : 10n ** BigInt(n);
}

const COEF_LIMIT = pow10(MAX_DIGITS);

/** How many decimal digits |n| has (1 for 0). */
export function digitCount(n: bigint): number {
  return (n < 0n ? -n : n).toString().length;
}

function abs(n: bigint): bigint {
  return n < 0n ? -n : n;
}

export function dec(coef: bigint, exp: number, negativeZero = false): Decimal {
  return { coef, exp, neg: coef === 0n && negativeZero };
}

/** Whether a finite value is negative, a negative zero included. */
export function isNegative(d: Decimal): boolean {
  return d.coef < 0n || (d.coef === 0n && d.neg === true);
}

/** What rounding signalled, when a caller needs to know (string parsing). */
export interface Flags {
  inexact: boolean;
  overflow: boolean;
  underflow: boolean;
}

/** |n| / 10^drop rounded by `mode` (`negative`: the value's sign, for the directed modes). */
function shiftRound(n: bigint, drop: number, mode: Rounding, negative: boolean): { q: bigint; inexact: boolean } {
  if (drop <= 0) return { q: n * pow10(-drop), inexact: false };
  if (n === 0n) return { q: 0n, inexact: false };
  if (drop > digitCount(n) + 1) {
    // Below a tenth of the last kept digit: only a directed mode away from zero keeps a unit.
    const away = (mode === "floor" && negative) || (mode === "ceiling" && !negative);
    return { q: away ? 1n : 0n, inexact: true };
  }
  const unit = pow10(drop);
  let q = n / unit;
  const r = n % unit;
  if (r === 0n) return { q, inexact: false };
  if (mode === "halfEven") {
    const twice = r * 2n;
    if (twice > unit || (twice === unit && (q & 1n) === 1n)) q += 1n;
  } else if ((mode === "floor" && negative) || (mode === "ceiling" && !negative)) q += 1n;
  return { q, inexact: true };
}

/**
 * The exact value `coef` × 10^`exp` (any size) as a Decimal128 value: rounded by `mode` to 34
 * digits and to the exponent range, as every decimal operation ends. `negativeZero` is the sign
 * of a zero result.
 */
export function finish(coef: bigint, exp: number, negativeZero = false, mode: Rounding = "halfEven", flags?: Flags): DecimalValue {
  const negative = coef < 0n || (coef === 0n && negativeZero);
  let a = abs(coef);
  const n = a === 0n ? 1 : digitCount(a);
  const drop = Math.max(n - MAX_DIGITS, EXP_MIN - exp, 0);
  if (drop > 0) {
    const r = shiftRound(a, drop, mode, negative);
    a = r.q;
    if (r.inexact && flags) {
      flags.inexact = true;
      if (EXP_MIN - exp > n - MAX_DIGITS) flags.underflow = true;
    }
    exp += drop;
    if (a === COEF_LIMIT) {
      a /= 10n;
      exp++;
    }
  }
  if (exp > EXP_MAX) {
    if (a === 0n) exp = EXP_MAX;
    else if (digitCount(a) + exp - EXP_MAX <= MAX_DIGITS) {
      a *= pow10(exp - EXP_MAX);
      exp = EXP_MAX;
    } else {
      if (flags) flags.overflow = flags.inexact = true;
      const toLargest = mode === "down" || (mode === "floor" && !negative) || (mode === "ceiling" && negative);
      if (!toLargest) return negative ? -Infinity : Infinity;
      return dec(negative ? -(COEF_LIMIT - 1n) : COEF_LIMIT - 1n, EXP_MAX);
    }
  }
  return dec(negative ? -a : a, exp, negative);
}

/** The same value with no trailing zeros in the coefficient (0 has exponent 0). */
export function normalizeDecimal(d: Decimal): Decimal {
  let { coef, exp } = d;
  if (coef === 0n) return { coef: 0n, exp: 0 };
  while (coef % 10n === 0n) {
    coef /= 10n;
    exp++;
  }
  return { coef, exp };
}

/* ------------------------------------------------------------------------------------------------
 * Decimal128 objects
 * ---------------------------------------------------------------------------------------------- */

const MASK64 = (1n << 64n) - 1n;

/** The value of a Decimal128, read from its bytes (BID encoding; a non-canonical coefficient is 0). */
export function fromDecimal128(d: Decimal128): DecimalValue {
  const b = d.bytes;
  const view = new DataView(b.buffer, b.byteOffset, 16);
  const hi = view.getUint32(12, true);
  const negative = hi >>> 31 === 1;
  const combination = (hi >>> 26) & 0x1f;
  if (combination === 0x1f) return NaN;
  if (combination === 0x1e) return negative ? -Infinity : Infinity;
  let exp: number;
  let coef: bigint;
  if (((hi >>> 29) & 3) === 3) {
    // The "11" form: a coefficient of at least 2^113, which is over 34 digits: non-canonical, 0.
    exp = ((hi >>> 15) & 0x3fff) - BIAS;
    coef = 0n;
  } else {
    exp = ((hi >>> 17) & 0x3fff) - BIAS;
    const high = BigInt(hi & 0x1ffff) * 2n ** 32n + BigInt(view.getUint32(8, true));
    coef = (high << 64n) | view.getBigUint64(0, true);
    if (coef >= COEF_LIMIT) coef = 0n;
  }
  return dec(negative ? -coef : coef, exp, negative);
}

/** A Decimal128 holding `v` (a value `finish` produced: at most 34 digits, exponent in range). */
export function toDecimal128(v: DecimalValue): Decimal128 {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  if (typeof v === "number") {
    view.setUint32(12, Number.isNaN(v) ? 0x7c000000 : v > 0 ? 0x78000000 : 0xf8000000, true);
    return new Decimal128(bytes);
  }
  const a = abs(v.coef);
  view.setBigUint64(0, a & MASK64, true);
  const high = (BigInt(v.exp + BIAS) << 49n) | (a >> 64n);
  view.setBigUint64(8, isNegative(v) ? high | (1n << 63n) : high, true);
  return new Decimal128(bytes);
}

/* ------------------------------------------------------------------------------------------------
 * Doubles
 * ---------------------------------------------------------------------------------------------- */

/** The exact value of a finite double: its binary mantissa times 5^-e makes the decimal digits. */
export function exactDouble(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (biased === 0) e = -1074;
  else {
    mantissa |= 1n << 52n;
    e = biased - 1075;
  }
  const negative = hi >>> 31 === 1;
  let coef: bigint;
  let exp = 0;
  if (e >= 0) coef = mantissa << BigInt(e);
  else {
    // m·2^e = m·5^(−e)·10^e
    coef = mantissa * 5n ** BigInt(-e);
    exp = e;
  }
  return dec(negative ? -coef : coef, exp, negative);
}

/** The exact value of a finite double, without trailing zeros. */
export function doubleToDecimal(x: number): Decimal {
  return normalizeDecimal(exactDouble(x));
}

/**
 * A double as MongoDB makes it a Decimal128 (`Decimal128(double)`, Value::coerceToDecimal, `$toDecimal`):
 * its exact value rounded half to even to 34 digits (binary64_to_bid128), then to exactly 15
 * significant digits, so 2.5 is 2.50000000000000 and 0.1 is 0.100000000000000. Zeros, NaN and
 * infinities are kept (0 is 0E+0, -0 is -0E+0).
 */
export function doubleTo15Digits(x: number): DecimalValue {
  if (!Number.isFinite(x)) return x;
  if (x === 0) return dec(0n, 0, Object.is(x, -0));
  const exact = exactDouble(x);
  const d = finish(exact.coef, exact.exp) as Decimal;
  const negative = d.coef < 0n;
  const a = abs(d.coef);
  const n = digitCount(a);
  let q: bigint;
  let exp = d.exp;
  if (n > 15) {
    q = shiftRound(a, n - 15, "halfEven", negative).q;
    exp += n - 15;
    if (q === pow10(15)) {
      q /= 10n;
      exp++;
    }
  } else {
    q = a * pow10(15 - n);
    exp -= 15 - n;
  }
  return dec(negative ? -q : q, exp);
}

/** A decimal value as the nearest double (bid128_to_binary64, half to even). */
export function decimalToDouble(v: DecimalValue): number {
  if (typeof v === "number") return v;
  if (v.coef === 0n) return isNegative(v) ? -0 : 0;
  return Number(`${v.coef}e${v.exp}`);
}

/**
 * A decimal value as an integer by `mode` (Decimal128::toLong/toInt), or null where the library
 * signals an invalid operation: NaN, an infinity, or a result outside [min, max].
 */
export function decimalToInteger(v: DecimalValue, mode: Rounding, min: bigint, max: bigint): bigint | null {
  if (typeof v === "number") return null;
  // Past 10^40 it is out of any int64 anyway: no need to build the power.
  if (v.exp > 0 && v.coef !== 0n && v.exp + digitCount(v.coef) > 40) return null;
  const negative = v.coef < 0n;
  const q = shiftRound(abs(v.coef), -v.exp, mode, negative).q;
  const n = negative ? -q : q;
  return n < min || n > max ? null : n;
}

/* ------------------------------------------------------------------------------------------------
 * Arithmetic
 * ---------------------------------------------------------------------------------------------- */

export function negate(v: DecimalValue): DecimalValue {
  if (typeof v === "number") return -v;
  return dec(-v.coef, v.exp, !isNegative(v));
}

export function add(a: DecimalValue, b: DecimalValue): DecimalValue {
  if (typeof a === "number" || typeof b === "number") {
    // NaN wins; ∞ + −∞ is NaN; an infinity absorbs any finite value.
    return (typeof a === "number" ? a : 0) + (typeof b === "number" ? b : 0);
  }
  const e = Math.min(a.exp, b.exp);
  const sum = a.coef * pow10(a.exp - e) + b.coef * pow10(b.exp - e);
  // An exact zero is negative only when both operands are (round half to even).
  return finish(sum, e, sum === 0n && isNegative(a) && isNegative(b));
}

export function subtract(a: DecimalValue, b: DecimalValue): DecimalValue {
  return add(a, negate(b));
}

function signOf(v: DecimalValue): boolean {
  return typeof v === "number" ? v < 0 : isNegative(v);
}

export function multiply(a: DecimalValue, b: DecimalValue): DecimalValue {
  const negative = signOf(a) !== signOf(b);
  if (typeof a === "number" || typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
    const zero = (typeof a !== "number" && a.coef === 0n) || (typeof b !== "number" && b.coef === 0n);
    if (zero) return NaN;
    return negative ? -Infinity : Infinity;
  }
  return finish(a.coef * b.coef, a.exp + b.exp, negative);
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a / b; a zero divisor answers as IEEE does (callers refuse it first, as MongoDB does). */
export function divide(a: DecimalValue, b: DecimalValue): DecimalValue {
  const negative = signOf(a) !== signOf(b);
  if (typeof a === "number" || typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
    if (typeof a === "number") return typeof b === "number" ? NaN : negative ? -Infinity : Infinity;
    // finite / ∞: a zero at the smallest exponent.
    return dec(0n, EXP_MIN, negative);
  }
  if (b.coef === 0n) return a.coef === 0n ? NaN : negative ? -Infinity : Infinity;
  const ideal = a.exp - b.exp;
  if (a.coef === 0n) return finish(0n, ideal, negative);
  const x = abs(a.coef);
  const y = abs(b.coef);
  // Exact when y / gcd(x, y) has no prime factor but 2 and 5: then with k extra digits.
  let rest = y / gcd(x, y);
  let twos = 0;
  let fives = 0;
  while ((rest & 1n) === 0n) {
    rest >>= 1n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest === 1n) {
    const k = Math.max(twos, fives);
    const q = (x * pow10(k)) / y;
    if (digitCount(q) <= MAX_DIGITS) return finish(negative ? -q : q, ideal - k, negative);
  }
  // Inexact (or exact in more than 34 digits): at least 36 digits, and a sticky digit for the rest.
  const scale = Math.max(0, 36 - (digitCount(x) - digitCount(y)));
  const n = x * pow10(scale);
  let q = n / y;
  let exp = ideal - scale;
  if (n % y !== 0n) {
    q = q * 10n + 1n;
    exp--;
  }
  return finish(negative ? -q : q, exp, negative);
}

/**
 * `v` with exponent `exp` (IEEE quantize), rounding by `mode`: NaN for NaN, for an infinity, or
 * when the coefficient would need more than 34 digits.
 */
export function quantize(v: DecimalValue, exp: number, mode: Rounding): DecimalValue {
  if (typeof v === "number") return NaN;
  const negative = isNegative(v);
  let q: bigint;
  if (v.exp >= exp) q = abs(v.coef) * pow10(v.exp - exp);
  else q = shiftRound(abs(v.coef), exp - v.exp, mode, negative).q;
  if (q >= COEF_LIMIT) return NaN;
  return dec(negative ? -q : q, exp, negative);
}

/**
 * Decimal128::quantize as `$round` calls it (with the reference 1E`exp`): when the result would
 * need more than 34 digits, the value itself with a 34-digit coefficient (Decimal128::normalize,
 * which adds 0E-6176) instead of NaN. `$floor`/`$ceil` quantize to 0E+0, a zero reference, for
 * which MongoDB skips that step: use `quantize`.
 */
export function quantizeToPlaces(v: DecimalValue, exp: number, mode: Rounding): DecimalValue {
  if (typeof v !== "number" && v.coef !== 0n && v.exp + digitCount(v.coef) - exp > MAX_DIGITS) return add(v, dec(0n, EXP_MIN));
  return quantize(v, exp, mode);
}

/** Numeric order of two values; NaN sorts below every other value and equals NaN (as in MongoDB). */
export function compareDecimals(a: DecimalValue, b: DecimalValue): number {
  if (typeof a === "number" || typeof b === "number") {
    const x = typeof a === "number" ? a : 0;
    const y = typeof b === "number" ? b : 0;
    if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
    if (Number.isNaN(y)) return 1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const sa = a.coef < 0n ? -1 : a.coef > 0n ? 1 : 0;
  const sb = b.coef < 0n ? -1 : b.coef > 0n ? 1 : 0;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  // Same sign: by magnitude (the exponent of the leading digit), then digit by digit.
  const ma = a.exp + digitCount(a.coef);
  const mb = b.exp + digitCount(b.coef);
  if (ma !== mb) return (ma < mb ? -1 : 1) * sa;
  const e = Math.min(a.exp, b.exp);
  const x = a.coef * pow10(a.exp - e);
  const y = b.coef * pow10(b.exp - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------------
 * Strings
 * ---------------------------------------------------------------------------------------------- */

const DECIMAL_STRING = /^([+-])?(?:(\d+)\.?(\d*)|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const SPECIAL_STRING = /^([+-])?(?:(nan)|(inf|infinity))$/i;

/**
 * A string as NumberParser makes it a Decimal128 (`$toDecimal`, `$convert`): the forms
 * Decimal128's validateInputString accepts (`[+-]digits[.digits][e[+-]digits]`, `.5`, `5.`, NaN,
 * Inf, Infinity, any case; no spaces), more than 34 digits rounded toward zero (NumberParser's
 * mode), a value that overflows or underflows refused. The reason for a refusal is returned as a
 * string, in MongoDB's words.
 */
export function parseDecimalString(s: string): DecimalValue | string {
  if (s === "") return "Empty string";
  const special = SPECIAL_STRING.exec(s);
  if (special) return special[2] ? NaN : special[1] === "-" ? -Infinity : Infinity;
  const m = DECIMAL_STRING.exec(s);
  if (!m) return "Failed to parse string to decimal";
  const whole = m[2] ?? "";
  const fraction = m[3] ?? m[4] ?? "";
  const coef = BigInt(whole + fraction || "0");
  const negative = m[1] === "-";
  // Exponents far outside the range only matter by their sign (the coefficient has few digits).
  const written = m[5] === undefined ? 0 : Math.max(-1e7, Math.min(1e7, Number(m[5])));
  const flags: Flags = { inexact: false, overflow: false, underflow: false };
  const v = finish(negative ? -coef : coef, written - fraction.length, negative, "down", flags);
  if (coef === 0n) return v;
  if (flags.overflow) return "Conversion from string to decimal would overflow";
  if (flags.underflow) return "Conversion from string to decimal would underflow";
  return v;
}
