/**
 * Exact decimal arithmetic for money and metered quantities. MongoDB sums vCPU-milliseconds and
 * GiB-milliseconds as Decimal128 (exact while a sum has at most 34 significant digits); this module
 * takes those sums, multiplies them by prices and divides them into hours, seconds and cents with
 * integers only (bigint), rounding once, at the end. A double never holds an intermediate value,
 * so a cost is right to the cent however large it is.
 *
 * A decimal is `coef × 10^exp`. Decimal libraries (decimal.js, big.js) would round a division at a
 * fixed precision, which can put a value on the wrong side of a half cent; a ratio of two bigints
 * does not.
 */
import { Decimal128, Long } from "mongodb";
import { type ExactInt, exactInt } from "./int64.js";

export interface Decimal {
  coef: bigint;
  exp: number;
}

const ZERO: Decimal = { coef: 0n, exp: 0 };

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;

/** A decimal's text (`"12.50"`, `"1.2E+10"`, `"-3e-7"`) as a decimal, or null when it is none (NaN, Infinity). */
function parse(text: string): Decimal | null {
  const m = DECIMAL_TEXT.exec(text);
  if (!m) return null;
  const fraction = m[3] ?? "";
  const coef = BigInt(`${m[2]}${fraction}`);
  return { coef: m[1] === "-" ? -coef : coef, exp: Number(m[4] ?? 0) - fraction.length };
}

/**
 * What a pipeline or a document holds (a Decimal128, a number, a Long, a bigint; null or missing
 * is 0) as an exact decimal. A double counts as the shortest decimal that reads back as it
 * (`String(x)`): the number a person wrote, `0.014` rather than the binary value next to it.
 */
export function toDecimal(v: unknown): Decimal {
  if (v === null || v === undefined) return ZERO;
  if (typeof v === "bigint") return { coef: v, exp: 0 };
  if (Long.isLong(v)) return { coef: v.toBigInt(), exp: 0 };
  const d = typeof v === "number" || v instanceof Decimal128 ? parse(String(v)) : null;
  if (d === null) throw new RangeError(`not a finite decimal: ${String(v)}`);
  return d;
}

export function add(a: Decimal, b: Decimal): Decimal {
  if (a.exp === b.exp) return { coef: a.coef + b.coef, exp: a.exp };
  const [lo, hi] = a.exp < b.exp ? [a, b] : [b, a];
  return { coef: lo.coef + hi.coef * 10n ** BigInt(hi.exp - lo.exp), exp: lo.exp };
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return { coef: a.coef * b.coef, exp: a.exp + b.exp };
}

/** `d` as the ratio num / den of two bigints (den > 0). */
function ratio(d: Decimal): [bigint, bigint] {
  return d.exp >= 0 ? [d.coef * 10n ** BigInt(d.exp), 1n] : [d.coef, 10n ** BigInt(-d.exp)];
}

export type Rounding = "half-up" | "half-even";

/** num / den rounded to an integer (den > 0; half-up is away from zero for negatives). */
function roundRatio(num: bigint, den: bigint, mode: Rounding): bigint {
  const negative = num < 0n;
  const abs = negative ? -num : num;
  let q = abs / den;
  const twice = (abs % den) * 2n;
  if (twice > den || (twice === den && (mode === "half-up" || q % 2n === 1n))) q += 1n;
  return negative ? -q : q;
}

/** `d ÷ divisor` rounded to a whole number: a number while it is a safe integer, a bigint past that. */
export function divideToInteger(d: Decimal, divisor: bigint, mode: Rounding): ExactInt {
  const [num, den] = ratio(d);
  return exactInt(roundRatio(num, den * divisor, mode));
}

/**
 * `d ÷ divisor` rounded to `places` decimal places, as the double nearest that decimal (a JSON
 * number or a GraphQL Float: 15–17 significant digits, so to the millisecond up to 2^53 ms).
 */
export function divideToNumber(d: Decimal, divisor: bigint, places: number, mode: Rounding): number {
  const [num, den] = ratio(d);
  const scaled = roundRatio(num * 10n ** BigInt(places), den * divisor, mode);
  return Number(places === 0 ? `${scaled}` : `${scaled}e-${places}`);
}

/** Significant digits of `d`'s integer part, to check a sum against the precision it was computed in. */
export function magnitude(d: Decimal): number {
  const [num, den] = ratio(d);
  const whole = (num < 0n ? -num : num) / den;
  return whole === 0n ? 0 : whole.toString().length;
}
