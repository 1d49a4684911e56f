/**
 * `$round` of a double exactly as MongoDB computes it (ExpressionRound, evaluateRoundOrTrunc): the
 * double is converted to a Decimal128 of 34 significant digits, quantized to `places` decimals
 * rounding half to even, and converted back to the nearest double. So `{$round: [2.5, 0]}` is 2,
 * `{$round: [3.5, 0]}` is 4, and `{$round: [1.235, 2]}` is 1.24 because the double written 1.235
 * is 1.2350000000000000977 (while 2.675 is 2.67499999999999982236431605997495353221893310546875,
 * which rounds to 2.67). A value with fewer than `places` decimals is unchanged.
 *
 * The common case never leaves doubles: x·10^places is computed with its exact rounding error
 * (Dekker's product), which decides on which side of the halfway point the exact value lies, and
 * the rounded integer divided by 10^places is the double nearest the decimal result (one correctly
 * rounded division of two exact doubles). Everything else (large values, many places, negative
 * places) is computed exactly on the double's decimal expansion with BigInt.
 */
import { exactDouble } from "./decimal.js";

const POW10: number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** 2^27 + 1: splits a double into two halves whose products are exact (Veltkamp). */
const SPLIT = 134217729;
const FAST_LIMIT = 2 ** 50;

/** The rounding error of the double product p = fl(a·b): a·b = p + error exactly. */
function productError(a: number, b: number, p: number): number {
  const ca = SPLIT * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = SPLIT * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** `x` rounded half to even to `places` decimals (-20..100), as MongoDB rounds a double. */
export function roundDouble(x: number, places: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (places >= 0 && places <= 15) {
    const scale = POW10[places]!;
    const s = a * scale;
    if (s < FAST_LIMIT) {
      const error = places === 0 ? 0 : productError(a, scale, s);
      const whole = Math.floor(s);
      // The sign of (exact a·scale) − (whole + ½): s − whole − ½ is exact where it matters.
      const d = s - whole - 0.5 + error;
      const n = d > 0 ? whole + 1 : d < 0 ? whole : whole % 2 === 0 ? whole : whole + 1;
      const r = n / scale;
      return x < 0 ? -r : r;
    }
  }
  return roundExactly(x, places);
}

/** n / d rounded half to even (n ≥ 0, d > 0). */
export function divideHalfEven(n: bigint, d: bigint): bigint {
  const q = n / d;
  const twice = (n % d) * 2n;
  if (twice > d || (twice === d && q % 2n === 1n)) return q + 1n;
  return q;
}

/** The same rounding computed on the exact decimal expansion, whatever the value (exported for tests). */
export function roundExactly(x: number, places: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const exact = exactDouble(Math.abs(x));
  let digits = exact.coef;
  let exponent = exact.exp;
  // Decimal128(double, kRoundTo34Digits): 34 significant digits, half to even.
  const length = digits.toString().length;
  if (length > 34) {
    const drop = length - 34;
    digits = divideHalfEven(digits, 10n ** BigInt(drop));
    exponent += drop;
  }
  // quantize: a value that has no digit below 10^−places stays as it is.
  if (exponent >= -places) return x;
  const q = divideHalfEven(digits, 10n ** BigInt(-places - exponent));
  const r = Number(`${q}e${-places}`);
  return x < 0 ? -r : r;
}

/** An integer rounded half to even at 10^(−places) for places < 0 (MongoDB's int and long path). */
export function roundInteger(n: bigint, places: number): bigint {
  if (places >= 0) return n;
  const unit = 10n ** BigInt(-places);
  const negative = n < 0n;
  const q = divideHalfEven(negative ? -n : n, unit) * unit;
  return negative ? -q : q;
}
