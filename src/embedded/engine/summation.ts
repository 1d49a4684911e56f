/**
 * `$sum` and `$avg` as MongoDB computes them (accumulator_sum.cpp, accumulator_avg.cpp,
 * util/summation.h): non-numeric values are ignored; doubles, ints and Longs are added in a
 * double-double (a rounded sum and its error term, Dekker's 2Sum/Fast2Sum), which is exact for
 * integers up to 2^106 and far more accurate than naive addition for fractions (0.1 + 0.2 + 0.3
 * is 0.6); Decimal128 values are added as decimals. The result has the widest type added: only
 * ints → an int (a JS number here, as the engine keeps ints; a Long past 2^53), any Long → a
 * Long (a double if it overflows), any double → a double, any Decimal128 → a Decimal128 (the
 * doubles, ints and Longs then count as their double-double total made a 34-digit decimal, as in
 * MongoDB; the decimal sum is exact and rounded to 34 digits once, where MongoDB rounds each
 * addition, which can differ in the last digit for sums needing more than 34 digits).
 *
 * An int is a JS number that the wire would send as an int32 (a whole number in int32 range);
 * other JS numbers are doubles, as they arrived or would leave.
 */
import { Decimal128, Long, Timestamp } from "bson";
import { type Decimal, dec, digitCount, divide, doubleToDecimal, finish, fromDecimal128, pow10, toDecimal128 } from "./decimal.js";
import { DECIMAL, DOUBLE, INT, isInt, LONG, LONG_MAX, LONG_MIN } from "./numeric.js";

const TWO_32 = 2n ** 32n;

/** A double as MongoDB makes it a Decimal128 for a sum (`Decimal128(double, kRoundTo34Digits)`): 34 significant digits. */
function doubleTo34Digits(x: number): Decimal {
  if (x === 0) return { coef: 0n, exp: 0 };
  const exact = doubleToDecimal(x);
  const d = finish(exact.coef, exact.exp) as Decimal;
  const pad = 34 - digitCount(d.coef);
  return pad > 0 ? { coef: d.coef * pow10(pad), exp: d.exp - pad } : d;
}

/**
 * A sum of decimals: exact (the exponent of the result is the smallest added, as in decimal
 * arithmetic), rounded to 34 digits once at the end where MongoDB rounds each addition; NaN and
 * ±Infinity kept apart.
 */
class DecimalTotal {
  coef = 0n;
  exp = 0;
  private started = false;
  special = 0;

  add(d: Decimal | number): void {
    if (typeof d === "number") {
      this.special += d;
      return;
    }
    if (!this.started) {
      this.coef = d.coef;
      this.exp = d.exp;
      this.started = true;
    } else if (d.exp < this.exp) {
      this.coef = this.coef * pow10(this.exp - d.exp) + d.coef;
      this.exp = d.exp;
    } else {
      this.coef += d.coef * pow10(d.exp - this.exp);
    }
  }

  /**
   * The total divided by `count`, as a Decimal128 (decimal division: an exact quotient keeps the
   * exponent nearest the total's, any other has 34 digits).
   */
  value(count = 1): Decimal128 {
    if (this.special !== 0 || Number.isNaN(this.special)) return toDecimal128(this.special);
    const total = finish(this.coef, this.exp);
    return toDecimal128(count === 1 ? total : divide(total, dec(BigInt(count), 0)));
  }
}

/** The state of one `$sum` or `$avg`. */
export class NumericTotal {
  // The double-double: `sum` is the double nearest the total, `addend` what remains of it;
  // `special` is a plain sum, the answer when the compensated one is NaN (infinities).
  private sum = 0;
  private addend = 0;
  private special = 0;
  /** The widest type added so far. */
  private type = INT;
  private decimal: DecimalTotal | null = null;
  /** How many numbers were added. */
  count = 0;

  add(v: unknown): void {
    if (typeof v === "number") {
      if (this.type === INT && !isInt(v)) this.type = DOUBLE;
      this.addDouble(v);
      this.count++;
    } else if (typeof v === "object" && v !== null && !(v instanceof Timestamp)) {
      if (v instanceof Long) {
        if (this.type < LONG) this.type = LONG;
        // Split into two doubles so the sum stays exact (DoubleDoubleSummation::addLong).
        const x = v.toBigInt();
        const high = (x / TWO_32) * TWO_32;
        this.addDouble(Number(x - high));
        this.addDouble(Number(high));
        this.count++;
      } else if (v instanceof Decimal128) {
        this.type = DECIMAL;
        (this.decimal ??= new DecimalTotal()).add(fromDecimal128(v));
        this.count++;
      }
    }
  }

  private addDouble(v: number): void {
    this.special += v;
    // Fast2Sum(x, addend)
    let s = v + this.addend;
    const z = s - v;
    this.addend = this.addend - z;
    const x = s;
    // 2Sum(sum, x)
    s = this.sum + x;
    const aPrime = s - x;
    const bPrime = s - aPrime;
    const t = this.sum - aPrime + (x - bPrime);
    this.sum = s;
    this.addend += t;
  }

  /** The double nearest the total. */
  private double(): number {
    return Number.isNaN(this.sum) ? this.special : this.sum;
  }

  /** The exact integer total, when it is one and fits a Long. */
  private exactLong(): bigint | null {
    if (!Number.isFinite(this.sum) || !Number.isInteger(this.sum) || !Number.isInteger(this.addend)) return null;
    const total = BigInt(this.sum) + BigInt(this.addend);
    return total >= LONG_MIN && total <= LONG_MAX ? total : null;
  }

  /** `$sum`'s answer. */
  total(): unknown {
    if (this.type === DECIMAL) return this.decimalTotal().value();
    if (this.type === DOUBLE) return this.double();
    if (this.type === INT && this.addend === 0 && Number.isSafeInteger(this.sum)) return this.sum === 0 ? 0 : this.sum;
    const exact = this.exactLong();
    if (exact === null) return this.double();
    if (this.type === INT && exact >= -BigInt(Number.MAX_SAFE_INTEGER) && exact <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(exact);
    return Long.fromBigInt(exact);
  }

  /** `$avg`'s answer: null when no number was added. */
  average(): unknown {
    if (this.count === 0) return null;
    if (this.type === DECIMAL) return this.decimalTotal().value(this.count);
    return this.double() / this.count;
  }

  /** A total holding a double-double state built elsewhere (NumericColumn). */
  static fromParts(sum: number, addend: number, special: number, type: number, count: number): NumericTotal {
    const t = new NumericTotal();
    t.sum = sum;
    t.addend = addend;
    t.special = special;
    t.type = type;
    t.count = count;
    return t;
  }

  /** The decimal part plus the double-double part, exactly. */
  private decimalTotal(): DecimalTotal {
    const total = new DecimalTotal();
    if (!Number.isFinite(this.sum)) total.add(this.double());
    else if (this.sum !== 0) {
      total.add(doubleTo34Digits(this.sum));
      if (this.addend !== 0) total.add(doubleTo34Digits(this.addend));
    }
    const decimal = this.decimal!;
    if (decimal.special !== 0 || Number.isNaN(decimal.special)) total.add(decimal.special);
    total.add({ coef: decimal.coef, exp: decimal.exp });
    return total;
  }
}

/**
 * Many NumericTotals side by side, one per slot (a `$group`'s groups), in typed arrays: the same
 * arithmetic without an object and its boxed doubles per group, which with tens of thousands of
 * groups is most of what `$group` keeps alive. A slot that is given a Long or a Decimal128 goes on
 * as a NumericTotal of its own.
 */
export class NumericColumn {
  private sum = new Float64Array(64);
  private addend = new Float64Array(64);
  private special = new Float64Array(64);
  private count = new Float64Array(64);
  private type = new Uint8Array(64);
  private size = 0;
  private wide: Map<number, NumericTotal> | null = null;

  /** A new slot (a new total of zero). */
  open(): number {
    if (this.size === this.sum.length) {
      const grow = <T extends Float64Array | Uint8Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.sum = grow(this.sum);
      this.addend = grow(this.addend);
      this.special = grow(this.special);
      this.count = grow(this.count);
      this.type = grow(this.type);
    }
    return this.size++;
  }

  add(slot: number, v: unknown): void {
    const wide = this.wide?.get(slot);
    if (wide) {
      wide.add(v);
      return;
    }
    if (typeof v === "number") {
      if (this.type[slot] === INT && !isInt(v)) this.type[slot] = DOUBLE;
      // NumericTotal.addDouble, on the slot's arrays.
      this.special[slot]! += v;
      let s = v + this.addend[slot]!;
      const z = s - v;
      let addend = this.addend[slot]! - z;
      const x = s;
      const sum = this.sum[slot]!;
      s = sum + x;
      const aPrime = s - x;
      const bPrime = s - aPrime;
      const t = sum - aPrime + (x - bPrime);
      this.sum[slot] = s;
      addend += t;
      this.addend[slot] = addend;
      this.count[slot]! += 1;
    } else if (typeof v === "object" && v !== null && (v instanceof Long || v instanceof Decimal128)) {
      const total = this.totalOf(slot);
      (this.wide ??= new Map()).set(slot, total);
      total.add(v);
    }
  }

  private totalOf(slot: number): NumericTotal {
    return this.wide?.get(slot) ?? NumericTotal.fromParts(this.sum[slot]!, this.addend[slot]!, this.special[slot]!, this.type[slot]!, this.count[slot]!);
  }

  /** `$sum`'s answer for the slot. */
  total(slot: number): unknown {
    return this.totalOf(slot).total();
  }

  /** `$avg`'s answer for the slot. */
  average(slot: number): unknown {
    return this.totalOf(slot).average();
  }
}
